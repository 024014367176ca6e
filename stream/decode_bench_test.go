package stream_test

import (
	"strings"
	"testing"

	"github.com/certstream-arrow/certstream-arrow/stream"
	"github.com/certstream-arrow/certstream-arrow/stream/streamgen"
	"github.com/certstream-arrow/certstream-arrow/stream/streamtest"
)

// recordedMessages returns the recorded reloading01 messages of one stream
// (lite, full, domains-only): real certificates from live CT logs.
func recordedMessages(b *testing.B, kind streamgen.Kind) [][]byte {
	var msgs [][]byte
	for _, rec := range streamtest.LoadRecorded(b) {
		if strings.HasPrefix(rec.Name, "reloading01-rust-live-2026-"+string(kind)+".jsonl") {
			msgs = append(msgs, rec.Data)
		}
	}
	if len(msgs) == 0 {
		b.Fatalf("no recorded %s messages", kind)
	}
	return msgs
}

// BenchmarkDecode measures message → Update for each stream kind, on
// generated messages and on the recorded live ones.
func BenchmarkDecode(b *testing.B) {
	for _, source := range []string{"generated", "recorded"} {
		for _, kind := range []streamgen.Kind{streamgen.Lite, streamgen.Full, streamgen.DomainsOnly} {
			b.Run("messages="+source+"/stream="+string(kind), func(b *testing.B) {
				msgs := streamgen.New(streamgen.Options{Kind: kind, Seed: 3}).Take(1000)
				if source == "recorded" {
					msgs = recordedMessages(b, kind)
				}
				var dec stream.Decoder
				b.SetBytes(int64(streamgen.MeanSize(msgs)))
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					if _, err := dec.Decode(msgs[i%len(msgs)]); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
