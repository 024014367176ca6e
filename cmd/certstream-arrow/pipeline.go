package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/stream"
)

// pipeline wires the stream to the archive:
//
//	Client.Run (reader goroutine) ──frames (bounded)──▶ consume: Decode → Dataset.Append
//	                                                      ticker: Dataset.Tick, stats line
//
// The consumer goroutine owns the Decoder and the Dataset. It drains the
// queue until the client has stopped, so that every frame read off the
// socket is archived before Dataset.Close publishes the last files.
type pipeline struct {
	log        *slog.Logger
	client     *stream.Client
	ds         *archive.Dataset
	queue      int
	flushEvery time.Duration
	statsEvery time.Duration

	dec   stream.Decoder
	tally tally
}

// tally counts decoded messages. Only the consumer goroutine touches it.
type tally struct {
	certificates int64
	domains      int64
	heartbeats   int64
	skipped      map[stream.Reason]int64
}

func (p *pipeline) run(ctx context.Context) error {
	frames := make(chan stream.Frame, p.queue)
	clientCtx, stopClient := context.WithCancel(ctx)
	defer stopClient()
	clientErr := make(chan error, 1)
	go func() {
		defer close(frames)
		clientErr <- p.client.Run(clientCtx, frames)
	}()
	err := p.consume(frames, stopClient)
	err = errors.Join(err, <-clientErr, p.ds.Close())
	p.logStats(p.statsEvery, time.Now())
	return err
}

// consume archives frames until the channel closes. A write error stops the
// client (the archiver exits non-zero once the queue is drained and every
// open file is published) but not the draining.
func (p *pipeline) consume(frames <-chan stream.Frame, stopClient func()) error {
	tick := time.NewTicker(tickInterval(p.flushEvery))
	defer tick.Stop()
	var firstErr error
	fail := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
			p.log.Error("write failed, stopping", "err", err)
			stopClient()
		}
	}
	lastStats := time.Now()
	for {
		select {
		case f, ok := <-frames:
			if !ok {
				return firstErr
			}
			fail(p.handle(f))
		case now := <-tick.C:
			fail(p.ds.Tick(now))
			if p.statsEvery > 0 && now.Sub(lastStats) >= p.statsEvery {
				p.logStats(now.Sub(lastStats), now)
				lastStats = now
			}
		}
	}
}

// handle decodes one frame and appends it to the dataset.
func (p *pipeline) handle(f stream.Frame) error {
	defer f.Release() // the Update aliases f.Data until Append has copied it
	u, err := p.dec.Decode(f.Data)
	if err != nil {
		reason := stream.ReasonOf(err)
		if p.tally.skipped == nil {
			p.tally.skipped = map[stream.Reason]int64{}
		}
		p.tally.skipped[reason]++
		p.log.Debug("message skipped", "reason", reason, "err", err, "bytes", len(f.Data))
		return nil
	}
	switch u.Kind {
	case stream.KindHeartbeat:
		p.tally.heartbeats++
		return nil
	case stream.KindDomains:
		p.tally.domains++
	default:
		p.tally.certificates++
	}
	u.ReceivedAt = f.ReceivedAt
	return p.ds.Append(u)
}

// tickInterval is how often the dataset checks for due flushes and
// publishes: often enough to honour the flush interval closely.
func tickInterval(flush time.Duration) time.Duration {
	return min(max(flush/4, 10*time.Millisecond), time.Second)
}

func (p *pipeline) logStats(window time.Duration, now time.Time) {
	c := p.client.Counters()
	s := p.ds.Stats()
	skipped := make([]any, 0, 2*len(p.tally.skipped))
	for r, n := range p.tally.skipped {
		skipped = append(skipped, string(r), n)
	}
	p.log.Info("stats",
		"certificates", p.tally.certificates, "domain_entries", p.tally.domains, "heartbeats", p.tally.heartbeats,
		slog.Group("skipped", skipped...),
		"rows_written", s.Rows, "rows_pending", s.RowsPending, "files_published", s.FilesPublished,
		"bytes_received", c.Bytes.Load(), "connects", c.Connects.Load(), "failed_attempts", c.FailedAttempts.Load(),
		"connected", c.Connected.Load(), "queue_full_waits", c.QueueFullWaits.Load())
}
