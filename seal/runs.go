package seal

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/certstream-arrow/certstream-arrow/archive"
)

// sorter sorts an hour's rows by (source_url, cert_index) in bounded
// memory: batches are held until they reach the budget, then their rows
// are sorted and written to a spill file (a run); the merge reads every
// run at once, one small batch of each at a time. An hour that fits in the
// budget is never spilled.
type sorter struct {
	tree    *archive.Tree
	dir     string // for spill files
	schema  *arrow.Schema
	mem     memory.Allocator
	budget  int64
	spillN  int   // rows per spill batch at most
	spillB  int64 // ... and bytes: the merge holds one batch per run
	batches []*view
	bytes   int64
	spills  []string
}

// ref is one row of a held batch, with its sort key.
type ref struct {
	url   string
	index int64
	keyed bool
	batch int32
	row   int32
}

func compareRefs(a, b ref) int {
	if a.keyed != b.keyed {
		if a.keyed {
			return -1
		}
		return 1
	}
	if !a.keyed {
		return 0 // unkeyed rows keep their order (stable sort)
	}
	return cmp.Or(cmp.Compare(a.url, b.url), cmp.Compare(a.index, b.index))
}

// add holds v's batch (retaining it) and spills the held rows once they
// reach the budget.
func (s *sorter) add(v *view) error {
	v.rec.Retain()
	s.batches = append(s.batches, v)
	s.bytes += recordBytes(v.rec)
	if s.bytes >= s.budget {
		return s.spill()
	}
	return nil
}

// sorted returns the held rows in key order.
func (s *sorter) sorted() []ref {
	var refs []ref
	for b, v := range s.batches {
		for i := range int(v.rec.NumRows()) {
			r := ref{keyed: v.keyed(i), batch: int32(b), row: int32(i)}
			if r.keyed {
				r.url, r.index = v.url.Value(i), v.index.Value(i)
			}
			refs = append(refs, r)
		}
	}
	slices.SortStableFunc(refs, compareRefs)
	return refs
}

// spill writes the held rows, sorted, to a new run file and lets go of
// them.
func (s *sorter) spill() (err error) {
	name := fmt.Sprintf("run-%04d.arrows", len(s.spills)+1)
	f, err := s.tree.CreateScratch(s.dir, name)
	if err != nil {
		return err
	}
	s.spills = append(s.spills, name)
	defer func() { err = errors.Join(err, f.Close()) }()
	buf := bufio.NewWriterSize(f, 1<<20)
	w := ipc.NewWriter(buf, ipc.WithSchema(s.schema), ipc.WithLZ4(), ipc.WithAllocator(s.mem))
	rb := array.NewRecordBuilder(s.mem, s.schema)
	defer rb.Release()
	views := make([]*view, len(s.batches))
	for i, v := range s.batches {
		if views[i], err = bind(v.rec, rb); err != nil {
			return err
		}
	}
	n, bytes := 0, int64(0)
	for _, r := range s.sorted() {
		v := views[r.batch]
		v.emit(int(r.row))
		n, bytes = n+1, bytes+v.rowBytes
		if n == s.spillN || bytes >= s.spillB {
			if err := writeBatch(w, rb); err != nil {
				return fmt.Errorf("spill %s: %w", name, err)
			}
			n, bytes = 0, 0
		}
	}
	if n > 0 {
		if err := writeBatch(w, rb); err != nil {
			return fmt.Errorf("spill %s: %w", name, err)
		}
	}
	if err := errors.Join(w.Close(), buf.Flush()); err != nil {
		return fmt.Errorf("spill %s: %w", name, err)
	}
	s.release()
	return nil
}

func writeBatch(w interface{ Write(arrow.RecordBatch) error }, rb *array.RecordBuilder) error {
	rec := rb.NewRecordBatch()
	defer rec.Release()
	return w.Write(rec)
}

func (s *sorter) release() {
	for _, v := range s.batches {
		v.rec.Release()
	}
	s.batches, s.bytes = nil, 0
}

