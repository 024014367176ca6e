package archive

import (
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/certstream-arrow/certstream-arrow/schema"
	"github.com/certstream-arrow/certstream-arrow/stream"
)

// partition is one UTC hour with rows in memory or an open file.
type partition struct {
	hour         time.Time
	dir          string
	rows         *schema.Builder
	queued       []batch   // cut from rows, not yet written (writes failing)
	pendingSince time.Time // when the oldest unwritten row arrived; zero if none
	lastAppend   time.Time
	file         *file // nil until the first batch is written
	orphan       *file // an open file that vanished from the directory, until its rows are rescued
	openedAt     time.Time
}

// Plausible bounds for data.seen when partitioning by it.
var seenFloor = time.Date(2013, 1, 1, 0, 0, 0, 0, time.UTC) // before Certificate Transparency

const seenMaxAhead = 24 * time.Hour

// batch is a record batch cut from a partition's rows, with the bytes its
// rows held in the builder (what RowsPending's bytes count).
type batch struct {
	rec   arrow.RecordBatch
	bytes int64
}

// Append adds u as one row of the partition its hour selects. The row is
// written to a file once its batch holds BatchRows rows or BatchBytes
// bytes, or FlushInterval has passed (see Tick). u.ReceivedAt must be set.
//
// Append does not fail: when writes fail, rows wait in memory (see Tick),
// and once MaxPendingRows rows or MaxPendingBytes bytes are waiting, new
// rows are dropped and counted in RowsDropped. While writes succeed, memory
// is bounded by the open partitions' batches instead, and nothing is
// dropped.
func (d *Dataset) Append(u *stream.Update) {
	now := d.opts.Now()
	if d.fault.failing && d.backlogFull() {
		d.drop(now)
		return
	}
	p := d.partition(d.hourOf(u), now)
	before := p.rows.Bytes()
	p.rows.Append(u)
	d.counters.RowsPending.Add(1)
	d.counters.BytesPending.Add(p.rows.Bytes() - before)
	if p.pendingSince.IsZero() {
		p.pendingSince = now
	}
	p.lastAppend = now
	if p.rows.Len() >= d.opts.BatchRows || d.opts.BatchBytes > 0 && p.rows.Bytes() >= d.opts.BatchBytes {
		d.writeBatch(p, now)
	}
}

// backlogFull reports whether the rows waiting in memory have reached
// MaxPendingRows or MaxPendingBytes.
func (d *Dataset) backlogFull() bool {
	o, c := d.opts, &d.counters
	return o.MaxPendingRows > 0 && c.RowsPending.Load() >= o.MaxPendingRows ||
		o.MaxPendingBytes > 0 && c.BytesPending.Load() >= o.MaxPendingBytes
}

// hourOf returns the UTC hour that places u.
func (d *Dataset) hourOf(u *stream.Update) time.Time {
	t := u.ReceivedAt
	switch d.opts.PartitionBy {
	case BySeen:
		t = plausible(u.Seen, u.ReceivedAt)
	case ByEntry:
		t = plausible(u.EntryTime, u.ReceivedAt)
	}
	return t.UTC().Truncate(time.Hour)
}

// plausible returns t, or received when t is missing, before CT existed,
// or more than a day ahead of received.
func plausible(t, received time.Time) time.Time {
	if t.Before(seenFloor) || !t.Before(received.Add(seenMaxAhead)) {
		return received
	}
	return t
}

// Tick does the work that is due at now: it retries failed writes when
// their backoff has passed, writes batches that have waited FlushInterval,
// publishes files older than RotateAge, and publishes the files of hours
// that are over. It returns once the writes it started are done. Call it
// about once a second, even when no message arrives.
func (d *Dataset) Tick(now time.Time) {
	if j := d.inflight; j != nil && j.finished() {
		d.settle(now) // without waiting: a slow disk must not hold up the stream
	}
	before := d.inflight
	if d.fault.failing && !now.Before(d.fault.retryAt) {
		d.salvageAbandoned(now)
	}
	for hour, p := range d.parts {
		if len(p.queued) > 0 || p.orphan != nil || !p.pendingSince.IsZero() && now.Sub(p.pendingSince) >= d.opts.FlushInterval {
			d.writeBatch(p, now)
		}
		switch {
		case d.hourOver(p, now):
			d.writeBatch(p, now)
			d.publishFile(p, now)
		case p.file != nil && d.opts.RotateAge > 0 && now.Sub(p.openedAt) >= d.opts.RotateAge:
			d.writeBatch(p, now)
			d.publishFile(p, now)
		}
		if d.hourOver(p, now) && p.empty() {
			p.rows.Release()
			delete(d.parts, hour)
		}
	}
	if d.inflight != before {
		d.settle(now) // a write Tick started (a flush, a rotation) is done when it returns
	}
}

