package archive

import (
	"fmt"
	"testing"
	"time"

	"github.com/certstream-arrow/certstream-arrow/stream"
	"github.com/certstream-arrow/certstream-arrow/stream/streamgen"
)

// BenchmarkAppend measures decoded rows into zstd Feather files, with an
// fsync after every batch and only at publish, for lite and full rows,
// until every row is in a published file. Decoding is outside the timer.
func BenchmarkAppend(b *testing.B) {
	for _, kind := range []streamgen.Kind{streamgen.Lite, streamgen.Full} {
		msgs := streamgen.New(streamgen.Options{Kind: kind}).Take(1000)
		for _, fsync := range []bool{true, false} {
			for _, batch := range []int{1000, 5000} {
				mode := map[bool]string{true: "batch", false: "close"}[fsync]
				b.Run(fmt.Sprintf("stream=%s/fsync=%s/batch=%d", kind, mode, batch), func(b *testing.B) {
					opts := testOptions(b.TempDir(), "bench")
					opts.BatchRows, opts.FsyncBatch, opts.RotateRows = batch, fsync, 100_000
					opts.Now = time.Now
					d, err := Open(opts)
					if err != nil {
						b.Fatal(err)
					}
					var dec stream.Decoder
					updates := make([]stream.Update, len(msgs))
					for i, m := range msgs {
						u, err := dec.Decode(m)
						if err != nil {
							b.Fatal(err)
						}
						updates[i] = *u
						updates[i].ReceivedAt = time.Now()
						// Detach from the decoder's buffers.
						updates[i].DER = append([]byte(nil), u.DER...)
						updates[i].SHA1 = append([]byte(nil), u.SHA1...)
						updates[i].SHA256 = append([]byte(nil), u.SHA256...)
						updates[i].Domains = cloneAll(u.Domains)
						updates[i].ChainNames = cloneAll(u.ChainNames)
					}
					b.SetBytes(int64(streamgen.MeanSize(msgs)))
					b.ReportAllocs()
					for i := 0; b.Loop(); i++ {
						d.Append(&updates[i%len(updates)])
					}
					// Close inside the timing: batches are written in the
					// background, and the last ones are only done here.
					if err := d.Close(); err != nil {
						b.Fatal(err)
					}
				})
			}
		}
	}
}

func cloneAll(in [][]byte) [][]byte {
	out := make([][]byte, len(in))
	for i, s := range in {
		out[i] = append([]byte(nil), s...)
	}
	return out
}
