package main

import (
	"fmt"
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
		size := 0
		for _, m := range pool {
			size += len(m)
		}
		for _, batch := range []int{1000, 5000} {
			b.Run(fmt.Sprintf("stream=%s/batch=%d", kind, batch), func(b *testing.B) {
				b.SetBytes(int64(size / len(pool)))
				b.ReportAllocs()
				benchPipeline(b, pool, func(c *RunCmd) { c.BufferSize = batch })
			})
		}
	}
}

// benchPipeline archives b.N messages cycled from pool and reports
// messages per second; mutate adjusts the archiver's flags.
func benchPipeline(b *testing.B, pool [][]byte, mutate func(*RunCmd)) *pipeline {
	frames := make([]streamtest.Frame, b.N)
	for i := range frames {
		frames[i] = streamtest.Frame{Data: pool[i%len(pool)]}
	}
	replay := streamtest.NewReplay(frames)
	srv := streamtest.NewServer(b, replay.Session)
	pipelines := make(chan *pipeline, 1)
	b.ResetTimer()
	start := time.Now()
	r := startRun(b, srv.URL, func(c *RunCmd) {
		c.BufferSize, c.QueueSize, c.FlushInterval = 1000, 4096, time.Second
		c.RotateRows, c.RotateAge, c.PingInterval, c.StallTimeout = 500_000, 5*time.Minute, time.Second, 10*time.Second
		c.MaxMessageBytes = 16 << 20
		mutate(c)
		started := c.started
		c.started = func(p *pipeline) { started(p); pipelines <- p }
	})
	p := <-pipelines
	select {
	case <-replay.Synced():
	case err := <-r.done:
		b.Fatalf("archiver stopped early: %v\n%s", err, r.log.String())
	case <-time.After(10 * time.Minute):
		b.Fatalf("the archiver did not read every frame; log:\n%s", r.log.String())
	}
	r.cancel()
	if err := <-r.done; err != nil {
		b.Fatalf("Run: %v", err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if rows := p.ds.Counters().Rows.Load(); rows != int64(b.N) {
		b.Fatalf("archived %d rows of %d messages", rows, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	return p
}
