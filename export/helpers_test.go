package export

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/certstream-arrow/certstream-arrow/archive/archivetest"
	"github.com/certstream-arrow/certstream-arrow/schema"
	"github.com/certstream-arrow/certstream-arrow/seal"
	"github.com/certstream-arrow/certstream-arrow/stream"
	"github.com/certstream-arrow/certstream-arrow/stream/streamgen"
)

var hour0 = time.Date(2026, 11, 24, 13, 0, 0, 0, time.UTC)

// sealing describes a sealed hour made by hand for a test: the manifest
// ID, the rows of each sealed file, the rows per record batch, and which
// generated messages fill them.
type sealing struct {
	id        string
	files     []int
	batchRows int
	kind      streamgen.Kind
	seed      uint64
}

// sealHour writes the sealed files of hour and their manifest under root,
// as a seal would leave them, and returns the manifest.
func sealHour(t testing.TB, root string, hour time.Time, s sealing) *seal.Manifest {
	t.Helper()
	dir := filepath.Join(root, seal.HourDir(hour))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	gen := streamgen.New(streamgen.Options{Kind: s.kind, Seed: s.seed, Start: hour, Step: time.Millisecond})
	m := &seal.Manifest{Format: seal.ManifestFormat, ID: s.id, Hour: seal.HourName(hour), SealedAt: hour.Add(90 * time.Minute),
		Program: "test", SchemaVersion: schema.Version}
	for i, rows := range s.files {
		name := fmt.Sprintf("sealed-%s-%s-%03d.feather", hour.Format("20060102T15"), s.id, i+1)
		writeFeather(t, filepath.Join(dir, name), gen, rows, s.batchRows, hour)
		m.Files = append(m.Files, seal.File{Name: name, Rows: int64(rows)})
		m.Rows += int64(rows)
	}
	for i := range m.Files {
		m.Files[i].Bytes, m.Files[i].SHA256 = digest(t, filepath.Join(dir, m.Files[i].Name))
	}
	writeManifest(t, root, hour, m)
	return m
}

func writeManifest(t testing.TB, root string, hour time.Time, m *seal.Manifest) {
	t.Helper()
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, seal.HourDir(hour), seal.ManifestName), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeFeather writes rows generated messages into a zstd Feather file,
// batchRows rows per record batch.
func writeFeather(t testing.TB, path string, gen *streamgen.Generator, rows, batchRows int, hour time.Time) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sch := schema.New("test")
	w, err := ipc.NewFileWriter(f, ipc.WithSchema(sch), ipc.WithZstd())
	if err != nil {
		t.Fatal(err)
	}
	b := schema.NewBuilder(memory.DefaultAllocator, sch)
	defer b.Release()
	var dec stream.Decoder
	flush := func() {
		rec := b.NewRecordBatch()
		defer rec.Release()
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	for i := range rows {
		u, err := dec.Decode(gen.Next())
		if err != nil {
			t.Fatal(err)
		}
		u.ReceivedAt = hour.Add(time.Duration(i) * time.Millisecond)
		b.Append(u)
		if b.Len() == batchRows {
			flush()
		}
	}
	if b.Len() > 0 {
		flush()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func digest(t testing.TB, path string) (int64, string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		t.Fatal(err)
	}
	return n, hex.EncodeToString(h.Sum(nil))
}

// parquetFile is a Parquet file read back with arrow-go's own reader.
type parquetFile struct {
	schema *arrow.Schema
	meta   *metadata.FileMetaData
	rows   []archivetest.Row
}

func readParquet(t testing.TB, path string) parquetFile {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer pf.Close()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 4096}, mem)
	if err != nil {
		t.Fatal(err)
	}
	rr, err := fr.GetRecordReader(t.Context(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	out := parquetFile{schema: rr.Schema(), meta: pf.MetaData()}
	for rr.Next() {
		out.rows = append(out.rows, archivetest.Rows(rr.RecordBatch())...)
	}
	if err := rr.Err(); err != nil && err != io.EOF {
		t.Fatalf("read %s: %v", path, err)
	}
	return out
}

// exportedRows reads every Parquet file of hour in the export tree out,
// checking each against the hour's record (size, SHA-256, rows), and
// that the hour's directory holds nothing else.
func exportedRows(t testing.TB, out string, hour time.Time) (*Record, []archivetest.Row) {
	t.Helper()
	dir := filepath.Join(out, seal.HourDir(hour))
	rec, err := ReadRecord(os.DirFS(dir), ".")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{RecordName}
	var rows []archivetest.Row
	for _, f := range rec.Files {
		want = append(want, f.Name)
		p := filepath.Join(dir, f.Name)
		if n, sum := digest(t, p); n != f.Bytes || sum != f.SHA256 {
			t.Fatalf("%s: %d bytes, SHA-256 %s; record says %d, %s", p, n, sum, f.Bytes, f.SHA256)
		}
		pf := readParquet(t, p)
		if int64(len(pf.rows)) != f.Rows {
			t.Fatalf("%s: %d rows, record says %d", p, len(pf.rows), f.Rows)
		}
		rows = append(rows, pf.rows...)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("%s holds %v, want %v", dir, got, want)
	}
	return rec, rows
}

// sealedRows reads the sealed files of a manifest back, in order.
func sealedRows(t testing.TB, root string, hour time.Time, m *seal.Manifest) []archivetest.Row {
	t.Helper()
	var rows []archivetest.Row
	for _, f := range m.Files {
		ff, err := archivetest.ReadFile(filepath.Join(root, seal.HourDir(hour), f.Name))
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, ff.Rows...)
	}
	return rows
}

// sameOrder fails unless got and want are the same rows in the same order.
func sameOrder(t testing.TB, got, want []archivetest.Row) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for i := range got {
		if g, w := fmt.Sprint(map[string]any(got[i])), fmt.Sprint(map[string]any(want[i])); g != w {
			t.Fatalf("row %d differs:\n got %.800s\nwant %.800s", i, g, w)
		}
	}
}

// testOptions returns the options of an export of root into out, at
// zstd's fastest level (the tests of what is written set the default).
func testOptions(root, out string) Options {
	return Options{Source: root, Out: out, Program: "test", ZstdLevel: 1}
}

// export runs one export and returns what became of each hour.
func export(t testing.TB, o Options) []HourResult {
	t.Helper()
	e, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	res, err := e.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// statuses summarises results as "hour:status" strings.
func statuses(res []HourResult) string {
	var s []string
	for _, r := range res {
		s = append(s, seal.HourName(r.Hour)+":"+string(r.Status))
	}
	return strings.Join(s, " ")
}
