package backfill

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/ctlog"
	"github.com/certstream-arrow/certstream-arrow/ctrow"
	"github.com/certstream-arrow/certstream-arrow/stream"
)

// chunkSize is how many rows a log's walker hands to the writer at once.
const chunkSize = 512

// errGrace stops a log's walk at its first entry younger than Options.Grace.
var errGrace = errors.New("entry within the grace period")

// LogSummary is what Fill did for one log.
type LogSummary struct {
	SourceURL string        `json:"source_url"`
	Name      string        `json:"source_name"`
	Held      int64         `json:"held_before"` // distinct indexes held within the range owed, before
	Planned   int64         `json:"planned"`     // entries the plan asked for
	Fetched   int64         `json:"fetched"`     // entries the log handed back, verified
	Rows      int64         `json:"rows"`        // rows appended: published once the Dataset is closed
	Partial   int64         `json:"partial"`     // of those, rows whose certificate extensions were unreadable
	Unusable  int64         `json:"unusable"`    // entries no row could be made of (not a certificate)
	Deferred  int64         `json:"deferred"`    // planned entries left for later: younger than Grace
	Skipped   bool          `json:"skipped"`     // not filled: unknown log, or its head failed
	Requests  int64         `json:"requests"`    // HTTP requests to the log, retries and Plan's included
	Throttled int64         `json:"throttled"`   // answers 429 or 503
	Retries   int64         `json:"retries"`
	Err       error         `json:"-"`
	Error     string        `json:"error,omitempty"`
	Duration  time.Duration `json:"duration"`
}

// Summary is what Fill did, per log in plan order.
type Summary struct {
	Logs     []LogSummary  `json:"logs"`
	Fetched  int64         `json:"fetched"`
	Rows     int64         `json:"rows"`
	Duration time.Duration `json:"duration"`
}

// chunk is rows of one log on their way to the writer.
type chunk struct {
	log  int
	rows []*stream.Update
}

// Fill fetches every hole of plans and appends a row for each entry to ds,
// which must have been opened on opts.Root before Plan ran, with a collector
// of its own. It ticks ds while it runs but does not close it: rows are
// published when the caller closes ds (or as ds rotates and ends hours).
//
// Logs are walked concurrently, one goroutine each, within each log's rate
// limits; ds is used from the calling goroutine only. A log whose walk fails
// (a fetch that exhausts its retries, data that does not verify) keeps the
// rows it had before the failure, goes on with its next hole, and is named in
// the returned error; the other logs go on, and so does a log whose head
// failed in Plan (skipped, and named in the error). A log the list does not
// know is skipped and reported in the Summary, not an error. When ctx is cancelled Fill stops
// and returns ctx's error with what it did so far.
func Fill(ctx context.Context, ds *archive.Dataset, plans []LogPlan, opts Options) (Summary, error) {
	opts = opts.withDefaults()
	start := opts.Now()
	sum := Summary{Logs: make([]LogSummary, len(plans))}
	if opts.Progress == nil {
		opts.Progress = &Progress{}
	}
	out := make(chan chunk, 4)
	var wg sync.WaitGroup
	for i := range plans {
		p := &plans[i]
		ls := &sum.Logs[i]
		*ls = LogSummary{SourceURL: p.SourceURL, Name: p.Name, Held: p.Held, Planned: p.Missing, Err: p.Err, Skipped: p.Err != nil}
		if p.Err != nil || p.Missing == 0 {
			continue
		}
		opts.Progress.Total.Add(p.Missing)
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := walker{plan: p, sum: ls, out: out, log: i, opts: opts}
			w.run(ctx)
		}()
	}
	go func() { wg.Wait(); close(out) }()
	write(ds, out, sum.Logs, opts)
	var errs []error
	for i := range sum.Logs {
		ls := &sum.Logs[i]
		sum.Fetched += ls.Fetched
		sum.Rows += ls.Rows
		if ls.Err != nil {
			ls.Error = ls.Err.Error()
			if !errors.Is(ls.Err, ErrUnknownLog) {
				errs = append(errs, fmt.Errorf("backfill %s: %w", ls.SourceURL, ls.Err))
			}
		}
	}
	sum.Duration = opts.Now().Sub(start)
	if ctx.Err() != nil {
		return sum, ctx.Err()
	}
	return sum, errors.Join(errs...)
}

