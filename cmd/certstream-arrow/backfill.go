package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/backfill"
	"github.com/certstream-arrow/certstream-arrow/ctlog"
	"github.com/certstream-arrow/certstream-arrow/schema"
)

// BackfillCmd fetches from the CT logs the entries a dataset is missing and
// publishes them as rows with provenance "backfill", through the archive's
// durable path, under a collector of its own: it can run beside the archiver
// on the same root. The work is done by package backfill; this only wires
// flags, the archive and the output.
type BackfillCmd struct {
	Dir        string        `arg:"" name:"DIR" help:"Dataset root directory."`
	LogList    string        `name:"log-list" placeholder:"FILE|URL" default:"https://www.gstatic.com/ct/log_list/v3/log_list.json" help:"Chrome v3 log_list.json to find the logs in (their URLs and keys): a file or an http(s) URL (default: Google's published list)."`
	Log        []string      `name:"log" sep:"none" placeholder:"URL" help:"Backfill this log only: a source_url as the dataset stores it, or a log URL from the list. Repeatable (default: every log the dataset holds rows of)."`
	Since      string        `placeholder:"DURATION|INDEX" help:"Start of the range owed: an index, or a duration such as 48h for entries younger than that (found by binary search on entry timestamps). Default: the first index the dataset holds of each log."`
	To         int64         `default:"0" placeholder:"INDEX" help:"End of the range owed (exclusive); 0: the log's current tree size."`
	MaxEntries int64         `default:"0" help:"Fetch at most this many entries in all, logs taken in turn (0: no limit)."`
	Grace      time.Duration `default:"10m" help:"Leave entries younger than this to a running archiver: a log's walk stops at the first one (0: fetch up to the tree size). Keep it above the archiver's --rotate-age."`
	DryRun     bool          `help:"Print the plan (per log: range owed, entries held, holes and entries to fetch) and exit without fetching or writing anything."`
	JSON       bool          `name:"json" help:"Print the plan or the summary as JSON."`
	Collector  string        `placeholder:"NAME" env:"CERTSTREAM_ARROW_BACKFILL_COLLECTOR" help:"Collector name, in file names and lock (default: the host name plus -backfill). A second backfill with the same name is refused."`

	RequestsPerSecond float64       `default:"4" help:"Requests per second to each log (public logs throttle above a few)."`
	MaxInFlight       int           `default:"2" help:"Requests in flight at once to each log."`
	MaxRetries        int           `default:"8" help:"Retries of one request (429, 5xx, network errors) before a hole is given up; Retry-After is honoured."`
	PageSize          int           `default:"256" help:"Entries asked per RFC 6962 get-entries request (logs answer 32 to 1000)."`
	BufferSize        int           `short:"b" default:"5000" help:"Rows per record batch (1 to 100000): a kill loses at most the rows not yet in a written batch, which the next run fetches again."`
	FlushInterval     time.Duration `default:"10s" help:"Longest a partly filled batch waits in memory before it is written."`
	RotateRows        int64         `default:"500000" help:"Publish an open file once it holds this many rows (0: no limit)."`
	RotateAge         time.Duration `default:"5m" help:"Publish an open file once it has been open this long (0: only when its hour is done)."`
	Fsync             string        `enum:"batch,close" default:"batch" help:"When to fsync: batch (after every record batch) or close (only when a file is published)."`
	ProgressInterval  time.Duration `default:"30s" help:"When the output is not a terminal, log a progress line this often (0: none). On a terminal a live line shows rate and ETA."`

	out      io.Writer `kong:"-"` // tests; default stdout
	terminal *bool     `kong:"-"` // tests; default: is stdout a terminal
}