// hourOver reports whether p's hour has ended and no row is still likely to
// arrive for it. By receive time, nothing can arrive once the hour is over;
// by seen, late rows from slow logs are given FlushInterval to arrive.
func (d *Dataset) hourOver(p *partition, now time.Time) bool {
	if now.Before(p.hour.Add(time.Hour)) {
		return false
	}
	return d.opts.PartitionBy == ByReceived || now.Sub(p.lastAppend) >= d.opts.FlushInterval
}

func (p *partition) empty() bool {
	return p.rows.Len() == 0 && len(p.queued) == 0 && p.file == nil && p.orphan == nil
}

// Close writes every buffered row, publishes every open file, salvages what
// failed writes left, and releases the collector lock. If rows still cannot
// be written, it says how many were lost. The Dataset must not be used
// afterwards.
func (d *Dataset) Close() error {
	now := d.opts.Now()
	d.fault.retryAt = time.Time{} // one last attempt, whatever the backoff
	d.salvageAbandoned(now)
	for _, p := range d.parts {
		d.writeBatch(p, now)
		d.publishFile(p, now)
	}
	var lost int64
	for hour, p := range d.parts {
		lost += int64(p.rows.Len())
		for _, b := range p.queued {
			lost += b.rec.NumRows()
			b.rec.Release()
		}
		if p.orphan != nil {
			lost += p.orphan.rows
			p.orphan.abandon()
		}
		p.rows.Release()
		delete(d.parts, hour)
	}
	err := errors.Join(d.lock.release(), d.root.Close())
	if lost > 0 || d.fault.failing {
		err = errors.Join(fmt.Errorf("%d rows could not be written, and %d files could not be published (their complete batches are salvaged at the next start): %w",
			lost, len(d.fault.abandoned), d.fault.err), err)
	}
	return err
}

func (d *Dataset) partition(hour, now time.Time) *partition {
	if p := d.parts[hour]; p != nil {
		return p
	}
	if len(d.parts) >= maxOpenPartitions {
		d.evict(now)
	}
	p := &partition{hour: hour, dir: hourDir(hour), rows: schema.NewBuilder(d.opts.Allocator, d.opts.Schema)}
	d.parts[hour] = p
	return p
}

// evict publishes the least recently appended partition and forgets it,
// unless writes are failing and it still holds rows.
func (d *Dataset) evict(now time.Time) {
	var lru *partition
	for _, p := range d.parts {
		if lru == nil || p.lastAppend.Before(lru.lastAppend) {
			lru = p
		}
	}
	d.writeBatch(lru, now)
	d.publishFile(lru, now)
	if lru.empty() {
		lru.rows.Release()
		delete(d.parts, lru.hour)
	}
}

// writeBatch cuts p's buffered rows into a record batch and writes every
// batch p has waiting, opening a file if needed. While writes are failing
// and the retry is not due, batches wait in p.queued.
//
// Writing a batch (IPC encoding, zstd, write, fsync) takes as long as
// building it, so it runs on its own goroutine while the caller goes on
// decoding and building the next one: at most one batch is in flight, and
// settle accounts for it before anything else touches a file.
func (d *Dataset) writeBatch(p *partition, now time.Time) {
	if p.rows.Len() > 0 {
		bytes := p.rows.Bytes()
		p.queued = append(p.queued, batch{p.rows.NewRecordBatch(), bytes})
		p.pendingSince = time.Time{}
	}
	for len(p.queued) > 0 || p.orphan != nil {
		d.settle(now)
		if d.fault.failing && now.Before(d.fault.retryAt) {
			return
		}
		if p.orphan != nil && !d.rescueOrphan(p, now) {
			return
		}
		if len(p.queued) == 0 {
			return
		}
		if p.file == nil && !d.openFile(p, now) {
			return
		}
		b := p.queued[0]
		p.queued = p.queued[1:]
		d.startWrite(p, b)
	}
}

// writeJob is one record batch being written to its partition's file by a
// goroutine of its own. Until settle has seen done closed, only that
// goroutine touches the file.
type writeJob struct {
	p *partition
	f *file
	batch
	writeErr error // the batch is not (wholly) in the file
	syncErr  error // the batch is in the file, but not durably
	linkErr  error // the batch is in the file, but the file is no longer where it will be published
	done     chan struct{}
}

