package export

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/certstream-arrow/certstream-arrow/schema"
	"github.com/certstream-arrow/certstream-arrow/seal"
	"github.com/certstream-arrow/certstream-arrow/stream/streamgen"
)

// Every row of every sealed file comes back from the Parquet files, in the
// same order, with the dataset's exact Arrow types, and nothing leaks.
func TestExportCopiesRows(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    sealing
	}{
		{"lite, one file", sealing{id: "aaaa0001", files: []int{2000}, batchRows: 1000, kind: streamgen.Lite, seed: 1}},
		{"full, two files", sealing{id: "bbbb0002", files: []int{600, 300}, batchRows: 256, kind: streamgen.Full, seed: 2}},
		{"batches not multiples of slices", sealing{id: "cccc0003", files: []int{9000}, batchRows: 8500, kind: streamgen.Lite, seed: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, out := t.TempDir(), filepath.Join(t.TempDir(), "export")
			m := sealHour(t, root, hour0, tc.s)
			mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
			o := testOptions(root, out)
			o.Allocator, o.ZstdLevel = mem, DefaultZstdLevel
			res := export(t, o)
			mem.AssertSize(t, 0)
			if len(res) != 1 || res[0].Status != Exported || res[0].Rows != m.Rows || res[0].ManifestID != m.ID {
				t.Fatalf("results %+v", res)
			}
			rec, rows := exportedRows(t, out, hour0)
			sameOrder(t, rows, sealedRows(t, root, hour0, m))
			if rec.ManifestID != m.ID || rec.Rows != m.Rows || len(rec.Files) != len(m.Files) {
				t.Fatalf("record %+v", rec)
			}
			for i, f := range rec.Files {
				if f.Source != m.Files[i].Name || f.Name != PartName(f.Source) || !strings.HasSuffix(f.Name, ".parquet") {
					t.Errorf("file %d: %+v", i, f)
				}
				pf := readParquet(t, filepath.Join(out, seal.HourDir(hour0), f.Name))
				checkSchema(t, pf.schema)
				kv := pf.meta.KeyValueMetadata()
				if kv.FindValue(MetaManifestID) == nil || *kv.FindValue(MetaManifestID) != m.ID ||
					*kv.FindValue(MetaSealedFile) != f.Source || *kv.FindValue(schema.MetaSchemaVersion) != schema.Version {
					t.Errorf("key-value metadata %v", kv)
				}
			}
			if _, err := os.Stat(filepath.Join(out, workDir)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("work directory left behind: %v", err)
			}
		})
	}
}

// checkSchema compares the schema read back with the dataset's: the same
// columns, in order, of the same types (the stored Arrow schema restores
// large types and fixed-size digests; timestamps in seconds come back in
// milliseconds, as Parquet stores them, with the same time zone).
func checkSchema(t testing.TB, got *arrow.Schema) {
	t.Helper()
	want := schema.New("test")
	if got.NumFields() != want.NumFields() {
		t.Fatalf("%d columns, want %d", got.NumFields(), want.NumFields())
	}
	for i, w := range want.Fields() {
		g := got.Field(i)
		wt := w.Type
		if ts, ok := wt.(*arrow.TimestampType); ok && ts.Unit == arrow.Second {
			wt = &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: ts.TimeZone}
		}
		same := arrow.TypeEqual(g.Type, wt)
		if l, ok := wt.(*arrow.LargeListType); ok { // Parquet names a list's items "element", Arrow "item"
			gl, ok := g.Type.(*arrow.LargeListType)
			same = ok && arrow.TypeEqual(gl.Elem(), l.Elem())
		}
		if g.Name != w.Name || !same {
			t.Errorf("column %d: %s %s, want %s %s", i, g.Name, g.Type, w.Name, wt)
		}
	}
}

// Row groups hold at most RowGroupRows rows, and are cut early once their
// finished pages hold RowGroupBytes (checked every 512 rows here, about
// 400 kB of full rows, while up to 1 MiB of as_der waits in an unfinished
// page); dictionaries are where they pay, statistics
// everywhere but as_der.
func TestExportRowGroups(t *testing.T) {
	root := t.TempDir()
	m := sealHour(t, root, hour0, sealing{id: "dddd0004", files: []int{4000}, batchRows: 1500, kind: streamgen.Full, seed: 4})
	for _, tc := range []struct {
		name          string
		rows, bytes   int64
		groups        int
		maxRows       int64
		maxCompressed int64
	}{
		{"by rows", 1000, 1 << 30, 4, 1000, 1 << 30},
		// Up to a page of as_der (1 MiB) and a slice beyond the limit.
		{"by bytes", 1 << 20, 1 << 20, 2, 2600, 1<<20 + 1<<20 + 512<<10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			o := testOptions(root, out)
			o.RowGroupRows, o.RowGroupBytes, o.sliceRows = tc.rows, tc.bytes, 512
			export(t, o)
			pf := readParquet(t, filepath.Join(out, seal.HourDir(hour0), PartName(m.Files[0].Name)))
			md := pf.meta
			if md.NumRowGroups() < tc.groups {
				t.Errorf("%d row groups, want at least %d", md.NumRowGroups(), tc.groups)
			}
			for g := range md.NumRowGroups() {
				rg := md.RowGroup(g)
				if rg.NumRows() > tc.maxRows || rg.NumRows() == 0 || rg.TotalCompressedSize() > tc.maxCompressed {
					t.Errorf("row group %d: %d rows, %d bytes compressed", g, rg.NumRows(), rg.TotalCompressedSize())
				}
				checkColumns(t, rg)
			}
		})
	}
}

func checkColumns(t testing.TB, rg *metadata.RowGroupMetaData) {
	t.Helper()
	for c := range rg.NumColumns() {
		col, err := rg.ColumnChunk(c)
		if err != nil {
			t.Fatal(err)
		}
		name := col.PathInSchema().String()
		if col.Compression() != compress.Codecs.Zstd {
			t.Errorf("%s: compression %s", name, col.Compression())
		}
		dict := col.HasDictionaryPage()
		if want := slices.Contains(dictionaryColumns, name); dict != want && name != "subject_o" && name != "chain_subjects.list.element" {
			t.Errorf("%s: dictionary %v, want %v", name, dict, want)
		}
		stats, err := col.StatsSet()
		if err != nil {
			t.Fatal(err)
		}
		if stats != (name != "as_der") {
			t.Errorf("%s: statistics %v", name, stats)
		}
	}
}
