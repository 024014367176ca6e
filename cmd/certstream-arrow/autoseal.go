package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/backfill"
	"github.com/certstream-arrow/certstream-arrow/ctlog"
	"github.com/certstream-arrow/certstream-arrow/seal"
)

// sealFlags are run's --seal flags.
type sealFlags struct {
	Seal         bool          `default:"true" negatable:"" help:"Seal finished hours in the background (--no-seal to leave them to the seal command): every --seal-interval, each hour that ended at least --seal-after ago is compacted into one sorted file, each CT log entry once, with a manifest. Keeps the long-term file count at one per hour."`
	SealAfter    time.Duration `default:"30m" help:"With --seal: an hour is sealed once it ended this long ago (at least 1s). Keep it above twice --flush-interval and, with --backfill, above --backfill-grace plus --backfill-interval, so late rows and most backfill land first: rows that arrive later are taken in by sealing the hour again."`
	SealInterval time.Duration `default:"5m" help:"With --seal: how often to look for hours due (the first look after one interval)."`
	SealMemory   ByteSize      `default:"128MiB" help:"With --seal: rows held in memory while sorting an hour (16MiB to 8GiB); beyond, sorted runs are spilled to disk under the dataset's .sealing directory."`

	sealed func(*seal.Manifest, error) `kong:"-"` // tests: told after each hour
}

// checkSeal validates the --seal flags, only when --seal is on.
func (r *RunCmd) checkSeal() error {
	f := &r.sealFlags
	if !f.Seal {
		return nil
	}
	checks := []struct {
		ok  bool
		msg string
	}{
		{f.SealAfter >= time.Second, "--seal-after must be at least 1s"},
		{f.SealInterval >= 100*time.Millisecond && f.SealInterval <= 24*time.Hour, "--seal-interval must be between 100ms and 24h"},
		{f.SealMemory >= 16<<20 && f.SealMemory <= 8<<30, "--seal-memory must be between 16MiB and 8GiB"},
	}
	for _, c := range checks {
		if !c.ok {
			return errors.New(c.msg)
		}
	}
	return nil
}

// autoSeal is run --seal: a goroutine that seals the hours the archiver
// (and every other collector of the root) is done with.
//
//	every interval:  seal.Open        the dataset's seal lock (another process sealing: skip this round)
//	                 Sealer.Due       hours ended --seal-after ago, with files no seal took in, none being written
//	                 Sealer.Seal      one hour at a time, oldest first
//
// It is off the ingest path: its own goroutine, reading published files
// only and writing under .sealing until the switch; the stream's pipeline
// never waits for it. It shares the machine: about one core while an hour
// is sealed, --seal-memory of rows plus a batch per spilled run, and the
// disk bandwidth of reading an hour and writing it once more. A failure is
// logged and counted and the next round tries again.
type autoSeal struct {
	r      *RunCmd
	flags  *sealFlags
	opts   seal.Options
	log    *slog.Logger
	hours  atomic.Int64 // hours sealed
	errs   atomic.Int64 // hours that failed
	rows   atomic.Int64 // rows in the hours sealed
	cancel context.CancelFunc
	done   chan struct{}

	repair   *backfill.Repairer // with --backfill
	listedAt time.Time
}

// startSeal starts background sealing when --seal is on; nil otherwise. A
// nil *autoSeal's methods do nothing.
func (r *RunCmd) startSeal(ctx context.Context, root string, log *slog.Logger) *autoSeal {
	if !r.Seal {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	a := &autoSeal{r: r, flags: &r.sealFlags, log: log.With("component", "autoseal"), cancel: cancel, done: make(chan struct{})}
	a.opts = seal.Options{Root: root, Program: programVersion(), After: r.SealAfter, MemoryBudget: int64(r.SealMemory),
		Logger: a.log}
	a.log.Info("background sealing on", "after", r.SealAfter, "interval", r.SealInterval)
	// Sealing earlier is safe (an hour with files being written is left for
	// later, and rows that arrive after a seal are taken in by a reseal),
	// but it rewrites the hour again for them.
	if r.SealAfter < 2*r.FlushInterval || r.Backfill && r.SealAfter <= r.BackfillGrace+r.BackfillInterval {
		a.log.Warn("--seal-after is shorter than the hour's last writes take (twice --flush-interval, and with --backfill --backfill-grace plus --backfill-interval): hours will be sealed again as late rows arrive",
			"seal_after", r.SealAfter, "flush_interval", r.FlushInterval)
	}
	go a.loop(ctx, r.SealInterval)
	return a
}

func (a *autoSeal) loop(ctx context.Context, every time.Duration) {
	defer close(a.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := a.round(ctx); err != nil && ctx.Err() == nil {
			a.errs.Add(1)
			a.log.Warn("sealing round failed; the next one tries again", "err", err)
		}
	}
}

// repairer returns, with --backfill, a Repairer on the log list (loaded
// again each day), so that sealing repairs damaged rows from the logs;
// nil without --backfill or while the list cannot be loaded.
func (a *autoSeal) repairer(ctx context.Context) seal.Repairer {
	b := &a.r.backfillFlags
	if !b.Backfill {
		return nil
	}
	if a.repair == nil || time.Since(a.listedAt) > listMaxAge {
		list, err := ctlog.LoadList(ctx, b.LogList, nil)
		if err != nil {
			a.log.Warn("log list not loaded: damaged rows are sealed as they are until it loads", "log_list", b.LogList, "err", err)
			if a.repair == nil {
				return nil
			}
			return a.repair
		}
		a.repair = backfill.NewRepairer(list, ctlog.Options{RequestsPerSecond: b.BackfillRequestsPerSecond, MaxInFlight: b.BackfillMaxInFlight,
			MaxRetries: b.BackfillMaxRetries, PageSize: b.BackfillPageSize}, a.log.With("component", "repair"))
		a.listedAt = time.Now()
	}
	return a.repair
}

// round seals every hour due.
func (a *autoSeal) round(ctx context.Context) error {
	opts := a.opts
	if r := a.repairer(ctx); r != nil {
		opts.Repairer = r
	}
	s, err := seal.Open(opts)
	if errors.Is(err, archive.ErrLocked) {
		a.log.Debug("another process is sealing this dataset; skipping this round", "err", err)
		return nil
	}
	if err != nil {
		return err
	}
	defer s.Close()
	due, err := s.Due()
	if err != nil {
		return err
	}
	for _, h := range due {
		start := time.Now()
		m, err := s.Seal(ctx, h)
		if ctx.Err() != nil {
			return nil
		}
		if a.flags.sealed != nil {
			a.flags.sealed(m, err)
		}
		if err != nil {
			a.errs.Add(1)
			a.log.Warn("hour not sealed; the next round tries again", "hour", seal.HourName(h), "err", err)
			continue
		}
		a.hours.Add(1)
		a.rows.Add(m.Rows)
		logSealed(a.log, m, time.Since(start), false)
	}
	return nil
}

// stop cancels sealing and waits for it, at most bound: an interrupted
// seal leaves only work under .sealing, which the next one clears.
func (a *autoSeal) stop(bound time.Duration) {
	if a == nil {
		return
	}
	a.cancel()
	select {
	case <-a.done:
	case <-time.After(bound):
		a.log.Warn("background sealing did not stop in time; the next seal clears its work", "waited", bound)
	}
}

// String describes the counts for the stats line.
func (a *autoSeal) String() string {
	if a == nil {
		return "off"
	}
	return fmt.Sprintf("%d hours, %d rows, %d failures", a.hours.Load(), a.rows.Load(), a.errs.Load())
}
