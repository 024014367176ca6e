package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/coverage"
	"github.com/certstream-arrow/certstream-arrow/ctlog"
)

// backfillFlags are run's --backfill flags. The rate limits have the
// backfill command's defaults, prefixed with backfill- (run's --max-retries
// is already the reconnect limit).
type backfillFlags struct {
	Backfill                  bool          `help:"Repair the dataset in the background: every --backfill-interval, fetch from the CT logs themselves the entries the feed dropped in the last --backfill-lookback, and publish them with provenance backfill. Off by default: it sends requests to public CT logs, which an operator should opt into, and needs a log list. Per-log coverage metrics (log_entries_held, log_holes, log_entries_backfilled_total, log_fetch_errors_total) are served on /metrics only with it."`
	LogList                   string        `name:"log-list" placeholder:"FILE|URL" default:"https://www.gstatic.com/ct/log_list/v3/log_list.json" help:"With --backfill: Chrome v3 log_list.json to find the logs in (their URLs and keys): a file or an http(s) URL (default: Google's published list; reloaded daily)."`
	BackfillInterval          time.Duration `default:"10m" help:"With --backfill: how often a backfill cycle runs (the first one after one interval)."`
	BackfillGrace             time.Duration `default:"15m" help:"With --backfill: leave entries younger than this to the live stream. Must exceed --rotate-age plus --flush-interval (the longest a streamed row waits before it is published): until then a streamed row looks missing."`
	BackfillLookback          time.Duration `default:"24h" help:"With --backfill: how far back a cycle looks for holes (whole hour directories, plus one hour of margin). Older holes are left to the backfill command."`
	BackfillRequestsPerSecond float64       `default:"4" help:"With --backfill: requests per second to each log (public logs throttle above a few)."`
	BackfillMaxInFlight       int           `default:"2" help:"With --backfill: requests in flight at once to each log."`
	BackfillMaxRetries        int           `default:"8" help:"With --backfill: retries of one request (429, 5xx, network errors) before a hole is left to the next cycle; Retry-After is honoured."`
	BackfillPageSize          int           `default:"256" help:"With --backfill: entries asked per RFC 6962 get-entries request (logs answer 32 to 1000)."`

	cycled func(backfillCycle)       `kong:"-"` // tests: told after each cycle
	before func(ctx context.Context) `kong:"-"` // tests: called before each cycle; may hold it
	now    func() time.Time          `kong:"-"` // tests; default time.Now
}

// checkBackfill validates the --backfill flags, only when --backfill is on.
func (r *RunCmd) checkBackfill() error {
	b := &r.backfillFlags
	if !b.Backfill {
		return nil
	}
	if err := archive.CheckCollector(r.backfillCollector()); err != nil {
		return fmt.Errorf("--backfill: the background backfill's collector is --collector plus -backfill: %w", err)
	}
	if !strings.HasPrefix(b.LogList, "http://") && !strings.HasPrefix(b.LogList, "https://") {
		if _, err := os.Stat(b.LogList); err != nil {
			return fmt.Errorf("--log-list: %w", err)
		}
	}
	checks := []struct {
		ok  bool
		msg string
	}{
		{b.BackfillInterval >= 100*time.Millisecond && b.BackfillInterval <= 24*time.Hour, "--backfill-interval must be between 100ms and 24h"},
		{b.BackfillGrace > r.publishDelay(), "--backfill-grace must exceed --rotate-age plus --flush-interval (1h plus --flush-interval with --rotate-age 0): rows the stream has not published yet would be fetched again"},
		{b.BackfillLookback > b.BackfillGrace, "--backfill-lookback must exceed --backfill-grace"},
		{b.BackfillRequestsPerSecond > 0, "--backfill-requests-per-second must be positive"},
		{b.BackfillMaxInFlight >= 1 && b.BackfillMaxInFlight <= 64, "--backfill-max-in-flight must be between 1 and 64"},
		{b.BackfillMaxRetries >= 1, "--backfill-max-retries must be at least 1"},
		{b.BackfillPageSize >= 1 && b.BackfillPageSize <= 10000, "--backfill-page-size must be between 1 and 10000"},
	}
	for _, c := range checks {
		if !c.ok {
			return errors.New(c.msg)
		}
	}
	return nil
}

// publishDelay is the longest a streamed row waits before a published file
// holds it: a file is published --rotate-age after it opens (or at the end
// of its hour), its rows written at most --flush-interval after arriving.
func (r *RunCmd) publishDelay() time.Duration {
	age := r.RotateAge
	if age <= 0 {
		age = time.Hour
	}
	return age + r.FlushInterval
}

