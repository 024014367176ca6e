package archive

import "time"

// faultState tracks a run of failing writes (disk full, I/O errors). While
// it lasts, rows wait in memory, bounded by MaxPendingRows, and writes are
// retried with capped exponential backoff. Files that failed mid-way are
// abandoned under their temporary names and salvaged once writes work
// again, so their complete batches are published and nothing is written
// twice.
type faultState struct {
	failing   bool
	err       error // the latest failure
	since     time.Time
	retryAt   time.Time
	attempts  int
	abandoned []*file
	lastDrop  time.Time // last time dropped rows were logged
	dropped   int64     // rows dropped since then
}

const (
	retryMin = time.Second
	retryMax = 30 * time.Second
)

// failed records a write failure and schedules the next attempt.
func (d *Dataset) failed(err error, now time.Time) {
	f := &d.fault
	d.counters.WriteErrors.Add(1)
	d.counters.Writing.Store(false)
	f.err = err
	if !f.failing {
		f.failing, f.since, f.attempts = true, now, 0
		d.log.Error("write failed; keeping rows in memory and retrying", "err", err,
			"rows_pending", d.counters.RowsPending.Load(), "max_pending_rows", d.opts.MaxPendingRows)
	}
	wait := min(retryMin<<min(f.attempts, 10), retryMax)
	f.attempts++
	f.retryAt = now.Add(wait)
	if f.attempts > 1 {
		d.log.Warn("write retry failed", "err", err, "attempt", f.attempts, "retry_in", wait,
			"rows_pending", d.counters.RowsPending.Load())
	}
}

// recovered ends a run of failures after a successful write.
func (d *Dataset) recovered(now time.Time) {
	f := &d.fault
	if !f.failing {
		return
	}
	f.failing, f.attempts, f.retryAt = false, 0, time.Time{}
	d.counters.Writing.Store(true)
	d.log.Info("writes resumed", "failing_for", now.Sub(f.since).Round(time.Millisecond),
		"rows_pending", d.counters.RowsPending.Load(), "rows_dropped", d.counters.RowsDropped.Load())
	d.salvageAbandoned(now)
}

// leftover is a temporary file known only by its names: one a crashed run
// left that salvage at start could not finish (the disk was full), kept
// with the abandoned files and retried with them.
func leftover(dir, tmp, final string) *file {
	return &file{dir: dir, tmp: tmp, final: final}
}

// salvageAbandoned publishes the complete batches of files given up after
// an error. It stops at the first failure and keeps the rest for later.
func (d *Dataset) salvageAbandoned(now time.Time) {
	d.settle(now)
	pending := d.fault.abandoned
	d.fault.abandoned = nil
	for i, f := range pending {
		s := &salvager{fsys: d.fsys, mem: d.opts.Allocator, log: d.log}
		if err := s.file(f.dir, f.tmp, f.final); err != nil {
			d.fault.abandoned = pending[i:]
			d.failed(err, now)
			return
		}
		if s.report.Salvaged > 0 {
			d.counters.FilesPublished.Add(1)
		}
	}
	if len(pending) > 0 {
		d.recovered(now)
	}
}

// drop counts a row refused because MaxPendingRows rows or MaxPendingBytes
// bytes are waiting, logging an error at most once a minute.
func (d *Dataset) drop(now time.Time) {
	d.counters.RowsDropped.Add(1)
	f := &d.fault
	f.dropped++
	if now.Sub(f.lastDrop) >= time.Minute {
		d.log.Error("rows dropped: writes are failing and --max-pending-rows rows or --max-pending-bytes bytes are waiting in memory",
			"dropped", f.dropped, "dropped_total", d.counters.RowsDropped.Load(), "err", f.err)
		f.lastDrop, f.dropped = now, 0
	}
}
