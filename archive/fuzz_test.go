package archive

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// fuzzBudget is the read budget of the fuzz targets, and fuzzSlack what
// the Go heap may grow by besides (zstd decoders, metadata, reader state).
// A damaged file must not make a reader allocate more than the two
// together, whatever it declares.
const (
	fuzzBudget = 16 << 20
	fuzzSlack  = 64 << 20
)

// fuzzSeeds adds a real two-batch file and damaged copies of it: cut at
// every message boundary and inside each part of a message, and with the
// metadata length, body length and each buffer's uncompressed length set to
// huge, negative and zero values.
func fuzzSeeds(f *testing.F) {
	data := fileBytes(f, 20, 10)
	f.Add(data)
	huge := []uint64{0, 1 << 31, 1<<31 - 1, 1 << 40, 1 << 63, 1<<64 - 1, 1<<64 - 2}
	for _, m := range messages(f, data) {
		for _, cut := range []int{m.start, m.start + 6, m.meta + 3, m.body, m.body + int(m.bodyLen)/2} {
			f.Add(data[:cut])
		}
		for _, v := range huge {
			f.Add(patched(data, m.start+4, uint32(v)))
			if at := fbRoot(data[m.meta:m.body]).field(3); at != 0 {
				f.Add(patched(data, m.meta+at, v))
			}
			for _, b := range m.buffers {
				if b[1] >= 8 {
					f.Add(patched(data, b[0], v))
				}
			}
		}
	}
	footer := len(data) - 10
	for _, v := range huge {
		f.Add(patched(data, footer, uint32(v)))
	}
}

// useBatch reads every value of rec, as inspect does with the columns it
// needs.
func useBatch(rec arrow.RecordBatch) {
	for _, col := range rec.Columns() {
		for i := range col.Len() {
			_ = col.ValueStr(i)
		}
	}
}

// heapGrowth returns how many bytes the Go heap allocated while fn ran.
func heapGrowth(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// checkBounded fails if fn allocated beyond the budget, or left bytes of
// mem allocated after a clean read.
func checkBounded(t *testing.T, data []byte, grew uint64, mem *budgetAllocator) {
	t.Helper()
	if limit := uint64(fuzzBudget + fuzzSlack + 4*len(data)); grew > limit {
		t.Errorf("reading %d bytes allocated %d bytes, more than %d", len(data), grew, limit)
	}
	if mem.Live() > fuzzBudget {
		t.Errorf("%d bytes live, over the budget", mem.Live())
	}
}

// FuzzReadBatches reads damaged files as crash salvage does: never a panic,
// never a fatal error, memory bounded by the budget.
func FuzzReadBatches(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		mem := newBudgetAllocator(memory.NewGoAllocator(), fuzzBudget)
		var err error
		grew := heapGrowth(func() {
			err = readBatchesBudget(bytes.NewReader(data), int64(len(data)), mem, func(rec arrow.RecordBatch) error {
				useBatch(rec)
				return nil
			})
		})
		if err != nil && !isTorn(err) {
			t.Fatalf("error not marked torn: %v", err)
		}
		checkBounded(t, data, grew, mem)
	})
}

// FuzzWalkFile reads damaged published files as inspect does: never a
// panic, never a fatal error, memory bounded by the budget.
func FuzzWalkFile(f *testing.F) {
	fuzzSeeds(f)
	dir := f.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "hour=2026-11-24T13"), 0o755); err != nil {
		f.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { root.Close() })
	const name = "hour=2026-11-24T13/f.feather"
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := root.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
		mem := newBudgetAllocator(memory.NewGoAllocator(), fuzzBudget)
		pf := PublishedFile{Path: name}
		grew := heapGrowth(func() {
			_ = walkFileBudget(root, &pf, mem, func(_ PublishedFile, rec arrow.RecordBatch) error {
				useBatch(rec)
				return nil
			})
		})
		checkBounded(t, data, grew, mem)
	})
}