func (j *writeJob) finished() bool {
	select {
	case <-j.done:
		return true
	default:
		return false
	}
}

func (d *Dataset) startWrite(p *partition, b batch) {
	j := &writeJob{p: p, f: p.file, batch: b, done: make(chan struct{})}
	rec := b.rec
	hook := d.opts.OnBatchWritten
	go func() {
		defer close(j.done)
		start := time.Now()
		if j.writeErr = j.f.write(rec); j.writeErr == nil {
			j.syncErr = j.f.sync()
			j.linkErr = j.f.linked()
		}
		if j.writeErr == nil && j.syncErr == nil && hook != nil {
			hook(rec.NumRows(), time.Since(start))
		}
	}()
	d.inflight = j
}

// settle waits for the batch in flight, if any, and accounts for it: a
// batch that could not be written goes back to the head of its partition's
// queue; one that was written counts as written (and, if fsync failed,
// reaches the dataset through salvage). A file that has reached a rotation
// limit is published.
func (d *Dataset) settle(now time.Time) {
	j := d.inflight
	if j == nil {
		return
	}
	<-j.done
	d.inflight = nil
	p := j.p
	if j.writeErr != nil {
		p.queued = append([]batch{j.batch}, p.queued...)
		d.abandonFile(p, j.writeErr, now)
		return
	}
	n := j.rec.NumRows()
	j.rec.Release()
	d.counters.RowsPending.Add(-n)
	d.counters.BytesPending.Add(-j.bytes)
	d.counters.Rows.Add(n)
	d.counters.Batches.Add(1)
	if errors.Is(j.linkErr, errUnlinked) {
		d.orphan(p, now)
		return
	}
	if j.syncErr != nil {
		d.abandonFile(p, j.syncErr, now)
		return
	}
	d.recovered(now)
	if d.full(j.f) {
		d.publishFile(p, now)
	}
}

func (d *Dataset) full(f *file) bool {
	o := d.opts
	return o.RotateRows > 0 && f.rows >= o.RotateRows || o.RotateBytes > 0 && f.size() >= o.RotateBytes
}

func (d *Dataset) openFile(p *partition, now time.Time) bool {
	if err := d.fsys.mkdirPartition(p.dir); err != nil {
		d.failed(err, now)
		return false
	}
	d.seq++
	final := fileName(now, d.opts.Collector, d.run, d.seq)
	f, err := createFile(d.fsys, p.dir, tmpName(final), final, d.opts.Schema, d.opts.Allocator, d.opts.FsyncBatch)
	if err != nil {
		d.failed(err, now)
		return false
	}
	p.file, p.openedAt = f, now
	d.counters.OpenFiles.Add(1)
	return true
}

// publishFile publishes p's open file, if any. If that fails, the file is
// left under its temporary name and salvaged once writes work again.
func (d *Dataset) publishFile(p *partition, now time.Time) {
	d.settle(now)
	if p.file != nil && errors.Is(p.file.linked(), errUnlinked) {
		d.orphan(p, now)
	} else if p.orphan != nil && p.file == nil && !(d.fault.failing && now.Before(d.fault.retryAt)) {
		d.rescueOrphan(p, now)
	}
	f := p.file
	if f == nil {
		return
	}
	p.file = nil
	d.counters.OpenFiles.Add(-1)
	start := time.Now()
	if err := f.publish(); err != nil {
		d.fault.abandoned = append(d.fault.abandoned, f)
		d.failed(err, now)
		return
	}
	if d.opts.OnPublish != nil {
		d.opts.OnPublish(time.Since(start))
	}
	d.recovered(now)
	d.counters.FilesPublished.Add(1)
	d.counters.BytesPublished.Add(f.size())
	d.log.Info("file published", "file", path.Join(p.dir, f.final), "rows", f.rows, "batches", f.batches,
		"bytes", f.size(), "open_for", now.Sub(p.openedAt).Round(time.Millisecond))
}

// abandonFile gives up on p's file after a write error; its complete
// batches are salvaged once writes work again.
func (d *Dataset) abandonFile(p *partition, err error, now time.Time) {
	p.file.abandon()
	d.fault.abandoned = append(d.fault.abandoned, p.file)
	p.file = nil
	d.counters.OpenFiles.Add(-1)
	d.failed(err, now)
}