// Validate checks flag values before anything starts.
func (c *BackfillCmd) Validate() error {
	if err := checkDatasetRoot("DIR", c.Dir); err != nil {
		return err
	}
	if _, err := backfill.ParseSince(c.Since); err != nil {
		return fmt.Errorf("--since: %w", err)
	}
	if c.Collector != "" {
		if err := archive.CheckCollector(c.Collector); err != nil {
			return fmt.Errorf("--collector: %w", err)
		}
	}
	checks := []struct {
		ok  bool
		msg string
	}{
		{c.To >= 0, "--to must not be negative"},
		{c.MaxEntries >= 0, "--max-entries must not be negative"},
		{c.Grace >= 0, "--grace must not be negative"},
		{c.RequestsPerSecond > 0, "--requests-per-second must be positive"},
		{c.MaxInFlight >= 1 && c.MaxInFlight <= 64, "--max-in-flight must be between 1 and 64"},
		{c.MaxRetries >= 1, "--max-retries must be at least 1"},
		{c.PageSize >= 1 && c.PageSize <= 10000, "--page-size must be between 1 and 10000"},
		{c.BufferSize >= 1 && c.BufferSize <= archive.MaxBatchRows, "--buffer-size must be between 1 and 100000"},
		{c.FlushInterval >= 10*time.Millisecond && c.FlushInterval <= time.Hour, "--flush-interval must be between 10ms and 1h"},
		{c.RotateRows >= 0 && c.RotateAge >= 0, "--rotate-rows and --rotate-age must not be negative"},
		{c.ProgressInterval >= 0, "--progress-interval must not be negative"},
	}
	for _, ch := range checks {
		if !ch.ok {
			return errors.New(ch.msg)
		}
	}
	return nil
}

func (c *BackfillCmd) options(list *ctlog.List, log *slog.Logger) backfill.Options {
	since, _ := backfill.ParseSince(c.Since) // checked by Validate
	return backfill.Options{
		Root: c.Dir, List: list, Logs: c.Log, Since: since, To: c.To, MaxEntries: c.MaxEntries, Grace: c.Grace,
		Client: ctlog.Options{RequestsPerSecond: c.RequestsPerSecond, MaxInFlight: c.MaxInFlight, MaxRetries: c.MaxRetries, PageSize: c.PageSize},
		Logger: log.With("component", "backfill"),
	}
}

func (c *BackfillCmd) open(log *slog.Logger) (*archive.Dataset, error) {
	collector := c.Collector
	if collector == "" {
		collector = archive.DefaultCollector() + "-backfill"
	}
	ds, err := archive.Open(archive.Options{
		Root: c.Dir, Schema: schema.New(programVersion()), Collector: collector,
		BatchRows: c.BufferSize, BatchBytes: 32 << 20, FlushInterval: c.FlushInterval,
		RotateRows: c.RotateRows, RotateBytes: 256 << 20, RotateAge: c.RotateAge,
		PartitionBy: archive.ByEntry, FsyncBatch: c.Fsync == "batch",
		MaxPendingRows: int64(max(200_000, c.BufferSize)), MaxPendingBytes: 256 << 20,
		Logger: log.With("component", "archive"),
	})
	if errors.Is(err, archive.ErrCollectorRunning) {
		return nil, fmt.Errorf("another backfill (collector %s) is running on %s; give this one another --collector, or wait: %w", collector, c.Dir, err)
	}
	return ds, err
}

// Run opens the dataset (taking the collector's lock and salvaging what a
// killed backfill left), plans, fills, closes, and prints the summary. A log
// that failed makes the exit status non-zero; what was verified and written
// before the failure is published all the same.
func (c *BackfillCmd) Run(ctx context.Context, log *slog.Logger) error {
	list, err := ctlog.LoadList(ctx, c.LogList, nil)
	if err != nil {
		return fmt.Errorf("--log-list: %w", err)
	}
	opts := c.options(list, log)
	if c.DryRun {
		plans, err := backfill.Plan(ctx, opts)
		if err != nil {
			return err
		}
		return c.printPlan(plans)
	}
	ds, err := c.open(log)
	if err != nil {
		return err
	}
	plans, err := backfill.Plan(ctx, opts)
	if err != nil {
		return errors.Join(err, ds.Close())
	}
	logPlans(log, plans)
	opts.Progress = &backfill.Progress{}
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { backfill.Watch(wctx, opts.Progress, c.output(), c.isTerminal(), c.ProgressInterval, log) })
	sum, ferr := backfill.Fill(ctx, ds, plans, opts)
	stop()
	wg.Wait()
	cerr := ds.Close()
	published := ds.Counters().Rows.Load()
	if errors.Is(ferr, context.Canceled) {
		log.Info("backfill interrupted: what was fetched is published; run again to go on")
		ferr = nil
	}
	return errors.Join(c.printSummary(sum, published, ds.Counters().FilesPublished.Load()), ferr, cerr)
}

