package coverage_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/coverage"
	"github.com/certstream-arrow/certstream-arrow/schema"
	"github.com/certstream-arrow/certstream-arrow/stream"
	"github.com/certstream-arrow/certstream-arrow/stream/streamgen"
)

// BenchmarkScanRecent measures one run --backfill cycle's scan of a day of
// a full feed (24 hours of 50,000 generated full rows, DER included, as
// the archiver writes them): reading all of it, only the last hours, and,
// as a running archiver does from its second cycle on, with a
// coverage.Recent that has read every file before (what remains is
// listing the hours and merging the files' coverage).
// COVERAGE_BENCH_HOURS and COVERAGE_BENCH_ROWS change the dataset.
func BenchmarkScanRecent(b *testing.B) {
	hours, perHour := envInt("COVERAGE_BENCH_HOURS", 24), envInt("COVERAGE_BENCH_ROWS", 50_000)
	root, size := dayDataset(b, hours, perHour)
	day := time.Duration(hours) * time.Hour
	end := time.Date(2026, 5, 20, 12, 0, 0, 0, time.UTC).Add(day)
	for _, bc := range []struct {
		name     string
		lookback time.Duration
		cached   bool
	}{{"read-all", day, false}, {"read-last-2h", 2 * time.Hour, false}, {"cached", day, true}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var c coverage.Recent
			if bc.cached {
				if _, _, err := c.Scan(b.Context(), root, end.Add(-bc.lookback), time.Hour); err != nil {
					b.Fatal(err)
				}
			}
			var rows int64
			for b.Loop() {
				r := c
				if !bc.cached {
					r = coverage.Recent{}
				}
				cov, _, err := r.Scan(b.Context(), root, end.Add(-bc.lookback), time.Hour)
				if err != nil {
					b.Fatal(err)
				}
				rows += cov.Rows
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
			if bc.name == "read-all" {
				b.SetBytes(size)
			}
		})
	}
}

func envInt(name string, def int) int {
	var n int
	if s := os.Getenv(name); s != "" {
		if _, err := fmt.Sscan(s, &n); err == nil && n > 0 {
			return n
		}
	}
	return def
}

// dayDataset writes the dataset and returns its root and its bytes on
// disk.
func dayDataset(b *testing.B, hours, perHour int) (string, int64) {
	b.Helper()
	root := b.TempDir()
	writeDay(b, root, hours, perHour)
	var size int64
	files, _ := filepath.Glob(filepath.Join(root, "*", "*.feather"))
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			size += fi.Size()
		}
	}
	return root, size
}

func writeDay(b *testing.B, root string, hours, perHour int) {
	b.Helper()
	ds, err := archive.Open(archive.Options{Root: root, Schema: schema.New("bench"), Collector: "bench",
		BatchRows: 1000, RotateRows: 500_000, PartitionBy: archive.BySeen})
	if err != nil {
		b.Fatal(err)
	}
	g := streamgen.New(streamgen.Options{Kind: streamgen.Full, Seed: 1, Step: time.Hour / time.Duration(perHour)})
	var dec stream.Decoder
	for range hours * perHour {
		u, err := dec.Decode(g.Next())
		if err != nil {
			b.Fatal(err)
		}
		u.ReceivedAt = u.Seen
		ds.Append(u)
	}
	if err := ds.Close(); err != nil {
		b.Fatal(err)
	}
}
