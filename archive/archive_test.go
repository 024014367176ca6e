package archive_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/archive/archivetest"
	"github.com/certstream-arrow/certstream-arrow/schema"
	"github.com/certstream-arrow/certstream-arrow/stream"
)

type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

var t0 = time.Date(2026, 11, 24, 13, 0, 0, 0, time.UTC)

func open(t *testing.T, mutate func(*archive.Options)) (*archive.Dataset, *clock, string) {
	t.Helper()
	clk := &clock{now: t0}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	opts := archive.Options{
		Root:          t.TempDir(),
		Schema:        schema.New("test"),
		BatchRows:     10,
		FlushInterval: 10 * time.Second,
		RotateAge:     time.Hour,
		Allocator:     mem,
		Now:           clk.Now,
	}
	if mutate != nil {
		mutate(&opts)
	}
	ds, err := archive.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	return ds, clk, opts.Root
}

// update returns a certificate update numbered i, received at clk's time.
func update(i int, at time.Time) *stream.Update {
	return &stream.Update{
		Kind: stream.KindCertificate, ReceivedAt: at, Seen: at,
		CertIndex: int64(i), HasCertIndex: true,
		Domains: [][]byte{fmt.Appendf(nil, "host%d.example", i)},
	}
}

func indexes(rows []archivetest.Row) map[int64]int {
	seen := map[int64]int{}
	for _, r := range rows {
		seen[r["cert_index"].(int64)]++
	}
	return seen
}

func tmpFiles(t *testing.T, root string) []string {
	t.Helper()
	tmps, _ := filepath.Glob(filepath.Join(root, "*", "*"+archive.TmpSuffix))
	return tmps
}

// An hour's files are published as soon as the hour is over, without
// waiting for another message or for Close.
func TestHourEndPublishesPromptly(t *testing.T) {
	ds, clk, root := open(t, nil)
	n := 0
	for h := range 3 {
		for range 25 {
			clk.now = t0.Add(time.Duration(h)*time.Hour + time.Duration(n)*time.Second)
			ds.Append(update(n, clk.now))
			n++
		}
	}
	// Still in the third hour: the first two are published, the third is not.
	ds.Tick(clk.now)
	files := archivetest.ReadDataset(t, root)
	hours := map[string]int{}
	for _, f := range files {
		hours[filepath.Dir(f.Path)] += len(f.Rows)
	}
	want := map[string]int{"hour=2026-11-24T13": 25, "hour=2026-11-24T14": 25}
	if fmt.Sprint(hours) != fmt.Sprint(want) {
		t.Fatalf("published before Close: %v, want %v", hours, want)
	}
	// The third hour ends: one tick publishes it.
	clk.now = t0.Add(3 * time.Hour)
	ds.Tick(clk.now)
	rows := archivetest.AllRows(archivetest.ReadDataset(t, root))
	if len(rows) != 75 || len(indexes(rows)) != 75 {
		t.Fatalf("%d rows (%d distinct), want 75", len(rows), len(indexes(rows)))
	}
	if tmps := tmpFiles(t, root); len(tmps) != 0 {
		t.Fatalf("temporary files left: %v", tmps)
	}
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestRotation(t *testing.T) {
	tests := []struct {
		name      string
		opts      func(*archive.Options)
		step      time.Duration
		wantFiles int
	}{
		{"rows", func(o *archive.Options) { o.RotateRows = 30 }, time.Millisecond, 4},        // 30+30+30+10
		{"bytes", func(o *archive.Options) { o.RotateBytes = 1 }, time.Millisecond, 10},      // every batch
		{"age", func(o *archive.Options) { o.RotateAge = 20 * time.Second }, time.Second, 4}, // open 10s→30s, 40→60, 70→90, 100→Close
		{"none within the hour", nil, time.Millisecond, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds, clk, root := open(t, tt.opts)
			for i := range 100 {
				clk.now = clk.now.Add(tt.step)
				ds.Append(update(i, clk.now))
				ds.Tick(clk.now)
			}
			if err := ds.Close(); err != nil {
				t.Fatal(err)
			}
			files := archivetest.ReadDataset(t, root)
			rows := archivetest.AllRows(files)
			if len(files) != tt.wantFiles || len(rows) != 100 || len(indexes(rows)) != 100 {
				t.Fatalf("%d files, %d rows (%d distinct); want %d files, 100 rows", len(files), len(rows), len(indexes(rows)), tt.wantFiles)
			}
			for _, f := range files {
				if md, _ := f.Schema.Metadata().GetValue(schema.MetaSchemaVersion); md != schema.Version {
					t.Errorf("%s: schema version %q", f.Path, md)
				}
			}
		})
	}
}

