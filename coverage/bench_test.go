package coverage

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/certstream-arrow/certstream-arrow/schema"
	"github.com/certstream-arrow/certstream-arrow/stream"
)

// BenchmarkSetAdd reports Add's rate (rows/s) on a feed read in order, on
// one arriving in small out-of-order windows as a CertStream server sends
// them, and on a fully shuffled one. Every third index is a hole, so the
// set grows a range per hole as a real dataset with many holes would.
func BenchmarkSetAdd(b *testing.B) {
	const n = 1 << 20
	in := make([]int64, 0, n)
	for i := range int64(n) {
		if i%3 != 2 {
			in = append(in, i)
		}
	}
	near := windowShuffle(in, 64)
	shuffled := append([]int64(nil), in...)
	rand.New(rand.NewPCG(1, 1)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	for _, c := range []struct {
		name string
		in   []int64
	}{{"in-order", in}, {"window-64", near}, {"shuffled", shuffled}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			rows := 0
			for b.Loop() {
				var s Set
				for _, i := range c.in {
					s.Add(i)
				}
				rows += len(c.in)
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// windowShuffle shuffles in within consecutive windows of w.
func windowShuffle(in []int64, w int) []int64 {
	out := append([]int64(nil), in...)
	rng := rand.New(rand.NewPCG(2, 2))
	for i := 0; i < len(out); i += w {
		win := out[i:min(i+w, len(out))]
		rng.Shuffle(len(win), func(a, b int) { win[a], win[b] = win[b], win[a] })
	}
	return out
}

// BenchmarkSetMemoryPerHole reports the heap a Set takes per hole, built in
// order (slice growth included) for sets of 1k to 1M holes.
func BenchmarkSetMemoryPerHole(b *testing.B) {
	for _, holes := range []int{1_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprint(holes), func(b *testing.B) {
			var perHole float64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				s := &Set{}
				for i := range int64(holes) {
					s.Add(2 * i)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				perHole = float64(after.HeapAlloc-before.HeapAlloc) / float64(holes)
				runtime.KeepAlive(s)
			}
			b.ReportMetric(perHole, "B/hole")
		})
	}
}

// BenchmarkDatasetAdd reports Dataset.Add's rate on record batches of
// 4,096 lite rows from four logs interleaved, as a feed sends them: the
// cost of a coverage scan once the files are decoded.
func BenchmarkDatasetAdd(b *testing.B) {
	mem := memory.NewGoAllocator()
	bld := schema.NewBuilder(mem, schema.New("bench"))
	defer bld.Release()
	var recs []arrow.RecordBatch
	urls := [][]byte{[]byte("https://a.example/"), []byte("https://b.example/"), []byte("https://c.example/"), []byte("https://d.example/")}
	sum1, sum2 := make([]byte, 20), make([]byte, 32)
	for i := range 64 * 4096 {
		bld.Append(&stream.Update{Kind: stream.KindCertificate, Seen: time.Unix(1e9+int64(i), 0), ReceivedAt: time.Unix(1e9, 0),
			SourceURL: urls[i%4], SourceName: urls[i%4], CertIndex: int64(i / 4), HasCertIndex: true, SHA1: sum1, SHA256: sum2})
		if bld.Len() == 4096 {
			recs = append(recs, bld.NewRecordBatch())
		}
	}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	b.ReportAllocs()
	rows := 0
	for b.Loop() {
		d := New()
		for _, r := range recs {
			if err := d.Add(r); err != nil {
				b.Fatal(err)
			}
			rows += int(r.NumRows())
		}
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
