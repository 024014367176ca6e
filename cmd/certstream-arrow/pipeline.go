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
//	Client.Run (reader goroutine) ──frames (bounded by count and bytes)──▶ consume: Decode → Dataset.Append
//	                                                                        ticker: Dataset.Tick, stats line
//
// The consumer goroutine owns the Decoder and the Dataset. It drains the
// queue until the client has stopped, so that every frame read off the
// socket is archived before Dataset.Close publishes the last files. On
// cancel the client does the closing handshake (see stream.Client.Run):
// what arrives until the server's close frame is archived too.
type pipeline struct {
	log        *slog.Logger
	client     *stream.Client
	ds         *archive.Dataset
	flushEvery time.Duration
	statsEvery time.Duration

	dec    stream.Decoder
	frames chan stream.Frame
	logs   logIndexes
	skips  skipWarner
	last   statsPoint
}

func (p *pipeline) run(ctx context.Context) error {
	frames := p.frames
	clientErr := make(chan error, 1)
	go func() {
		defer close(frames)
		clientErr <- p.client.Run(ctx, frames)
	}()
	p.consume(frames)
	err := errors.Join(<-clientErr, p.ds.Close())
	p.skips.flush(p.log)
	p.logStats(time.Now())
	p.logStopped()
	return err
}

// logStopped logs the last line of a run, error or not (main logs the
// error): what arrived after the client sent its close frame, and what was
// written.
func (p *pipeline) logStopped() {
	c, a := p.client.Counters(), p.ds.Counters()
	p.log.Info("stopped", "frames_after_close", c.FramesAfterClose.Load(), "rows_written", a.Rows.Load(),
		"files_published", a.FilesPublished.Load(), "rows_dropped", a.RowsDropped.Load())
}

// consume archives frames until the channel closes. Write failures do not
// stop it: the Dataset keeps rows in memory and retries (see archive).
func (p *pipeline) consume(frames <-chan stream.Frame) {
	tick := time.NewTicker(tickInterval(p.flushEvery))
	defer tick.Stop()
	p.last = p.point(time.Now())
	for {
		select {
		case f, ok := <-frames:
			if !ok {
				return
			}
			p.handle(f)
		case now := <-tick.C:
			p.ds.Tick(now)
			p.skips.tick(p.log, now)
			if p.statsEvery > 0 && now.Sub(p.last.at) >= p.statsEvery {
				p.logStats(now)
			}
		}
	}
}

// handle decodes one frame and appends it to the dataset.
func (p *pipeline) handle(f stream.Frame) {
	defer f.Release() // the Update aliases f.Data until Append has copied it
	counters := p.client.Counters()
	u, err := p.dec.Decode(f.Data)
	if err != nil {
		reason := stream.ReasonOf(err)
		counters.Skip(reason)
		p.skips.add(p.log, f.ReceivedAt, reason, err)
		p.log.Debug("message skipped", "reason", reason, "err", err, "bytes", len(f.Data))
		return
	}
	counters.Decoded(u)
	if p.log.Enabled(context.Background(), levelTrace) {
		p.log.Log(context.Background(), levelTrace, "message", "kind", u.Kind, "bytes", len(f.Data),
			"cert_index", u.CertIndex, "source", string(u.SourceName), "domains", len(u.Domains))
	}
	if u.Kind == stream.KindHeartbeat {
		return
	}
	u.ReceivedAt = f.ReceivedAt
	p.ds.Append(u)
	if u.HasCertIndex && u.SourceURL != nil {
		p.logs.observe(u.SourceURL, u.CertIndex)
	}
}

// tickInterval is how often the dataset checks for due flushes and
// publishes: often enough to honour the flush interval closely.
func tickInterval(flush time.Duration) time.Duration {
	return min(max(flush/4, 10*time.Millisecond), time.Second)
}

// statsPoint is what the previous stats line reported, for rates.
type statsPoint struct {
	at   time.Time
	rows int64
}

func (p *pipeline) point(now time.Time) statsPoint {
	c := p.client.Counters()
	return statsPoint{at: now, rows: c.Certificates.Load() + c.DomainEntries.Load()}
}

// logStats logs one line with every counter an operator watches.
func (p *pipeline) logStats(now time.Time) {
	c, a := p.client.Counters(), p.ds.Counters()
	cur := p.point(now)
	rate := 0.0
	if secs := cur.at.Sub(p.last.at).Seconds(); secs > 0 {
		rate = float64(cur.rows-p.last.rows) / secs
	}
	p.last = cur
	var skipped []any
	for r, n := range c.Skipped() {
		if n > 0 {
			skipped = append(skipped, string(r), n)
		}
	}
	p.log.Info("stats",
		"rows_per_s", int64(rate+0.5), "certificates", c.Certificates.Load(), "damaged", c.Damaged.Load(), "domain_entries", c.DomainEntries.Load(),
		"heartbeats", c.Heartbeats.Load(), "skipped_total", c.SkippedTotal(), slog.Group("skipped", skipped...),
		"rows_written", a.Rows.Load(), "rows_pending", a.RowsPending.Load(), "bytes_pending", a.BytesPending.Load(), "rows_dropped", a.RowsDropped.Load(),
		"writing", a.Writing.Load(), "write_errors", a.WriteErrors.Load(), "files_published", a.FilesPublished.Load(),
		"bytes_published", a.BytesPublished.Load(), "frames", c.Frames.Load(), "bytes_received", c.Bytes.Load(),
		"reconnects", max(c.Connects.Load()-1, 0), "failed_attempts", c.FailedAttempts.Load(),
		"connected_for", c.Uptime(now).Round(time.Second), "queue_depth", len(p.frames), "queue_bytes", c.QueuedBytes.Load(),
		"queue_full_waits", c.QueueFullWaits.Load(), "queue_bytes_waits", c.QueueBytesWaits.Load())
}

// skipWarner turns skipped messages into at most one warning a minute,
// with the counts by reason since the last one and the latest example.
type skipWarner struct {
	last    time.Time
	pending map[stream.Reason]int64
	example string
}

const skipWarnEvery = time.Minute

func (w *skipWarner) add(log *slog.Logger, now time.Time, r stream.Reason, err error) {
	if w.pending == nil {
		w.pending = map[stream.Reason]int64{}
	}
	w.pending[r]++
	w.example = err.Error()
	w.tick(log, now)
}

func (w *skipWarner) tick(log *slog.Logger, now time.Time) {
	if len(w.pending) > 0 && now.Sub(w.last) >= skipWarnEvery {
		w.last = now
		w.flush(log)
	}
}

func (w *skipWarner) flush(log *slog.Logger) {
	if len(w.pending) == 0 {
		return
	}
	var counts []any
	for r, n := range w.pending {
		counts = append(counts, string(r), n)
	}
	log.Warn("messages skipped", slog.Group("count", counts...), "latest", w.example)
	clear(w.pending)
}