// A partly filled batch is written to the temporary file once it has waited
// FlushInterval, and that file read from byte 8 already yields the rows:
// the property crash salvage relies on.
func TestFlushIntervalWritesTemporaryFile(t *testing.T) {
	ds, clk, root := open(t, func(o *archive.Options) { o.BatchRows = 1000 })
	for i := range 3 {
		ds.Append(update(i, clk.now))
	}
	clk.now = clk.now.Add(9 * time.Second)
	ds.Tick(clk.now)
	if tmps := tmpFiles(t, root); len(tmps) != 0 {
		t.Fatalf("batch written before the flush interval: %v", tmps)
	}
	clk.now = clk.now.Add(time.Second)
	ds.Tick(clk.now)
	tmps := tmpFiles(t, root)
	if len(tmps) != 1 || len(archivetest.Published(t, root)) != 0 {
		t.Fatalf("after the flush interval: temporary %v, published %v", tmps, archivetest.Published(t, root))
	}
	rows, err := archivetest.ReadPartialStream(tmps[0])
	if err != nil || len(rows) != 3 {
		t.Fatalf("temporary file as a stream from byte 8: %d rows, %v", len(rows), err)
	}
	if c := ds.Counters(); c.Rows.Load() != 3 || c.RowsPending.Load() != 0 || c.OpenFiles.Load() != 1 {
		t.Fatalf("counters: rows %d, pending %d, open files %d", c.Rows.Load(), c.RowsPending.Load(), c.OpenFiles.Load())
	}
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
	if got := len(archivetest.AllRows(archivetest.ReadDataset(t, root))); got != 3 {
		t.Fatalf("%d rows after Close, want 3", got)
	}
}

func TestPartitionBy(t *testing.T) {
	received := time.Date(2026, 11, 24, 13, 30, 0, 0, time.UTC)
	tests := []struct {
		name string
		by   archive.PartitionBy
		seen time.Time
		want string
	}{
		{"received ignores seen", archive.ByReceived, received.Add(-5 * time.Hour), "hour=2026-11-24T13"},
		{"seen", archive.BySeen, received.Add(-5 * time.Hour), "hour=2026-11-24T08"},
		{"seen years ago", archive.BySeen, time.Date(2018, 6, 1, 7, 59, 0, 0, time.UTC), "hour=2018-06-01T07"},
		{"seen missing", archive.BySeen, time.Time{}, "hour=2026-11-24T13"},
		{"seen before CT existed", archive.BySeen, time.Unix(1, 0), "hour=2026-11-24T13"},
		{"seen a day ahead", archive.BySeen, received.Add(25 * time.Hour), "hour=2026-11-24T13"},
		{"seen slightly ahead", archive.BySeen, received.Add(time.Hour), "hour=2026-11-24T14"},
		// ByEntry reads the entry's timestamp, not seen (set to the same
		// value below, and checked to be ignored by the other modes).
		{"entry", archive.ByEntry, received.Add(-30 * time.Hour), "hour=2026-11-23T07"},
		{"entry missing", archive.ByEntry, time.Time{}, "hour=2026-11-24T13"},
		{"entry a day ahead", archive.ByEntry, received.Add(25 * time.Hour), "hour=2026-11-24T13"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds, _, root := open(t, func(o *archive.Options) { o.PartitionBy = tt.by })
			u := update(1, received)
			u.Seen = tt.seen
			if tt.by == archive.ByEntry {
				u.Seen, u.EntryTime = received.Add(-2*time.Hour), tt.seen
			}
			ds.Append(u)
			if err := ds.Close(); err != nil {
				t.Fatal(err)
			}
			files := archivetest.ReadDataset(t, root)
			if len(files) != 1 || filepath.Dir(files[0].Path) != tt.want {
				t.Fatalf("files %v, want one in %s", files, tt.want)
			}
		})
	}
}