func (c *BackfillCmd) output() io.Writer {
	if c.out != nil {
		return c.out
	}
	return os.Stdout
}

func (c *BackfillCmd) isTerminal() bool {
	if c.terminal != nil {
		return *c.terminal
	}
	return isTerminal(os.Stdout)
}

// logPlans logs one line per log of the plan.
func logPlans(log *slog.Logger, plans []backfill.LogPlan) {
	for _, p := range plans {
		if p.Err != nil {
			log.Warn("log skipped", "source_url", p.SourceURL, "rows", p.Rows, "err", p.Err)
			continue
		}
		log.Info("log planned", "source_url", p.SourceURL, "source_name", p.Name, "tree_size", p.TreeSize,
			"responsible_start", p.Responsible.Start, "responsible_end", p.Responsible.End,
			"held", p.Held, "missing", p.Missing, "holes", len(p.Holes))
	}
}

// maxHolesShown bounds the holes the plan lists per log.
const maxHolesShown = 20

func (c *BackfillCmd) printPlan(plans []backfill.LogPlan) error {
	out := c.output()
	if c.JSON {
		return writeJSON(out, struct {
			Logs []backfill.LogPlan `json:"logs"`
		}{plans})
	}
	var total int64
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "log\ttree size\towed\theld\tmissing\tholes\t")
	for _, p := range plans {
		if p.Err != nil {
			fmt.Fprintf(w, "%s\t-\t-\t-\t-\t-\tskipped: %v (%d rows)\n", p.SourceURL, p.Err, p.Rows)
			continue
		}
		total += p.Missing
		fmt.Fprintf(w, "%s\t%d\t[%d, %d)\t%d\t%d\t%d\t%s\n", p.SourceURL, p.TreeSize, p.Responsible.Start, p.Responsible.End, p.Held, p.Missing, len(p.Holes), p.Name)
		for i, h := range p.Holes {
			// The first and last maxHolesShown/2: where the range owed
			// starts and where the log's head is.
			if n := len(p.Holes) - maxHolesShown; n > 0 && i >= maxHolesShown/2 && i < len(p.Holes)-maxHolesShown/2 {
				if i == maxHolesShown/2 {
					fmt.Fprintf(w, "  ... %d more holes\t\t\t\t\t\t\n", n)
				}
				continue
			}
			fmt.Fprintf(w, "  hole [%d, %d)\t\t\t\t%d\t\t\n", h.Start, h.End, h.Len())
		}
	}
	fmt.Fprintf(w, "total\t\t\t\t%d\t\tentries to fetch (dry run: nothing fetched or written)\n", total)
	return w.Flush()
}

func (c *BackfillCmd) printSummary(sum backfill.Summary, published, files int64) error {
	out := c.output()
	if c.JSON {
		return writeJSON(out, struct {
			backfill.Summary
			Published      int64 `json:"published_rows"`
			FilesPublished int64 `json:"files_published"`
		}{sum, published, files})
	}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "log\theld before\tplanned\tfetched\trows\tdeferred\tduration\terrors")
	for _, l := range sum.Logs {
		status := l.Error
		if status == "" {
			status = "-"
		} else if l.Skipped {
			status = "skipped: " + status
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", l.SourceURL, l.Held, l.Planned, l.Fetched, l.Rows, l.Deferred, l.Duration.Round(time.Millisecond), status)
	}
	rate := 0.0
	if s := sum.Duration.Seconds(); s > 0 {
		rate = float64(sum.Fetched) / s
	}
	fmt.Fprintf(w, "total\t\t\t%d\t%d\t\t%s\t%.0f entries/s; %d rows published in %d files\n", sum.Fetched, sum.Rows, sum.Duration.Round(time.Millisecond), rate, published, files)
	return w.Flush()
}
