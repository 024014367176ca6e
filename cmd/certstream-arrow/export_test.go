package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/certstream-arrow/certstream-arrow/archive/archivetest"
	"github.com/certstream-arrow/certstream-arrow/export"
)

// exportFixture is a dataset with hour 13 sealed (500 rows) and hour 20
// holding a published file but no manifest (not a neighbour: the same
// keys would be left to it).
func exportFixture(t *testing.T) (root string, sealed []archivetest.Row) {
	t.Helper()
	root = t.TempDir()
	f := publishRows(t, root, "a", 500)
	unsealed := filepath.Join(root, "hour=2026-11-24T20")
	if err := os.Mkdir(unsealed, 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(f)
	os.WriteFile(filepath.Join(unsealed, filepath.Base(f)), b, 0o644)
	seal := &SealCmd{Dir: root, Hour: []string{"2026-11-24T13"}, Memory: 128 << 20, BatchRows: 65536, BatchBytes: 32 << 20,
		FileBytes: 2 << 30, out: &bytes.Buffer{}}
	if err := seal.Run(t.Context(), newLogger(t.Output(), "warn", "text")); err != nil {
		t.Fatal(err)
	}
	for _, f := range archivetest.ReadDataset(t, root) {
		if strings.HasPrefix(f.Path, "hour=2026-11-24T13/sealed-") {
			sealed = append(sealed, f.Rows...)
		}
	}
	if len(sealed) != 500 {
		t.Fatalf("sealed %d rows: %s", len(sealed), seal.out)
	}
	return root, sealed
}

func runExport(t *testing.T, c ExportCmd) (string, error) {
	t.Helper()
	var out bytes.Buffer
	c.out = &out
	if c.Format == "" {
		c.Format, c.ZstdLevel, c.RowGroupRows = "parquet", export.DefaultZstdLevel, export.DefaultRowGroupRows
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("validate: %v", err)
	}
	err := c.Run(t.Context(), newLogger(t.Output(), "warn", "text"))
	return out.String(), err
}

// parquetRows reads every Parquet file under out with arrow-go's reader.
func parquetRows(t *testing.T, out string) []archivetest.Row {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(out, "*", "*.parquet"))
	var rows []archivetest.Row
	for _, p := range paths {
		pf, err := file.OpenParquetFile(p, false)
		if err != nil {
			t.Fatal(err)
		}
		fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 1024}, memory.DefaultAllocator)
		if err != nil {
			t.Fatal(err)
		}
		rr, err := fr.GetRecordReader(t.Context(), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		for rr.Next() {
			rows = append(rows, archivetest.Rows(rr.RecordBatch())...)
		}
		rr.Release()
		pf.Close()
	}
	return rows
}

// The export command writes the sealed hour, reports the unsealed one,
// skips what is up to date on a rerun, and fails (exit status 1) on a
// sealed file that is not as its manifest says.
func TestExportCommand(t *testing.T) {
	root, sealed := exportFixture(t)
	out := filepath.Join(t.TempDir(), "export")

	text, err := runExport(t, ExportCmd{Dir: root, Out: out, DryRun: true})
	if err != nil || !strings.Contains(text, "2026-11-24T13  would export") || !strings.Contains(text, "2026-11-24T20  not sealed") {
		t.Fatalf("dry run = %v:\n%s", err, text)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the dry run made %s", out)
	}

	text, err = runExport(t, ExportCmd{Dir: root, Out: out})
	if err != nil || !strings.Contains(text, "2026-11-24T13  exported") || !strings.Contains(text, "2026-11-24T20  not sealed") {
		t.Fatalf("export = %v:\n%s", err, text)
	}
	archivetest.SameRows(t, parquetRows(t, out), sealed)
	checkDuckDBExport(t, root, out)

	text, err = runExport(t, ExportCmd{Dir: root, Out: out, JSON: true})
	var report struct {
		Hours []struct {
			Hour   string
			Status string
			Rows   int64
			Files  []export.File
		}
	}
	if err != nil || json.Unmarshal([]byte(text), &report) != nil || len(report.Hours) != 2 ||
		report.Hours[0].Status != "up to date" || report.Hours[0].Rows != 500 || len(report.Hours[0].Files) != 1 {
		t.Fatalf("rerun = %v:\n%s", err, text)
	}

	sealedFile, _ := filepath.Glob(filepath.Join(root, "hour=2026-11-24T13", "sealed-*.feather"))
	b, _ := os.ReadFile(sealedFile[0])
	b[len(b)/2] ^= 1
	os.WriteFile(sealedFile[0], b, 0o644)
	text, err = runExport(t, ExportCmd{Dir: root, Out: out, Force: true})
	if !errors.Is(err, errExport) || !strings.Contains(text, "2026-11-24T13  failed") ||
		!strings.Contains(text, "problem: 2026-11-24T13: sealed file hour=2026-11-24T13/sealed-") || !strings.Contains(text, "SHA-256") {
		t.Fatalf("export of a changed file = %v:\n%s", err, text)
	}
	archivetest.SameRows(t, parquetRows(t, out), sealed) // the export before stays
}