// backfillCollector is the background backfill's collector: the
// archiver's, plus -backfill. With the default --collector (the host name)
// it is the backfill command's default too, on purpose: the lock lets one
// of them run at a time, so the two never fetch and write the same holes.
func (r *RunCmd) backfillCollector() string {
	c := r.Collector
	if c == "" {
		c = archive.DefaultCollector()
	}
	return c + "-backfill"
}

// autoBackfill is run --backfill: a goroutine that repairs the dataset
// while the live stream archives into it.
//
//	every interval:  archive.Open(<collector>-backfill)   own lock; salvages what a killed cycle left
//	                 backfill.Plan(Scan: coverage.ScanRecent(now-lookback, 1h margin), Grace)
//	                 backfill.Fill, one log at a time                 within each log's rate limits
//	                 Dataset.Close                                    publishes every row written
//	                 per-log stats for /metrics, one log line per log with work, one per cycle
//
// Why it cannot slow the live stream: it has its own goroutines, its own
// Dataset (own files, own lock) and its own HTTP clients; the stream's
// pipeline never waits for it. What remains shared is the machine: CPU
// (certificate parsing and zstd; one log is filled at a time, so about one
// core at most, and less as the logs' rate limits bind), disk bandwidth and
// fsyncs, memory (one Dataset's batches, --buffer-size rows) and the
// network.
//
// Why a window, and a cache: reading a file for coverage decodes every
// column (arrow-go's IPC reader has no column projection), so a cycle
// scans only the hours of the last --backfill-lookback, and reads each
// published file of it once (coverage.Recent: published files never
// change); later cycles read only the files published since. The range
// owed to each log starts at the first index held in that window; older
// holes are the backfill command's.
//
// A failure (the log list, the lock, a log's requests, the disk) is logged
// and counted and the next cycle tries again: never fatal to the archiver.
// Cancelling the context stops a cycle between requests and record
// batches; the Dataset is then closed, publishing what was written.
type autoBackfill struct {
	r     *RunCmd
	flags *backfillFlags
	log   *slog.Logger
	alog  *slog.Logger // the cycle Dataset's
	now   func() time.Time
	stats *backfillStats

	list     *ctlog.List
	listedAt time.Time
	recent   coverage.Recent // each published file of the window is read once

	cancel context.CancelFunc
	done   chan struct{}
}

// listMaxAge is how long a loaded log list is used before it is reloaded.
const listMaxAge = 24 * time.Hour

// startBackfill starts the background backfill when --backfill is on, and
// returns nil otherwise. A nil *autoBackfill's methods do nothing.
func (r *RunCmd) startBackfill(ctx context.Context, log *slog.Logger) *autoBackfill {
	if !r.Backfill {
		return nil
	}
	now := r.backfillFlags.now
	if now == nil {
		now = time.Now
	}
	ctx, cancel := context.WithCancel(ctx)
	b := &autoBackfill{r: r, flags: &r.backfillFlags, log: log.With("component", "autobackfill"),
		alog: log.With("component", "archive"), now: now,
		stats: &backfillStats{logs: map[string]*logBackfill{}}, cancel: cancel, done: make(chan struct{})}
	b.log.Info("background backfill on", "collector", r.backfillCollector(), "interval", b.flags.BackfillInterval,
		"grace", b.flags.BackfillGrace, "lookback", b.flags.BackfillLookback, "log_list", b.flags.LogList)
	go b.loop(ctx)
	return b
}

func (b *autoBackfill) loop(ctx context.Context) {
	defer close(b.done)
	t := time.NewTicker(b.flags.BackfillInterval)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if b.flags.before != nil {
			b.flags.before(ctx)
		}
		c := b.cycle(ctx, n)
		if ctx.Err() != nil {
			return
		}
		b.stats.record(c, b.now())
		if b.flags.cycled != nil {
			b.flags.cycled(c)
		}
	}
}

// stop cancels the background backfill and waits for it to publish what
// it wrote, at most bound: past it, the run ends anyway and the next start
// salvages the cycle's temporary files.
func (b *autoBackfill) stop(bound time.Duration) {
	if b == nil {
		return
	}
	b.cancel()
	select {
	case <-b.done:
	case <-time.After(bound):
		b.log.Warn("background backfill did not stop in time; its unpublished rows are salvaged at the next start", "waited", bound)
	}
}

// metrics returns what /metrics shows of the background backfill; nil
// when it is off.
func (b *autoBackfill) metrics() *backfillStats {
	if b == nil {
		return nil
	}
	return b.stats
}
