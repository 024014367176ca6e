package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/archive/archivetest"
	"github.com/certstream-arrow/certstream-arrow/stream/streamgen"
	"github.com/certstream-arrow/certstream-arrow/stream/streamtest"
)

// testMessages returns every recorded message plus generated lite, full and
// domains-only ones whose seen spans three hours.
func testMessages(t *testing.T) [][]byte {
	t.Helper()
	var msgs [][]byte
	for _, rec := range streamtest.LoadRecorded(t) {
		msgs = append(msgs, rec.Data)
	}
	start := time.Date(2026, 5, 20, 13, 0, 0, 0, time.UTC)
	for i, kind := range []streamgen.Kind{streamgen.Lite, streamgen.Full, streamgen.DomainsOnly} {
		g := streamgen.New(streamgen.Options{Kind: kind, Seed: uint64(i), Start: start, Step: 7 * time.Second})
		for range 1500 {
			msgs = append(msgs, g.Next())
		}
	}
	return msgs
}

// frames sends every third message as a binary frame, as some Rust servers do.
func frames(msgs [][]byte) []streamtest.Frame {
	out := streamtest.Text(msgs...)
	for i := range out {
		out[i].Binary = i%3 == 1
	}
	return out
}

func expectRows(t *testing.T, msgs [][]byte) []archivetest.Row {
	t.Helper()
	var want []archivetest.Row
	for _, m := range msgs {
		if row, ok := archivetest.Expect(m); ok {
			want = append(want, row)
		}
	}
	return want
}

func testRunCmd(url, out string) *RunCmd {
	return &RunCmd{
		URL: url, Output: out, BufferSize: 64, FlushInterval: 50 * time.Millisecond,
		RotateRows: 700, RotateBytes: 256 << 20, RotateAge: time.Minute, PartitionBy: "seen",
		QueueSize: 128, QueueBytes: 64 << 20, PingInterval: time.Second, StallTimeout: 10 * time.Second,
		BackoffMin: 5 * time.Millisecond, BackoffMax: 50 * time.Millisecond, ReconnectDelay: 5 * time.Millisecond,
		CloseTimeout: 5 * time.Second,
		Fsync:        "batch", MaxPendingRows: 200_000, MaxPendingBytes: 256 << 20, BatchBytes: 32 << 20, MemoryLimit: "0",
		MaxMessageBytes: 16 << 20, StatsInterval: 0,
	}
}

// globReader reads every published file over and over until stop closes,
// failing the test if one is ever partial or unreadable.
func globReader(t *testing.T, root string, stop <-chan struct{}) (reads *int, wait func()) {
	var wg sync.WaitGroup
	n := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			paths, _ := filepath.Glob(filepath.Join(root, "*", "*.feather"))
			for _, p := range paths {
				if _, err := archivetest.ReadFile(p); err != nil {
					t.Errorf("concurrent reader: %s: %v", p, err)
					return
				}
				n++
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return &n, wg.Wait
}

func TestEndToEnd(t *testing.T) {
	msgs := testMessages(t)
	replay := streamtest.NewReplay(frames(msgs))
	srv := streamtest.NewServer(t, replay.Session)
	root := t.TempDir()
	cmd := testRunCmd(srv.URL, root)
	if err := cmd.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- cmd.Run(ctx, newLogger(t.Output(), "info", "text")) }()

	stop := make(chan struct{})
	reads, waitReader := globReader(t, root, stop)
	select {
	case <-replay.Synced():
	case <-time.After(2 * time.Minute):
		t.Fatal("the archiver did not read every frame")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	close(stop)
	waitReader()
	end := time.Now()

	files := archivetest.ReadDataset(t, root)
	rows := archivetest.AllRows(files)
	archivetest.SameRows(t, rows, expectRows(t, msgs), "received_at")
	for _, r := range rows {
		at, ok := r["received_at"].(time.Time)
		if !ok || at.Before(start.Truncate(time.Microsecond)) || at.After(end) {
			t.Fatalf("received_at %v outside the run [%v, %v]", r["received_at"], start, end)
		}
	}
	checkHours(t, files)
	checkNoStrays(t, root)
	t.Logf("%d rows in %d files; the concurrent reader read %d published files", len(rows), len(files), *reads)
}

// checkHours asserts each row sits in the directory of its seen hour, or of
// its received hour when seen is missing or implausible.
func checkHours(t *testing.T, files []archivetest.File) {
	t.Helper()
	floor := time.Date(2013, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, f := range files {
		dir := filepath.Dir(f.Path)
		for _, r := range f.Rows {
			at := r["received_at"].(time.Time)
			if seen, ok := r["seen"].(time.Time); ok && !seen.Before(floor) && seen.Before(at.Add(24*time.Hour)) {
				at = seen
			}
			if want := archive.HourPrefix + at.UTC().Format(archive.HourFormat); dir != want {
				t.Fatalf("%s: row with seen %v received %v belongs in %s", f.Path, r["seen"], r["received_at"], want)
			}
		}
	}
}

// checkNoStrays asserts the root holds only hour directories of published
// .feather files and collector lock files: no temporary names, no empty
// directories, nothing else.
func checkNoStrays(t *testing.T, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || path == root {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		switch {
		case d.IsDir() && strings.HasPrefix(rel, archive.HourPrefix) && !strings.Contains(rel, "/"):
			if entries, _ := os.ReadDir(path); len(entries) == 0 {
				t.Errorf("empty partition directory %s", rel)
			}
		case !d.IsDir() && strings.Count(rel, "/") == 1 && strings.HasSuffix(rel, archive.Ext) && !strings.HasPrefix(d.Name(), "."):
		case !d.IsDir() && !strings.Contains(rel, "/") && strings.HasPrefix(rel, ".collector-") && strings.HasSuffix(rel, ".lock"):
		default:
			t.Errorf("stray entry %s", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
