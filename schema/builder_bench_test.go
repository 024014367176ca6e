package schema_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/certstream-arrow/certstream-arrow/schema"
	"github.com/certstream-arrow/certstream-arrow/stream"
	"github.com/certstream-arrow/certstream-arrow/stream/streamgen"
)

// BenchmarkDecodeAndBuild measures message → row in a record batch (decode
// plus append, batches cut every size rows), per stream kind and batch size.
func BenchmarkDecodeAndBuild(b *testing.B) {
	for _, kind := range []streamgen.Kind{streamgen.Lite, streamgen.Full} {
		for _, size := range []int{1000, 5000} {
			b.Run(fmt.Sprintf("stream=%s/batch=%d", kind, size), func(b *testing.B) {
				msgs := streamgen.New(streamgen.Options{Kind: kind, Seed: 3}).Take(1000)
				bld := schema.NewBuilder(memory.NewGoAllocator(), schema.New("bench"))
				defer bld.Release()
				var dec stream.Decoder
				now := time.Now()
				b.SetBytes(int64(streamgen.MeanSize(msgs)))
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					u, err := dec.Decode(msgs[i%len(msgs)])
					if err != nil {
						b.Fatal(err)
					}
					u.ReceivedAt = now
					bld.Append(u)
					if bld.Len() == size {
						bld.NewRecordBatch().Release()
					}
				}
			})
		}
	}
}
