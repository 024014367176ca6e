package seal

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/schema"
	"github.com/certstream-arrow/certstream-arrow/stream"
	"github.com/certstream-arrow/certstream-arrow/stream/streamgen"
)

// liveLayout is hours of generated messages archived as `run` publishes
// them at its default flags, by one collector: 1,000-row batches, a file
// published every --rotate-age and at the end of its hour, partitioned by
// receive time.
type liveLayout struct {
	kind        streamgen.Kind
	start       time.Time // first hour
	hours       int
	rowsPerHour int
	// flush is run's --flush-interval (10s). At a live rate (hundreds of
	// rows a second) a 1,000-row batch fills before it; a reduced rate
	// (a month of smaller hours) needs a longer one to keep 1,000-row
	// batches.
	flush time.Duration
	// rotate is run's --rotate-age (30s).
	rotate time.Duration
}

// write archives the layout under root through archive.Dataset with run's
// default options, on a simulated clock: message i is seen and received at
// start + i × 1h/rowsPerHour, and the Dataset is ticked once a simulated
// second, as run ticks it. It returns the rows written.
func (l liveLayout) write(tb testing.TB, root string) int64 {
	tb.Helper()
	step := time.Hour / time.Duration(l.rowsPerHour)
	now := l.start
	ds, err := archive.Open(archive.Options{Root: root, Schema: schema.New("bench"), Collector: "live",
		BatchRows: 1000, BatchBytes: 32 << 20, FlushInterval: l.flush, RotateRows: 500_000, RotateBytes: 256 << 20,
		RotateAge: l.rotate, PartitionBy: archive.ByReceived, MaxPendingRows: 200_000, MaxPendingBytes: 256 << 20,
		Now: func() time.Time { return now }})
	if err != nil {
		tb.Fatal(err)
	}
	n := l.hours * l.rowsPerHour
	msgs := make(chan []byte, 4096) // generating is the slow part: on a core of its own
	go func() {
		defer close(msgs)
		g := streamgen.New(streamgen.Options{Kind: l.kind, Seed: 1, Start: l.start, Step: step})
		for range n {
			msgs <- g.Next()
		}
	}()
	var dec stream.Decoder
	lastTick := now
	for i := 0; ; i++ {
		m, ok := <-msgs
		if !ok {
			break
		}
		u, err := dec.Decode(m)
		if err != nil {
			tb.Fatal(err)
		}
		// The simulated time, exact (seen went through a float).
		now = l.start.Add(time.Duration(i) * step)
		u.ReceivedAt = now
		ds.Append(u)
		if now.Sub(lastTick) >= time.Second {
			ds.Tick(now)
			lastTick = now
		}
	}
	ds.Tick(l.start.Add(time.Duration(l.hours) * time.Hour))
	if err := ds.Close(); err != nil {
		tb.Fatal(err)
	}
	return int64(n)
}

// TestWriteLiveLayout is not a test: it is the generator that
// scripts/bench-layouts.sh runs to write a live layout (a test, so that
// it stays in the module's test code). It is skipped unless
// LIVE_LAYOUT_DIR names the dataset root to write; LIVE_STREAM (lite),
// LIVE_HOURS (1), LIVE_ROWS_PER_HOUR (10000), LIVE_FLUSH (10s),
// LIVE_ROTATE_AGE (30s) and LIVE_START (2026-05-20T00) shape it.
func TestWriteLiveLayout(t *testing.T) {
	root := os.Getenv("LIVE_LAYOUT_DIR")
	if root == "" {
		t.Skip("LIVE_LAYOUT_DIR not set: nothing to generate")
	}
	start, err := time.Parse(archive.HourFormat, envString("LIVE_START", "2026-05-20T00"))
	if err != nil {
		t.Fatal(err)
	}
	flush, err := time.ParseDuration(envString("LIVE_FLUSH", "10s"))
	if err != nil {
		t.Fatal(err)
	}
	rotate, err := time.ParseDuration(envString("LIVE_ROTATE_AGE", "30s"))
	if err != nil {
		t.Fatal(err)
	}
	l := liveLayout{kind: streamgen.Kind(envString("LIVE_STREAM", "lite")), start: start,
		hours: envInt(t, "LIVE_HOURS", 1), rowsPerHour: envInt(t, "LIVE_ROWS_PER_HOUR", 10000), flush: flush, rotate: rotate}
	began := time.Now()
	rows := l.write(t, root)
	t.Logf("wrote %d %s rows in %d hours in %s", rows, l.kind, l.hours, time.Since(began).Round(time.Second))
}

