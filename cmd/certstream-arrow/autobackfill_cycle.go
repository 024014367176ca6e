package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/backfill"
	"github.com/certstream-arrow/certstream-arrow/coverage"
	"github.com/certstream-arrow/certstream-arrow/ctlog"
	"github.com/certstream-arrow/certstream-arrow/schema"
)

// recentMargin is the extra hour ScanRecent reads before the lookback
// window (see coverage.ScanRecent).
const recentMargin = time.Hour

// backfillCycle is what one background cycle did.
type backfillCycle struct {
	N         int
	Err       error              // the cycle as a whole failed: log list, lock, scan or close
	Plans     []backfill.LogPlan // per log, what was missing
	Logs      []backfill.LogSummary
	Published int64 // rows the cycle's Dataset published
	Duration  time.Duration
}

// cycle runs one backfill cycle: open, plan, fill, close.
func (b *autoBackfill) cycle(ctx context.Context, n int) (c backfillCycle) {
	start := b.now()
	c.N = n
	defer func() {
		c.Duration = b.now().Sub(start)
		if ctx.Err() == nil {
			b.logCycle(c)
		}
	}()
	list, err := b.loadList(ctx)
	if err != nil {
		c.Err = err
		return c
	}
	ds, err := b.open()
	if err != nil {
		c.Err = err
		return c
	}
	opts := b.options(ctx, list)
	c.Plans, err = backfill.Plan(ctx, opts)
	if err == nil {
		c.Logs = b.fill(ctx, ds, c.Plans, opts)
	}
	c.Err = errors.Join(err, ds.Close())
	c.Published = ds.Counters().Rows.Load()
	return c
}

// fill fills the plans one log at a time, so that the background job uses
// about one core however many logs have holes. A log's errors are in its
// summary.
func (b *autoBackfill) fill(ctx context.Context, ds *archive.Dataset, plans []backfill.LogPlan, opts backfill.Options) []backfill.LogSummary {
	logs := make([]backfill.LogSummary, 0, len(plans))
	for i := range plans {
		if ctx.Err() != nil {
			break
		}
		sum, _ := backfill.Fill(ctx, ds, plans[i:i+1], opts)
		logs = append(logs, sum.Logs[0])
	}
	return logs
}

func (b *autoBackfill) options(ctx context.Context, list *ctlog.List) backfill.Options {
	f := b.flags
	from := b.now().Add(-f.BackfillLookback)
	return backfill.Options{
		Root: b.r.Output, List: list, Grace: f.BackfillGrace,
		Client: ctlog.Options{RequestsPerSecond: f.BackfillRequestsPerSecond, MaxInFlight: f.BackfillMaxInFlight,
			MaxRetries: f.BackfillMaxRetries, PageSize: f.BackfillPageSize},
		Scan: func(root string) (*coverage.Dataset, []archive.FileError, error) {
			return b.recent.Scan(ctx, root, from, recentMargin)
		},
		Logger: b.log, Now: b.now,
	}
}

// open opens the cycle's Dataset: the archiver's settings, partitioned by
// the entries' timestamps, under the backfill collector.
func (b *autoBackfill) open() (*archive.Dataset, error) {
	r := b.r
	ds, err := archive.Open(archive.Options{
		Root: r.Output, Schema: schema.New(programVersion()), Collector: r.backfillCollector(),
		BatchRows: r.BufferSize, BatchBytes: int64(r.BatchBytes), FlushInterval: r.FlushInterval,
		RotateRows: r.RotateRows, RotateBytes: int64(r.RotateBytes), RotateAge: r.RotateAge,
		PartitionBy: archive.ByEntry, FsyncBatch: r.Fsync == "batch",
		MaxPendingRows: r.MaxPendingRows, MaxPendingBytes: int64(r.MaxPendingBytes),
		Logger: b.alog,
	})
	if errors.Is(err, archive.ErrCollectorRunning) {
		return nil, fmt.Errorf("another backfill holds collector %s (a backfill command?); this cycle is skipped: %w", r.backfillCollector(), err)
	}
	return ds, err
}

