package archive

import (
	"bytes"
	"syscall"
	"testing"
	"time"

	"github.com/certstream-arrow/certstream-arrow/archive/archivetest"
	"github.com/certstream-arrow/certstream-arrow/stream"
)

// bigRow is row i carrying a DER of n bytes, as a message just under the
// size limit does.
func bigRow(i, n int) *stream.Update {
	u := row(i)
	u.DER = bytes.Repeat([]byte{byte(i)}, n)
	return u
}

// Huge rows cut a batch long before BatchRows: memory follows bytes, not
// only rows, and every row still reaches the files.
func TestBatchCutByBytes(t *testing.T) {
	d, _, _, root := openFaulty(t, func(o *Options) {
		o.BatchRows = 1000
		o.BatchBytes = 1 << 20
	})
	for i := range 20 {
		d.Append(bigRow(i, 300<<10))
		// The batch being built and the one being written: each at most
		// the cap plus the row that crossed it.
		if got := d.Counters().BytesPending.Load(); got > 2*(1<<20+400<<10) {
			t.Fatalf("after row %d: %d bytes pending, more than two batches", i, got)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	files := archivetest.ReadDataset(t, root)
	rows, batches := 0, 0
	for _, f := range files {
		rows += len(f.Rows)
		batches += f.Batches
		for _, r := range f.Rows {
			if der := r["as_der"].([]byte); len(der) != 300<<10 {
				t.Fatalf("as_der of %d bytes, want %d", len(der), 300<<10)
			}
		}
	}
	// 4 rows of 300 KiB reach 1 MiB: batches of 4, and a last one of 0-4.
	if rows != 20 || batches != 5 {
		t.Fatalf("%d rows in %d batches, want 20 in 5", rows, batches)
	}
	if got := d.Counters().BytesPending.Load(); got != 0 {
		t.Fatalf("%d bytes still counted pending after Close", got)
	}
}

// While writes fail, the rows kept in memory are bounded by bytes too:
// huge rows beyond MaxPendingBytes are dropped and counted, and those kept
// are written once the disk is back.
func TestPendingBytesBounded(t *testing.T) {
	d, ffs, clk, root := openFaulty(t, func(o *Options) {
		o.MaxPendingRows = 1_000_000
		o.MaxPendingBytes = 2 << 20
		o.BatchBytes = 512 << 10
	})
	ffs.set(func(f *faultFS) { f.createErr = syscall.ENOSPC })
	for i := range 40 {
		d.Append(bigRow(i, 256<<10))
	}
	c := d.Counters()
	if c.BytesPending.Load() > 2<<20+256<<10+1024 || c.RowsDropped.Load() == 0 {
		t.Fatalf("pending %d bytes, dropped %d rows: want at most 2 MiB plus a row, and drops", c.BytesPending.Load(), c.RowsDropped.Load())
	}
	kept := c.RowsPending.Load()
	if kept+c.RowsDropped.Load() != 40 {
		t.Fatalf("%d kept + %d dropped != 40", kept, c.RowsDropped.Load())
	}
	ffs.set(func(f *faultFS) { f.createErr = nil })
	clk.now = clk.now.Add(time.Minute)
	d.Tick(clk.now)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if got := cindexes(t, root); int64(len(got)) != kept {
		t.Fatalf("%d rows published, want the %d kept", len(got), kept)
	}
}