// BenchmarkSeal seals one hour of generated rows, written as run writes
// them (see liveLayout), per stream, sealed batch size and memory budget;
// the last case spills sorted runs to disk. SEAL_BENCH_ROWS sets the
// hour's rows (default 20,000, for CI; BENCHMARKS.md used 1,000,000).
// Besides time it reports rows/s and the bytes per row of the live files
// and of the sealed file.
func BenchmarkSeal(b *testing.B) {
	rows := envInt(b, "SEAL_BENCH_ROWS", 20000)
	cases := []struct {
		batchRows int
		memory    int64
	}{{16384, DefaultMemoryBudget}, {65536, DefaultMemoryBudget}, {100000, DefaultMemoryBudget}, {65536, 16 << 20}}
	for _, kind := range []streamgen.Kind{streamgen.Lite, streamgen.Full} {
		live := b.TempDir()
		l := liveLayout{kind: kind, start: hour0, hours: 1, rowsPerHour: rows, flush: 10 * time.Second, rotate: 30 * time.Second}
		n := l.write(b, live)
		liveBytes := featherBytes(b, filepath.Join(live, HourDir(hour0)))
		for _, c := range cases {
			name := fmt.Sprintf("stream=%s/rows=%d/batch-rows=%d/memory=%dMiB", kind, rows, c.batchRows, c.memory>>20)
			b.Run(name, func(b *testing.B) {
				var m *Manifest
				for b.Loop() {
					b.StopTimer()
					root := linkCopy(b, live)
					b.StartTimer()
					m = sealOnce(b, root, Options{BatchRows: c.batchRows, MemoryBudget: c.memory})
				}
				if m.Rows != n {
					b.Fatalf("sealed %d rows of %d", m.Rows, n)
				}
				var sealed int64
				for _, f := range m.Files {
					sealed += f.Bytes
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
				b.ReportMetric(float64(liveBytes)/float64(n), "live-B/row")
				b.ReportMetric(float64(sealed)/float64(n), "sealed-B/row")
			})
		}
	}
}

func sealOnce(b *testing.B, root string, o Options) *Manifest {
	o.Root, o.Program = root, "bench"
	s, err := Open(o)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	m, err := s.Seal(b.Context(), hour0)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// linkCopy returns a new dataset root holding hard links to src's files,
// so that sealing it leaves src as it was (a seal replaces files, it never
// writes into one).
func linkCopy(tb testing.TB, src string) string {
	tb.Helper()
	dst := tb.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == src {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.Mkdir(filepath.Join(dst, rel), 0o755)
		}
		return os.Link(p, filepath.Join(dst, rel))
	})
	if err != nil {
		tb.Fatal(err)
	}
	return dst
}

// featherBytes is the size of the published files in dir.
func featherBytes(tb testing.TB, dir string) int64 {
	tb.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var n int64
	for _, e := range ents {
		if info, err := e.Info(); err == nil && strings.HasSuffix(e.Name(), archive.Ext) && !strings.HasPrefix(e.Name(), ".") {
			n += info.Size()
		}
	}
	return n
}

func envString(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envInt(tb testing.TB, name string, def int) int {
	tb.Helper()
	v, err := strconv.Atoi(envString(name, strconv.Itoa(def)))
	if err != nil || v < 1 {
		tb.Fatalf("%s=%q: want a positive integer", name, os.Getenv(name))
	}
	return v
}
