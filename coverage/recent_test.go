package coverage_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/coverage"
	"github.com/certstream-arrow/certstream-arrow/schema"
)

// ScanRecent reads the window's hours and one hour of margin before them,
// and nothing older: a log's range owed starts at its first index held in
// the window, and what the margin holds from there on counts as held (an
// entry backfilled into the hour before the window is not missing).
func TestScanRecent(t *testing.T) {
	root := t.TempDir()
	ds, err := archive.Open(archive.Options{Root: root, Schema: schema.New("test"), Collector: "t", BatchRows: 10})
	if err != nil {
		t.Fatal(err)
	}
	put := func(url string, h time.Time, from, to int64) {
		for i := from; i < to; i++ {
			u := row(url, i)
			u.ReceivedAt = h.Add(time.Minute)
			ds.Append(u)
		}
	}
	window := hour                                // 13:00
	put(logA, window.Add(-3*time.Hour), 0, 50)    // too old: not read
	put(logA, window.Add(-time.Hour), 40, 60)     // margin, before the window's first index
	put(logA, window.Add(-time.Hour), 105, 110)   // margin, after it: held
	put(logA, window, 100, 105)                   // the window starts at 100
	put(logA, window.Add(2*time.Hour), 110, 120)  // a hole 120..130 follows
	put(logA, window.Add(2*time.Hour), 130, 140)  //
	put(logB, window.Add(-time.Hour), 1000, 1010) // only in the margin: left out
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		from   time.Time
		margin time.Duration
		want   string
	}{
		{"window and margin", window.Add(30 * time.Minute), time.Hour, "logs 1, a [{100 120} {130 140}] plan [100,140) holes [{120 130}]"},
		{"no margin", window, 0, "logs 1, a [{100 105} {110 120} {130 140}] plan [100,140) holes [{105 110} {120 130}]"},
		{"everything", window.Add(-3 * time.Hour), 0, "logs 2, a [{0 60} {100 120} {130 140}] plan [0,140) holes [{60 100} {120 130}]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cov, bad, err := coverage.ScanRecent(t.Context(), root, tt.from, tt.margin)
			if err != nil || len(bad) != 0 {
				t.Fatal(err, bad)
			}
			a := cov.Log(logA)
			p := cov.Plan(logA, coverage.NoSince, 140)
			got := fmt.Sprintf("logs %d, a %v plan [%d,%d) holes %v", len(cov.Logs()), a.Indexes.Ranges(), p.Responsible.Start, p.Responsible.End, p.Holes)
			if got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := coverage.ScanRecent(ctx, root, window, time.Hour); err == nil {
		t.Fatal("a cancelled scan returned no error")
	}
}

// Recent reads each published file once: a second Scan reads only the
// files published since (one read before and damaged since is not read
// again), and forgets those that left the window.
func TestRecentReadsNewFilesOnly(t *testing.T) {
	root := t.TempDir()
	write := func(h time.Time, from, to int64) {
		t.Helper()
		ds, err := archive.Open(archive.Options{Root: root, Schema: schema.New("test"), Collector: "t", BatchRows: 10})
		if err != nil {
			t.Fatal(err)
		}
		for i := from; i < to; i++ {
			u := row(logA, i)
			u.ReceivedAt = h
			ds.Append(u)
		}
		if err := ds.Close(); err != nil {
			t.Fatal(err)
		}
	}
	write(hour, 0, 10)
	var c coverage.Recent
	scan := func(from time.Time) string {
		t.Helper()
		cov, bad, err := c.Scan(t.Context(), root, from, 0)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(cov.Log(logA).Indexes.Ranges(), len(bad))
	}
	if got := scan(hour); got != "[{0 10}] 0" {
		t.Fatalf("first scan: %s", got)
	}
	files, _ := filepath.Glob(filepath.Join(root, "*", "*.feather"))
	if len(files) != 1 || os.WriteFile(files[0], []byte("damaged after it was read"), 0o644) != nil {
		t.Fatalf("files %v", files)
	}
	write(hour.Add(time.Hour), 10, 20)
	if got := scan(hour); got != "[{0 20}] 0" {
		t.Fatalf("second scan: %s, want the first file's coverage kept and the new file read", got)
	}
	if got := scan(hour.Add(time.Hour)); got != "[{10 20}] 0" {
		t.Fatalf("window moved on: %s", got)
	}
	if got := scan(hour); got != "[{10 20}] 1" {
		t.Fatalf("window moved back: %s, want the forgotten file read again (and found damaged)", got)
	}
}