// loadList returns the log list, loading it on the first cycle and again
// once a day. A reload that fails keeps the list loaded before.
func (b *autoBackfill) loadList(ctx context.Context) (*ctlog.List, error) {
	if b.list != nil && b.now().Sub(b.listedAt) < listMaxAge {
		return b.list, nil
	}
	list, err := ctlog.LoadList(ctx, b.flags.LogList, nil)
	switch {
	case err != nil && b.list != nil:
		b.log.Warn("log list reload failed; the list loaded before is used", "log_list", b.flags.LogList, "err", err)
		b.listedAt = b.now()
		return b.list, nil
	case err != nil:
		return nil, fmt.Errorf("--log-list: %w", err)
	}
	b.list, b.listedAt = list, b.now()
	return list, nil
}

// logCycle logs one line per log that had work or an error, and one for
// the cycle. Logs the list does not know are only counted: they are
// reported by inspect and the backfill command.
func (b *autoBackfill) logCycle(c backfillCycle) {
	var missing, fetched, rows, failed, unknown int64
	for i, p := range c.Plans {
		var ls backfill.LogSummary
		if i < len(c.Logs) {
			ls = c.Logs[i]
		}
		switch {
		case errors.Is(p.Err, backfill.ErrUnknownLog):
			unknown++
			continue
		case ls.Err != nil:
			failed++
			b.log.Warn("backfill of a log failed; the next cycle tries again", "source_url", p.SourceURL,
				"holes", len(p.Holes), "missing", p.Missing, "fetched", ls.Fetched, "rows", ls.Rows, "err", ls.Err)
		case p.Missing > 0:
			b.log.Info("log backfilled", "source_url", p.SourceURL, "holes", len(p.Holes), "missing", p.Missing,
				"fetched", ls.Fetched, "rows", ls.Rows, "deferred", ls.Deferred, "requests", ls.Requests, "throttled", ls.Throttled)
		}
		missing += p.Missing
		fetched += ls.Fetched
		rows += ls.Rows
	}
	args := []any{"cycle", c.N, "logs", len(c.Plans), "missing", missing, "fetched", fetched, "rows", rows,
		"rows_published", c.Published, "logs_failed", failed, "logs_unknown", unknown, "duration", c.Duration.Round(time.Millisecond)}
	if c.Err != nil {
		b.log.Warn("backfill cycle failed; the next one tries again", append(args, "err", c.Err)...)
		return
	}
	b.log.Info("backfill cycle done", args...)
}

// backfillStats is what /metrics shows of the background backfill. The
// cycle goroutine records, scrapes read.
type backfillStats struct {
	mu        sync.Mutex
	logs      map[string]*logBackfill // by source_url, at most maxLogLabels
	cycles    int64
	failed    int64
	lastCycle time.Time
}

// logBackfill is one log's coverage as of the last cycle, and its totals.
type logBackfill struct {
	held, holes          int64 // within the range owed, after the last cycle that planned the log
	backfilled, fetchErr int64 // totals since start
}

// record folds a finished cycle into s.
func (s *backfillStats) record(c backfillCycle, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cycles++
	s.lastCycle = now
	if c.Err != nil {
		s.failed++
	}
	for i, p := range c.Plans {
		if i >= len(c.Logs) || errors.Is(p.Err, backfill.ErrUnknownLog) {
			continue
		}
		l := s.log(p.SourceURL)
		if l == nil {
			continue
		}
		ls := c.Logs[i]
		l.backfilled += ls.Rows
		l.fetchErr += countErrors(ls.Err)
		if p.Err == nil {
			// Entries deferred (younger than the grace period) are not
			// owed yet; those that failed or made no row still are.
			l.held = p.Held + ls.Rows
			l.holes = max(0, p.Missing-ls.Rows-ls.Deferred)
		}
	}
}

// log returns url's entry, creating it unless maxLogLabels are tracked.
func (s *backfillStats) log(url string) *logBackfill {
	if l := s.logs[url]; l != nil {
		return l
	}
	if len(s.logs) >= maxLogLabels || len(url) > maxLogURLBytes {
		return nil
	}
	l := &logBackfill{}
	s.logs[url] = l
	return l
}

// countErrors counts the errors in err: those it joins, or one.
func countErrors(err error) int64 {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return int64(len(j.Unwrap()))
	}
	if err != nil {
		return 1
	}
	return 0
}
