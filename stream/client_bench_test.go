package stream_test

import (
	"context"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/certstream-arrow/certstream-arrow/stream"
	"github.com/certstream-arrow/certstream-arrow/stream/streamgen"
	"github.com/certstream-arrow/certstream-arrow/stream/streamtest"
)

// flood is a Session sending n messages drawn from msgs, then closing.
func flood(msgs [][]byte, n int) streamtest.Session {
	return func(conn *websocket.Conn, _ int) {
		gone := streamtest.Hold(conn)
		for i := range n {
			if conn.WriteMessage(websocket.TextMessage, msgs[i%len(msgs)]) != nil {
				return
			}
		}
		<-gone
	}
}

// BenchmarkClientRead measures the socket reader on a loopback flood of lite
// messages, with a consumer that drains at once and one that stalls 20 ms
// every 2,000 frames (a slow fsync or compression burst). With the default
// queue the stalls are absorbed: queue_full_waits stays at or near zero.
func BenchmarkClientRead(b *testing.B) {
	msgs := streamgen.New(streamgen.Options{Kind: streamgen.Lite}).Take(1000)
	for _, bc := range []struct {
		name  string
		queue int
		stall time.Duration
	}{
		{"consumer=fast/queue=4096", 4096, 0},
		{"consumer=stalling/queue=4096", 4096, 20 * time.Millisecond},
		{"consumer=stalling/queue=64", 64, 20 * time.Millisecond},
	} {
		b.Run(bc.name, func(b *testing.B) {
			srv := streamtest.NewServer(b, flood(msgs, b.N))
			c, err := stream.NewClient(stream.Config{URL: srv.URL})
			if err != nil {
				b.Fatal(err)
			}
			out := make(chan stream.Frame, bc.queue)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			b.SetBytes(int64(streamgen.MeanSize(msgs)))
			b.ReportAllocs()
			b.ResetTimer()
			go c.Run(ctx, out)
			for i := range b.N {
				f := <-out
				f.Release()
				if bc.stall > 0 && i%2000 == 1999 {
					time.Sleep(bc.stall)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(c.Counters().QueueFullWaits.Load()), "queue_full_waits")
			cancel()
			go func() {
				for f := range out {
					f.Release()
				}
			}()
		})
	}
}
