package backfill

import (
	"context"
	"errors"
	"fmt"

	"github.com/certstream-arrow/certstream-arrow/coverage"
	"github.com/certstream-arrow/certstream-arrow/ctlog"
)

// ErrUnknownLog marks a source_url that the log list does not know. Its rows
// are reported, never attributed to a guessed log.
var ErrUnknownLog = errors.New("log not in the log list")

// LogPlan is what Fill will fetch from one log: coverage's plan (holes of the
// range the archive owes, against the log's verified tree size) and what
// Plan learnt of the log. A LogPlan with Err set is reported and skipped.
type LogPlan struct {
	coverage.Plan

	Name     string   `json:"source_name"`              // the list's description: source_name of the rows
	LogURL   string   `json:"log_url"`                  // the list's URL of the log ("" when unknown)
	Tiled    bool     `json:"static_ct"`                // a static-CT log
	TreeSize int64    `json:"tree_size"`                // of the verified head planned against
	Since    int64    `json:"since"`                    // the resolved --since, or -1
	Rows     int64    `json:"dataset_rows"`             // rows the dataset holds of the log, all spellings
	Also     []string `json:"also_stored_as,omitempty"` // other source_url spellings of the log in the dataset, merged
	Err      error    `json:"-"`
	Error    string   `json:"error,omitempty"`

	client *ctlog.Client
	tree   ctlog.Tree
}

// target is one log to plan: the list's log, the source_url its rows carry,
// and every spelling of it the dataset holds.
type target struct {
	url   string
	log   *ctlog.Log
	spell []*coverage.Log
	err   error
}

// Plan scans the published files under opts.Root, matches each log to the
// list, fetches and verifies its head, and returns what Fill must fetch, one
// LogPlan per log: those it can fill first, then unknown and failed ones
// (Err set). Call it after opening the Dataset Fill will write to, so that
// rows salvaged from a killed backfill count as held. The error is for a
// dataset that cannot be read; a log's failure is in its LogPlan.
func Plan(ctx context.Context, opts Options) ([]LogPlan, error) {
	opts = opts.withDefaults()
	if opts.List == nil {
		return nil, errors.New("backfill: no log list")
	}
	scan := opts.Scan
	if scan == nil {
		scan = coverage.Scan
	}
	cov, unreadable, err := scan(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("coverage of %s: %w", opts.Root, err)
	}
	for _, f := range unreadable {
		opts.Logger.Warn("unreadable file: its rows count as missing", "path", f.Path, "err", f.Err)
	}
	var plans []LogPlan
	for _, t := range targets(cov, opts) {
		plans = append(plans, planLog(ctx, t, opts))
	}
	limit(plans, opts.MaxEntries)
	return sortPlans(plans), ctx.Err()
}

// targets groups the dataset's source_urls by the log the list says they
// name, keeps those opts.Logs selects, and adds selected logs the dataset
// does not hold yet (their rows will carry the name as given).
func targets(cov *coverage.Dataset, opts Options) []*target {
	var all []*target
	byLog := map[*ctlog.Log]*target{}
	byURL := map[string]*target{}
	for _, cl := range cov.Logs() {
		lg, err := lookup(opts.List, cl.URL)
		t := byLog[lg]
		if err != nil {
			t = &target{url: cl.URL, err: err}
		} else if t == nil {
			t = &target{url: cl.URL, log: lg}
			byLog[lg] = t
		}
		if t.spell = append(t.spell, cl); len(t.spell) == 1 {
			all = append(all, t)
		} else if cl.Rows > cov.Log(t.url).Rows {
			t.url = cl.URL // the spelling that holds most rows names new rows
		}
		byURL[cl.URL] = t
	}
	if len(opts.Logs) == 0 {
		return all
	}
	var sel []*target
	seen := map[*target]bool{}
	for _, name := range opts.Logs {
		t := byURL[name]
		if t == nil {
			lg, err := lookup(opts.List, name)
			switch {
			case err != nil:
				t = &target{url: name, err: err}
			case byLog[lg] != nil:
				t = byLog[lg]
			default:
				t = &target{url: name, log: lg}
				byLog[lg] = t
			}
		}
		if !seen[t] {
			seen[t] = true
			sel = append(sel, t)
		}
	}
	return sel
}

// lookup finds the log the list says sourceURL names. A URL the list does
// not know, or that two of its logs claim, is ErrUnknownLog: never guessed.
func lookup(list *ctlog.List, sourceURL string) (*ctlog.Log, error) {
	lg, ok := list.Lookup(sourceURL)
	if !ok {
		return nil, fmt.Errorf("%s: %w", sourceURL, ErrUnknownLog)
	}
	return lg, nil
}

// head makes the one client a walk of lg uses (its limits and caches shared
// by every fetch of the walk) and fetches the verified tree head the walk
// reads against.
func head(ctx context.Context, lg *ctlog.Log, opts ctlog.Options) (*ctlog.Client, ctlog.Tree, error) {
	c := ctlog.NewClient(lg, opts)
	tree, err := c.Head(ctx)
	return c, tree, err
}

func rows(ls []*coverage.Log) int64 {
	var n int64
	for _, l := range ls {
		n += l.Rows
	}
	return n
}

// planLog heads one log and plans its holes.
func planLog(ctx context.Context, t *target, opts Options) LogPlan {
	p := LogPlan{Since: noSince, Rows: rows(t.spell)}
	p.SourceURL = t.url
	for _, s := range t.spell {
		if s.URL != t.url {
			p.Also = append(p.Also, s.URL)
		}
	}
	if t.err != nil {
		return p.failed(t.err)
	}
	p.Name, p.LogURL, p.Tiled = t.log.Description, t.log.URL, t.log.Tiled
	c, tree, err := head(ctx, t.log, opts.Client)
	p.client = c
	if err != nil {
		return p.failed(err)
	}
	p.tree, p.TreeSize = tree, tree.Size
	size := tree.Size
	if opts.To > 0 && opts.To < size {
		size = opts.To
	}
	if p.Since, err = resolveSince(ctx, p.client, tree, opts.Since, opts.Now()); err != nil {
		return p.failed(fmt.Errorf("resolve --since %s: %w", opts.Since, err))
	}
	merged := merge(t)
	p.Plan = merged.Plan(p.Since, size)
	p.SourceURL = t.url
	return p
}

func (p LogPlan) failed(err error) LogPlan {
	p.Err, p.Error = err, err.Error()
	p.Holes = []coverage.Range{}
	return p
}

// merge returns one coverage.Log holding the indexes of every spelling of
// t's log, so that a log stored under two source_urls is not fetched twice.
func merge(t *target) *coverage.Log {
	switch len(t.spell) {
	case 0:
		return nil
	case 1:
		return t.spell[0]
	}
	m := &coverage.Log{URL: t.url}
	for _, s := range t.spell {
		m.Indexes.Merge(&s.Indexes)
	}
	return m
}

// limit cuts the plans to max entries in all, in order; max 0 is no cap.
func limit(plans []LogPlan, max int64) {
	if max <= 0 {
		return
	}
	for i := range plans {
		p := &plans[i]
		p.Plan = p.Plan.Limit(max)
		max -= p.Missing
	}
}

// sortPlans puts the plans Fill can act on first, keeping their order.
func sortPlans(plans []LogPlan) []LogPlan {
	var ok, bad []LogPlan
	for _, p := range plans {
		if p.Err != nil {
			bad = append(bad, p)
		} else {
			ok = append(ok, p)
		}
	}
	return append(ok, bad...)
}
