package main

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certstream-arrow/certstream-arrow/stream/streamgen"
	"github.com/certstream-arrow/certstream-arrow/stream/streamtest"
)

// BenchmarkPipeline measures the whole archiver in one process: a loopback
// fake server floods b.N generated messages, and the archiver (socket
// reader, queue, decode, row building, zstd IPC files with fsync per batch,
// publish) archives them. It checks that every message became a row.
// certstream-arrow bench measures the same end to end with the server in
// another process and against a ceiling; this one is for profiling
// (-cpuprofile) and for comparing changes with benchstat.
func BenchmarkPipeline(b *testing.B) {
	for _, kind := range []streamgen.Kind{streamgen.Lite, streamgen.Full} {
		pool := generated(kind, 5000)
		for _, batch := range []int{1000, 5000} {
			b.Run(fmt.Sprintf("stream=%s/batch=%d", kind, batch), func(b *testing.B) {
				b.SetBytes(int64(streamgen.MeanSize(pool)))
				b.ReportAllocs()
				benchPipeline(b, pool, 0, func(c *RunCmd) { c.BufferSize = batch })
			})
		}
	}
}

// BenchmarkSlowWriter shows that reading does not wait on the disk while
// the queue has room. The server sends lite messages at a steady 10,000/s,
// a self-hosted server's backlog rate, in 1,000-row batches (one every
// 100 ms), and each batch write is slowed down by delay on top of its real
// cost. A writer that keeps up on average (50 ms) never fills the queue:
// max-queue stays far below its 4,096 bound and queue-full-waits at 0. One
// five times slower than the stream (500 ms) fills the queue to its bound;
// then, and only then, the reader waits (queue-full-waits > 0) and reading
// slows to the disk's pace, with nothing lost.
func BenchmarkSlowWriter(b *testing.B) {
	pool := generated(streamgen.Lite, 5000)
	for _, delay := range []time.Duration{0, 50 * time.Millisecond, 500 * time.Millisecond} {
		b.Run(fmt.Sprintf("delay=%s", delay), func(b *testing.B) {
			benchPipeline(b, pool, 10_000, func(c *RunCmd) {
				c.BufferSize = 1000
				c.batchWritten = func() { time.Sleep(delay) }
			})
		})
	}
}

// benchPipeline archives b.N messages cycled from pool, sent at rate
// messages per second (0: flat out), and reports messages per second, the
// deepest the queue got, and how often the reader waited for room in it;
// mutate adjusts the archiver's flags.
func benchPipeline(b *testing.B, pool [][]byte, rate int, mutate func(*RunCmd)) {
	frames := make([]streamtest.Frame, b.N)
	for i := range frames {
		frames[i] = streamtest.Frame{Data: pool[i%len(pool)]}
	}
	replay := streamtest.NewReplay(frames)
	if rate > 0 {
		replay.Pace(max(rate/100, 1), 10*time.Millisecond)
	}
	srv := streamtest.NewServer(b, replay.Session)
	b.ResetTimer()
	start := time.Now()
	r := startRun(b, srv.URL, func(c *RunCmd) {
		c.BufferSize, c.QueueSize, c.FlushInterval = 1000, 4096, time.Second
		c.RotateRows, c.RotateAge, c.PingInterval, c.StallTimeout = 500_000, 5*time.Minute, time.Second, 10*time.Second
		c.MaxMessageBytes = 16 << 20
		mutate(c)
	})
	p := r.pipeline()
	var maxDepth atomic.Int64
	stopSampling := make(chan struct{})
	go func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
				maxDepth.Store(max(maxDepth.Load(), int64(len(p.frames))))
			}
		}
	}()
	defer close(stopSampling)
	r.stop(b, replay.Synced())
	elapsed := time.Since(start)
	b.StopTimer()
	if rows, _, err := datasetSize(r.root); err != nil || rows != int64(b.N) {
		b.Fatalf("read back %d rows of %d messages: %v", rows, b.N, err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(maxDepth.Load()), "max-queue")
	b.ReportMetric(float64(p.client.Counters().QueueFullWaits.Load()), "queue-full-waits")
}
