package archive

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/certstream-arrow/certstream-arrow/schema"
	"github.com/certstream-arrow/certstream-arrow/stream"
)

// Plausible bounds for data.seen when partitioning by it.
var seenFloor = time.Date(2013, 1, 1, 0, 0, 0, 0, time.UTC) // before Certificate Transparency

const seenMaxAhead = 24 * time.Hour

// Append adds u as one row of the partition its hour selects. The row is
// written to a file once its batch is full or FlushInterval has passed
// (see Tick). u.ReceivedAt must be set.
func (d *Dataset) Append(u *stream.Update) error {
	now := d.opts.Now()
	p, err := d.partition(d.hourOf(u), now)
	if err != nil {
		return err
	}
	p.rows.Append(u)
	d.counters.RowsPending.Add(1)
	if p.pendingSince.IsZero() {
		p.pendingSince = now
	}
	p.lastAppend = now
	if p.rows.Len() >= d.opts.BatchRows {
		return d.writeBatch(p, now)
	}
	return nil
}

// hourOf returns the UTC hour that places u.
func (d *Dataset) hourOf(u *stream.Update) time.Time {
	t := u.ReceivedAt
	if d.opts.PartitionBy == BySeen && !u.Seen.Before(seenFloor) && u.Seen.Before(u.ReceivedAt.Add(seenMaxAhead)) {
		t = u.Seen
	}
	return t.UTC().Truncate(time.Hour)
}

// Tick does the work that is due at now: it writes batches that have waited
// FlushInterval, publishes files older than RotateAge, and publishes the
// files of hours that are over. Call it about once a second, even when no
// message arrives. It carries on past a failing partition and returns every
// error.
func (d *Dataset) Tick(now time.Time) error {
	var errs []error
	for hour, p := range d.parts {
		if !p.pendingSince.IsZero() && now.Sub(p.pendingSince) >= d.opts.FlushInterval {
			errs = append(errs, d.writeBatch(p, now))
		}
		if d.hourOver(p, now) {
			errs = append(errs, d.closePartition(p, now))
			delete(d.parts, hour)
			continue
		}
		if p.file != nil && d.opts.RotateAge > 0 && now.Sub(p.openedAt) >= d.opts.RotateAge {
			errs = append(errs, d.publishFile(p, now))
		}
	}
	return errors.Join(errs...)
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

// Close writes every buffered row and publishes every open file. The Dataset
// must not be used afterwards.
func (d *Dataset) Close() error {
	now := d.opts.Now()
	var errs []error
	for hour, p := range d.parts {
		errs = append(errs, d.closePartition(p, now))
		delete(d.parts, hour)
	}
	return errors.Join(errs...)
}

func (d *Dataset) partition(hour, now time.Time) (*partition, error) {
	if p := d.parts[hour]; p != nil {
		return p, nil
	}
	if len(d.parts) >= maxOpenPartitions {
		if err := d.evict(now); err != nil {
			return nil, err
		}
	}
	dir := filepath.Join(d.opts.Root, HourPrefix+hour.Format(HourFormat))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create partition: %w", err)
	}
	p := &partition{hour: hour, dir: dir, rows: schema.NewBuilder(d.opts.Allocator, d.opts.Schema)}
	d.parts[hour] = p
	return p, nil
}

// evict closes the least recently appended partition.
func (d *Dataset) evict(now time.Time) error {
	var lru *partition
	for _, p := range d.parts {
		if lru == nil || p.lastAppend.Before(lru.lastAppend) {
			lru = p
		}
	}
	delete(d.parts, lru.hour)
	return d.closePartition(lru, now)
}

// closePartition writes p's buffered rows, publishes its file and frees it.
func (d *Dataset) closePartition(p *partition, now time.Time) error {
	defer p.rows.Release()
	return errors.Join(d.writeBatch(p, now), d.publishFile(p, now))
}

// writeBatch writes p's buffered rows as one record batch, opening a file if
// p has none, and publishes the file when it reaches a rotation limit.
func (d *Dataset) writeBatch(p *partition, now time.Time) error {
	if p.rows.Len() == 0 {
		return nil
	}
	rec := p.rows.NewRecordBatch()
	defer rec.Release()
	p.pendingSince = time.Time{}
	d.counters.RowsPending.Add(-rec.NumRows())
	if p.file == nil {
		if err := d.openFile(p, now); err != nil {
			return err
		}
	}
	if err := p.file.write(rec); err != nil {
		return err
	}
	d.counters.Rows.Add(rec.NumRows())
	d.counters.Batches.Add(1)
	if d.full(p.file) {
		return d.publishFile(p, now)
	}
	return nil
}

func (d *Dataset) full(f *file) bool {
	o := d.opts
	return o.RotateRows > 0 && f.rows >= o.RotateRows || o.RotateBytes > 0 && f.size() >= o.RotateBytes
}

func (d *Dataset) openFile(p *partition, now time.Time) error {
	d.seq++
	name := fmt.Sprintf("%s-%s-%06d%s", now.UTC().Format(nameTime), d.id, d.seq, Ext)
	f, err := createFile(filepath.Join(p.dir, "."+name+TmpSuffix), filepath.Join(p.dir, name), d.opts.Schema, d.opts.Allocator)
	if err != nil {
		return err
	}
	p.file, p.openedAt = f, now
	d.counters.OpenFiles.Add(1)
	return nil
}

// publishFile publishes p's open file, if any.
func (d *Dataset) publishFile(p *partition, now time.Time) error {
	f := p.file
	if f == nil {
		return nil
	}
	p.file = nil
	d.counters.OpenFiles.Add(-1)
	if err := f.publish(); err != nil {
		return err
	}
	d.counters.FilesPublished.Add(1)
	d.counters.BytesPublished.Add(f.size())
	d.log.Info("file published", "file", filepath.Join(filepath.Base(p.dir), filepath.Base(f.final)),
		"rows", f.rows, "batches", f.batches, "bytes", f.size(), "open_for", now.Sub(p.openedAt).Round(time.Millisecond))
	return nil
}