// checkDuckDBExport compares, in DuckDB, the export with the sealed files:
// the same rows, the same column types.
func checkDuckDBExport(t *testing.T, root, out string) {
	t.Helper()
	bin, err := filepath.Abs("../../../shared/tools/duckdb")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI needs the DuckDB CLI: %v", err)
		}
		t.Logf("no DuckDB CLI, not checked with DuckDB: %v", err)
		return
	}
	query := func(from string) string {
		sql := "LOAD nanoarrow; DESCRIBE SELECT * FROM " + from + "; SELECT * FROM " + from + " ORDER BY hour, source_url, cert_index;"
		o, err := exec.Command(bin, "-batch", "-json", "-c", sql).CombinedOutput()
		if err != nil {
			t.Fatalf("duckdb: %v\n%s", err, o)
		}
		return string(o)
	}
	want := query("read_arrow('" + root + "/hour=2026-11-24T13/sealed-*.feather')")
	got := query("read_parquet('" + out + "/*/*.parquet', hive_partitioning = true)")
	if got != want || strings.Count(got, `"cert_index":`) != 500 {
		g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
		for i := range min(len(g), len(w)) {
			if g[i] != w[i] {
				t.Fatalf("DuckDB reads the export differently, line %d:\n%.1000s\nthe sealed files:\n%.1000s", i, g[i], w[i])
			}
		}
		t.Fatalf("DuckDB reads the export differently: %d lines, the sealed files %d", len(g), len(w))
	}
}

func TestExportValidate(t *testing.T) {
	root := t.TempDir()
	os.Mkdir(filepath.Join(root, "hour=2026-11-24T13"), 0o755)
	link := filepath.Join(t.TempDir(), "link")
	os.Symlink(root, link)
	other := t.TempDir()
	for _, tc := range []struct {
		name string
		cmd  ExportCmd
		want string
	}{
		{"fine", ExportCmd{Out: filepath.Join(other, "x")}, ""},
		{"inside DIR but beside the hours", ExportCmd{Out: filepath.Join(root, "export")}, ""},
		{"no --out", ExportCmd{}, "--out must name a directory"},
		{"the dataset itself", ExportCmd{Out: root + "/."}, "is the dataset root DIR itself"},
		{"the dataset through a symlink", ExportCmd{Out: link}, "is the dataset root DIR itself"},
		{"in an hour directory", ExportCmd{Out: filepath.Join(root, "hour=2026-11-24T13", "x")}, "inside the dataset's hour=2026-11-24T13"},
		{"an hour directory through a symlink", ExportCmd{Out: filepath.Join(link, "hour=2026-11-25T00")}, "inside the dataset's hour="},
		{"in the seal's work", ExportCmd{Out: filepath.Join(root, ".sealing", "x")}, "inside the dataset's .sealing"},
		{"a file name", ExportCmd{Out: filepath.Join(other, "x.parquet")}, "looks like a single file"},
		{"a system directory", ExportCmd{Out: "/usr"}, "a system directory"},
		{"a bad hour", ExportCmd{Out: other, Hours: []string{"2026-11-24 13"}}, `--hours "2026-11-24 13"`},
		{"a backwards range", ExportCmd{Out: other, Hours: []string{"2026-11-24..2026-11-23"}}, "ends before it starts"},
		{"zstd level", ExportCmd{Out: other, ZstdLevel: 23}, "--zstd-level"},
		{"row group", ExportCmd{Out: other, RowGroupRows: 10}, "--row-group-rows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cmd
			c.Dir = root
			if c.ZstdLevel == 0 {
				c.ZstdLevel = export.DefaultZstdLevel
			}
			if c.RowGroupRows == 0 {
				c.RowGroupRows = export.DefaultRowGroupRows
			}
			err := c.Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestExportHours(t *testing.T) {
	h := func(s string) time.Time {
		v, err := time.Parse("2006-01-02T15", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		spec      []string
		in, notIn []string
	}{
		{[]string{"2026-11-24T13"}, []string{"2026-11-24T13"}, []string{"2026-11-24T12", "2026-11-24T14"}},
		{[]string{"2026-11-24T13", "2026-11-25T02"}, []string{"2026-11-24T13", "2026-11-25T02"}, []string{"2026-11-25T01"}},
		{[]string{"2026-11-24"}, []string{"2026-11-24T00", "2026-11-24T23"}, []string{"2026-11-23T23", "2026-11-25T00"}},
		{[]string{"2026-11-24T22..2026-11-25"}, []string{"2026-11-24T22", "2026-11-25T23"}, []string{"2026-11-24T21", "2026-11-26T00"}},
		{[]string{"2026-11-24T13.."}, []string{"2026-11-24T13", "2030-01-01T00"}, []string{"2026-11-24T12"}},
		{[]string{"..2026-11-24T13"}, []string{"2013-01-01T00", "2026-11-24T13"}, []string{"2026-11-24T14"}},
	} {
		t.Run(strings.Join(tc.spec, ","), func(t *testing.T) {
			pick, err := parseHours(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.in {
				if !pick(h(s)) {
					t.Errorf("%s not selected", s)
				}
			}
			for _, s := range tc.notIn {
				if pick(h(s)) {
					t.Errorf("%s selected", s)
				}
			}
		})
	}
	for _, bad := range []string{"..", "2026-11-24T24", "2026-11", "13", "2026-11-24T13..x", "2026-11-24T14..2026-11-24T13"} {
		if _, err := parseHours([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if pick, err := parseHours(nil); pick != nil || err != nil {
		t.Errorf("no --hours: %v", err)
	}
}
