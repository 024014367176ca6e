package export

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/certstream-arrow/certstream-arrow/seal"
	"github.com/certstream-arrow/certstream-arrow/stream/streamgen"
)

// BenchmarkExport exports one sealed hour of generated rows, per stream
// kind and zstd level, and reports Parquet bytes per row. The throughput
// is of the sealed Feather bytes read. The timer is stopped around nothing:
// the fsyncs of a publish are part of an export's cost. The figures in
// BENCHMARKS.md come from a million rows; this runs on fewer.
func BenchmarkExport(b *testing.B) {
	for _, kind := range []struct {
		kind streamgen.Kind
		rows int
	}{{streamgen.Lite, 40000}, {streamgen.Full, 10000}} {
		root := b.TempDir()
		m := sealHour(b, root, hour0, sealing{id: "beef0001", files: []int{kind.rows}, batchRows: 65536, kind: kind.kind, seed: 1})
		for _, level := range []int{3, DefaultZstdLevel} {
			b.Run(fmt.Sprintf("%s/zstd=%d", kind.kind, level), func(b *testing.B) {
				b.SetBytes(m.Files[0].Bytes)
				b.ReportAllocs()
				var size int64
				for b.Loop() {
					out := b.TempDir()
					o := testOptions(root, out)
					o.ZstdLevel = level
					res := export(b, o)
					size = res[0].Bytes()
					os.RemoveAll(filepath.Join(out, seal.HourDir(hour0)))
				}
				b.ReportMetric(float64(size)/float64(m.Rows), "B/row")
			})
		}
	}
}
