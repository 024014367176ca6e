package backfill

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Snapshot is Progress at one moment, with the rate since Watch began.
type Snapshot struct {
	Total, Fetched, Rows, Errors int64
	Elapsed                      time.Duration
	Rate                         float64       // entries fetched per second
	ETA                          time.Duration // at that rate; 0 when unknown
}

// Snapshot reads p; elapsed is the time since the work began.
func (p *Progress) Snapshot(elapsed time.Duration) Snapshot {
	s := Snapshot{Total: p.Total.Load(), Fetched: p.Fetched.Load(), Rows: p.Rows.Load(), Errors: p.Errors.Load(), Elapsed: elapsed}
	if sec := elapsed.Seconds(); sec > 0 {
		s.Rate = float64(s.Fetched) / sec
	}
	if left := s.Total - s.Fetched; s.Rate > 0 && left > 0 {
		s.ETA = time.Duration(float64(left) / s.Rate * float64(time.Second)).Round(time.Second)
	}
	return s
}

// String is the live line: done/total, percent, rate and ETA.
func (s Snapshot) String() string {
	pct := 100.0
	if s.Total > 0 {
		pct = 100 * float64(s.Fetched) / float64(s.Total)
	}
	eta := "-"
	if s.ETA > 0 {
		eta = s.ETA.String()
	}
	return fmt.Sprintf("backfill %d/%d entries (%.1f%%), %.0f/s, ETA %s, %d errors", s.Fetched, s.Total, pct, s.Rate, eta, s.Errors)
}

// Watch reports p until ctx is done: on a terminal, a live line on w
// rewritten every 200ms (erased when Watch returns); otherwise an info line
// on log every interval. It returns when ctx is done.
func Watch(ctx context.Context, p *Progress, w io.Writer, terminal bool, interval time.Duration, log *slog.Logger) {
	start := time.Now()
	every := interval
	if terminal {
		every = 200 * time.Millisecond
	}
	if every <= 0 {
		<-ctx.Done()
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if terminal {
				fmt.Fprint(w, "\r\033[K")
			}
			return
		case <-t.C:
		}
		s := p.Snapshot(time.Since(start))
		if terminal {
			fmt.Fprintf(w, "\r\033[K%s", s)
			continue
		}
		log.Info("backfill progress", "fetched", s.Fetched, "total", s.Total, "rows", s.Rows,
			"entries_per_second", int64(s.Rate), "eta", s.ETA, "errors", s.Errors)
	}
}
