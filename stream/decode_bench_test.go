package stream_test

import (
	"testing"

	"github.com/certstream-arrow/certstream-arrow/stream"
	"github.com/certstream-arrow/certstream-arrow/stream/streamgen"
)

func genMessages(kind streamgen.Kind, n int) ([][]byte, int) {
	g := streamgen.New(streamgen.Options{Kind: kind, Seed: 3})
	msgs := make([][]byte, n)
	size := 0
	for i := range msgs {
		msgs[i] = g.Next()
		size += len(msgs[i])
	}
	return msgs, size / n
}

// BenchmarkDecode measures message → Update for each stream kind.
func BenchmarkDecode(b *testing.B) {
	for _, kind := range []streamgen.Kind{streamgen.Lite, streamgen.Full, streamgen.DomainsOnly} {
		b.Run("stream="+string(kind), func(b *testing.B) {
			msgs, avg := genMessages(kind, 1000)
			var dec stream.Decoder
			b.SetBytes(int64(avg))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := dec.Decode(msgs[i%len(msgs)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