// write appends every chunk to ds, ticking it about once a second, until out
// is closed. It is the only user of ds.
func write(ds *archive.Dataset, out <-chan chunk, logs []LogSummary, opts Options) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case c, ok := <-out:
			if !ok {
				return
			}
			for _, u := range c.rows {
				ds.Append(u)
			}
			logs[c.log].Rows += int64(len(c.rows)) // only this goroutine writes Rows
			opts.Progress.Rows.Add(int64(len(c.rows)))
		case <-tick.C:
			ds.Tick(opts.Now())
		}
	}
}

// walker fetches one log's holes and turns each entry into a row.
type walker struct {
	plan  *LogPlan
	sum   *LogSummary
	out   chan<- chunk
	log   int
	opts  Options
	info  ctrow.LogInfo
	rows  []*stream.Update
	start time.Time
}

func (w *walker) run(ctx context.Context) {
	w.start = w.opts.Now()
	w.info = logInfo(w.plan.SourceURL, w.plan.Name, w.plan.Tiled)
	var errs []error
	for _, h := range w.plan.Holes {
		err := w.plan.client.Entries(ctx, w.plan.tree, h.Start, h.End, w.entry)
		if errors.Is(err, errGrace) {
			w.sum.Deferred = w.sum.Planned - w.sum.Fetched
			break
		}
		if err != nil && ctx.Err() == nil {
			w.opts.Progress.Errors.Add(1)
			w.opts.Logger.Warn("backfill of a hole failed; its verified entries are kept", "source_url", w.plan.SourceURL,
				"hole_start", h.Start, "hole_end", h.End, "err", err)
			errs = append(errs, fmt.Errorf("[%d, %d): %w", h.Start, h.End, err))
		}
		if ctx.Err() != nil {
			break
		}
	}
	w.flush()
	st := w.plan.client.Stats()
	w.sum.Requests, w.sum.Throttled, w.sum.Retries = st.Requests, st.Throttled, st.Retries
	w.sum.Err = errors.Join(errs...)
	w.sum.Duration = w.opts.Now().Sub(w.start)
}

// entry makes the row of e and queues it for the writer.
func (w *walker) entry(e ctlog.Entry) error {
	if w.opts.Grace > 0 && e.Time().After(w.start.Add(-w.opts.Grace)) {
		return errGrace
	}
	w.sum.Fetched++
	w.opts.Progress.Fetched.Add(1)
	u, partial := row(e, w.info, w.opts.Now(), w.opts.Logger)
	switch {
	case u == nil:
		w.sum.Unusable++
		return nil
	case partial:
		w.sum.Partial++
	}
	w.rows = append(w.rows, u)
	if len(w.rows) >= chunkSize {
		w.flush()
	}
	return nil
}

// flush hands the queued rows to the writer. The writer drains the channel
// until every walker is done, so the send cannot block forever.
func (w *walker) flush() {
	if len(w.rows) == 0 {
		return
	}
	w.out <- chunk{log: w.log, rows: w.rows}
	w.rows = make([]*stream.Update, 0, chunkSize)
}

// logInfo describes a log as the rows of its entries name it: source_url as
// the dataset stores it, source_name the list's description, cert_link in
// the style of the log's protocol.
func logInfo(sourceURL, name string, tiled bool) ctrow.LogInfo {
	info := ctrow.LogInfo{URL: sourceURL, Name: name, Link: ctrow.GetEntriesLink}
	if tiled {
		info.Link = ctrow.TileLink
	}
	return info
}

// row makes the row a CertStream server would have sent of e, received at
// now. partial reports a row made without the certificate's extensions,
// still worth archiving; an entry no row can be made of (not a
// certificate) is nil, after a warning.
func row(e ctlog.Entry, info ctrow.LogInfo, now time.Time, log *slog.Logger) (u *stream.Update, partial bool) {
	u, err := ctrow.Update(rowEntry(e), info)
	switch {
	case errors.Is(err, ctrow.ErrPartial):
		partial = true
	case err != nil:
		log.Warn("entry skipped: no row can be made of it", "source_url", info.URL, "index", e.Index, "err", err)
		return nil, false
	}
	u.ReceivedAt = now
	return u, partial
}

// rowEntry converts ctlog's entry into ctrow's. The log holds a chain, maybe
// empty, for every entry, so Chain is never nil (chain_subjects is [] rather
// than null when it is empty).
func rowEntry(e ctlog.Entry) ctrow.Entry {
	t := ctrow.X509
	if e.Type == ctlog.PrecertEntry {
		t = ctrow.Precert
	}
	chain := e.Chain
	if chain == nil {
		chain = [][]byte{}
	}
	return ctrow.Entry{Index: e.Index, Timestamp: uint64(e.Timestamp), Type: t, Cert: e.LeafDER, Chain: chain}
}