// File names are unique across Datasets sharing a root (several collectors,
// or restarts within the same second), sort chronologically, and never
// match *.feather while being written.
func TestFileNamesUniqueAcrossCollectors(t *testing.T) {
	clk := &clock{now: t0}
	root := t.TempDir()
	for i := range 3 {
		ds, err := archive.Open(archive.Options{Root: root, Schema: schema.New("test"), BatchRows: 1, FlushInterval: time.Second,
			Now: clk.Now, Collector: fmt.Sprintf("c%d", i%2)})
		if err != nil {
			t.Fatal(err)
		}
		ds.Append(update(1, clk.now))
		if err := ds.Close(); err != nil {
			t.Fatal(err)
		}
	}
	files := archivetest.Published(t, root)
	if len(files) != 3 {
		t.Fatalf("%d files from 3 collectors: %v", len(files), files)
	}
	for _, f := range files {
		if !strings.HasPrefix(filepath.Base(f), "20261124T130000Z-c") {
			t.Errorf("name %s does not start with the open time", filepath.Base(f))
		}
	}
}

func TestOpenRefusesBadRoot(t *testing.T) {
	file := filepath.Join(t.TempDir(), "plain-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := archive.Open(archive.Options{Root: file, Schema: schema.New("test"), BatchRows: 1})
	if err == nil || !strings.Contains(err.Error(), "dataset root") {
		t.Fatalf("root that is a file: err %v", err)
	}
}

// The root is resolved once: relative, absolute, with "..", or with odd
// characters, files land exactly under it.
func TestRootPaths(t *testing.T) {
	base := t.TempDir()
	t.Chdir(base)
	tests := []struct{ given, want string }{
		{"data", filepath.Join(base, "data")},
		{"./x/../data2", filepath.Join(base, "data2")},
		{filepath.Join(base, "abs", "root"), filepath.Join(base, "abs", "root")},
		{"odd name\nwith newline and spaces", filepath.Join(base, "odd name\nwith newline and spaces")},
	}
	for i, tt := range tests {
		ds, err := archive.Open(archive.Options{Root: tt.given, Schema: schema.New("test"), BatchRows: 1, Collector: fmt.Sprintf("c%d", i)})
		if err != nil {
			t.Fatalf("%q: %v", tt.given, err)
		}
		if ds.Root() != tt.want {
			t.Errorf("%q resolved to %q, want %q", tt.given, ds.Root(), tt.want)
		}
		ds.Append(update(i, time.Now()))
		if err := ds.Close(); err != nil {
			t.Fatal(err)
		}
		if got := len(archivetest.Published(t, tt.want)); got != 1 {
			t.Errorf("%q: %d files under %q", tt.given, got, tt.want)
		}
	}
	if _, err := os.Stat(filepath.Join(base, "x")); err == nil {
		t.Error(`"./x/../data2" created x`)
	}
}

func TestParsePartitionBy(t *testing.T) {
	for in, want := range map[string]archive.PartitionBy{"received": archive.ByReceived, "seen": archive.BySeen} {
		if got, err := archive.ParsePartitionBy(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	if _, err := archive.ParsePartitionBy("sent"); err == nil {
		t.Error(`"sent" accepted`)
	}
}