// cursors returns a cursor over each run: the spilled ones and the rows
// still held, each bound to the output builder rb.
func (s *sorter) cursors(rb *array.RecordBuilder) ([]cursor, error) {
	var cs []cursor
	for _, name := range s.spills {
		f, err := s.tree.Open(s.dir + "/" + name)
		if err != nil {
			closeAll(cs)
			return nil, err
		}
		c := &fileCursor{f: f, name: name, rb: rb}
		if c.rd, err = ipc.NewReader(bufio.NewReaderSize(f, 64<<10), ipc.WithAllocator(s.mem)); err != nil {
			f.Close()
			closeAll(cs)
			return nil, fmt.Errorf("read spill %s: %w", name, err)
		}
		cs = append(cs, c)
	}
	if len(s.batches) > 0 {
		c := &memCursor{refs: s.sorted(), pos: -1}
		for _, v := range s.batches {
			bv, err := bind(v.rec, rb)
			if err != nil {
				closeAll(cs)
				return nil, err
			}
			c.views = append(c.views, bv)
		}
		cs = append(cs, c)
	}
	return cs, nil
}

// cursor walks one sorted run. at is valid after a next that returned true;
// the view it returns stays valid until the merge's release of left-behind
// batches (a batch a cursor moves past is handed to later, not released).
type cursor interface {
	next(later func(arrow.RecordBatch)) (bool, error)
	at() (*view, int, ref)
	close() error
}

func closeAll(cs []cursor) {
	for _, c := range cs {
		c.close()
	}
}

// memCursor walks the rows the sorter still holds.
type memCursor struct {
	refs  []ref
	views []*view
	pos   int
}

func (c *memCursor) next(func(arrow.RecordBatch)) (bool, error) {
	c.pos++
	return c.pos < len(c.refs), nil
}

func (c *memCursor) at() (*view, int, ref) {
	r := c.refs[c.pos]
	return c.views[r.batch], int(r.row), r
}

// close does nothing: the rows stay held until the sorter's release, after
// the merge, as the last group may still point at them.
func (c *memCursor) close() error { return nil }

// fileCursor walks a spill file.
type fileCursor struct {
	f    *os.File
	name string
	rd   *ipc.Reader
	rb   *array.RecordBuilder
	v    *view
	row  int
	cur  ref
}

func (c *fileCursor) next(later func(arrow.RecordBatch)) (bool, error) {
	c.row++
	for c.v == nil || c.row >= int(c.v.rec.NumRows()) {
		if c.v != nil {
			later(c.v.rec)
			c.v = nil
		}
		if !c.rd.Next() {
			if err := c.rd.Err(); err != nil && !errors.Is(err, io.EOF) {
				return false, fmt.Errorf("read spill %s: %w", c.name, err)
			}
			return false, nil
		}
		rec := c.rd.RecordBatch()
		rec.Retain()
		v, err := bind(rec, c.rb)
		if err != nil {
			rec.Release()
			return false, err
		}
		c.v, c.row = v, 0
	}
	c.cur = ref{keyed: c.v.keyed(c.row)}
	if c.cur.keyed {
		c.cur.url, c.cur.index = c.v.url.Value(c.row), c.v.index.Value(c.row)
	}
	return true, nil
}

func (c *fileCursor) at() (*view, int, ref) { return c.v, c.row, c.cur }

func (c *fileCursor) close() error {
	if c.v != nil {
		c.v.rec.Release()
		c.v = nil
	}
	c.rd.Release()
	return c.f.Close()
}

// recordBytes is the memory rec's buffers take.
func recordBytes(rec arrow.RecordBatch) int64 {
	var n int64
	for _, c := range rec.Columns() {
		n += dataBytes(c.Data())
	}
	return n
}

func dataBytes(d arrow.ArrayData) int64 {
	var n int64
	for _, b := range d.Buffers() {
		if b != nil {
			n += int64(b.Len())
		}
	}
	for _, c := range d.Children() {
		n += dataBytes(c)
	}
	return n
}
