package main

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/alecthomas/kong"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/gorilla/websocket"

	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/stream/streamgen"
	"github.com/certstream-arrow/certstream-arrow/stream/streamtest"
)

// TestMeasureFreshness measures how fresh the data readers see is: the
// archiver runs at its default flags against a fake server sending
// generated lite messages at a steady, realistic rate, while a reader polls
// the dataset every 50 ms for newly published files and reads their
// received_at column. For every row it reports the delay from its arrival
// (received_at) to its file being published (the poll that first saw the
// file), as p50, p90, p99 and max, and the time from the run's first row
// to its first published file. Only files published while the stream is
// running count, not those the final stop publishes.
//
// It is a measurement, not a check: it runs only with
// CERTSTREAM_ARROW_MEASURE=1. CERTSTREAM_ARROW_FRESHNESS_RATE sets the
// rate (default 500 messages/s), CERTSTREAM_ARROW_FRESHNESS_FOR how long
// to run (default 3m); any flag of run can be changed through its own
// variable, e.g. CERTSTREAM_ARROW_ROTATE_AGE=5m for the old default.
//
//	CERTSTREAM_ARROW_MEASURE=1 go test -run TestMeasureFreshness -v -timeout 30m ./cmd/certstream-arrow/
func TestMeasureFreshness(t *testing.T) {
	if os.Getenv("CERTSTREAM_ARROW_MEASURE") == "" {
		t.Skip("a measurement: set CERTSTREAM_ARROW_MEASURE=1")
	}
	rate := envInt(t, "CERTSTREAM_ARROW_FRESHNESS_RATE", 500)
	span := envDuration(t, "CERTSTREAM_ARROW_FRESHNESS_FOR", 3*time.Minute)
	srv := streamtest.NewServer(t, paced(rate))
	root := t.TempDir()
	run := defaultRunCmd(t, "-u", srv.URL, "-o", root)
	t.Cleanup(func() { debug.SetMemoryLimit(debug.SetMemoryLimit(-1)) }) // Run sets the process's limit

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- run.Run(ctx, newLogger(t.Output(), "info", "text")) }()
	w := &freshness{root: root, seen: map[string]bool{}}
	for time.Now().Before(start.Add(span)) {
		if err := w.poll(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	w.report(t, run, rate, start)
}

// defaultRunCmd parses run's command line args as main does, so every
// flag not given has its default (or its environment variable's value).
func defaultRunCmd(tb testing.TB, args ...string) *RunCmd {
	tb.Helper()
	var cli CLI
	parser, err := kong.New(&cli, cli.options()...)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := parser.Parse(append([]string{"run"}, args...)); err != nil {
		tb.Fatal(err)
	}
	if err := cli.Run.Validate(); err != nil {
		tb.Fatal(err)
	}
	return &cli.Run
}

// paced serves generated lite messages at rate a second, like a live
// server, until the client leaves. Each connection starts a new stream.
func paced(rate int) streamtest.Session {
	return func(conn *websocket.Conn, n int) {
		gone := streamtest.Hold(conn)
		start := time.Now()
		g := streamgen.New(streamgen.Options{Kind: streamgen.Lite, Seed: uint64(n), Start: start, Step: time.Second / time.Duration(rate)})
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		sent := 0
		for {
			select {
			case <-gone:
				return
			case now := <-tick.C:
				for due := int(now.Sub(start).Seconds() * float64(rate)); sent < due; sent++ {
					if conn.WriteMessage(websocket.TextMessage, g.Next()) != nil {
						return
					}
				}
			}
		}
	}
}

// freshness is a reader polling a dataset for newly published files.
type freshness struct {
	root   string
	seen   map[string]bool
	files  []freshFile
	delays []time.Duration // per row: publish (seen by a poll) minus received_at
}

// freshFile is one published file as a poll found it.
type freshFile struct {
	at          time.Time // the start of the poll that first listed it
	rows, bytes int64
	first       time.Time // earliest received_at in it
}

// poll reads the files published since the last poll. A file's publish
// time is taken as the start of the poll that lists it first: at most one
// poll interval (plus the time to read the files found before) late.
func (w *freshness) poll() error {
	at := time.Now()
	var cur *freshFile
	bad, err := archive.Walk(w.root, archive.Visitor{
		Skip: func(pf archive.PublishedFile) bool {
			if w.seen[pf.Path] {
				return true
			}
			w.seen[pf.Path] = true
			w.files = append(w.files, freshFile{at: at})
			cur = &w.files[len(w.files)-1]
			return false
		},
		Batch: func(_ archive.PublishedFile, rec arrow.RecordBatch) error {
			col, ok := receivedAt(rec)
			if !ok {
				return fmt.Errorf("no received_at column")
			}
			for i := range col.Len() {
				r := col.Value(i).ToTime(arrow.Microsecond)
				w.delays = append(w.delays, at.Sub(r))
				if cur.first.IsZero() || r.Before(cur.first) {
					cur.first = r
				}
			}
			cur.rows += rec.NumRows()
			return nil
		},
		File: func(pf archive.PublishedFile) { cur.bytes = pf.Size },
	})
	if err == nil && len(bad) > 0 {
		err = fmt.Errorf("unreadable published file %s: %v", bad[0].Path, bad[0].Err)
	}
	return err
}

func receivedAt(rec arrow.RecordBatch) (*array.Timestamp, bool) {
	idx := rec.Schema().FieldIndices("received_at")
	if len(idx) != 1 {
		return nil, false
	}
	col, ok := rec.Column(idx[0]).(*array.Timestamp)
	return col, ok
}

// report logs the figures BENCHMARKS.md quotes.
func (w *freshness) report(t *testing.T, run *RunCmd, rate int, start time.Time) {
	t.Helper()
	if len(w.files) == 0 || len(w.delays) == 0 {
		t.Fatalf("no file was published in %v", time.Since(start).Round(time.Second))
	}
	d := slices.Clone(w.delays)
	slices.Sort(d)
	q := func(p float64) time.Duration { return d[int(p*float64(len(d)-1))].Round(10 * time.Millisecond) }
	first := w.files[0]
	for _, f := range w.files {
		if f.first.Before(first.first) {
			first.first = f.first // rows of the first batch may sit in a later file of another hour
		}
	}
	var rows, bytes int64
	for _, f := range w.files {
		rows, bytes = rows+f.rows, bytes+f.bytes
	}
	n := int64(len(w.files))
	t.Logf("flags: --rotate-age %v --flush-interval %v --buffer-size %d; %d msgs/s for %v",
		run.RotateAge, run.FlushInterval, run.BufferSize, rate, time.Since(start).Round(time.Second))
	t.Logf("arrival to publish, %d rows in %d files: p50 %v, p90 %v, p99 %v, max %v",
		len(d), n, q(0.5), q(0.9), q(0.99), d[len(d)-1].Round(10*time.Millisecond))
	t.Logf("first file published %v after the first row arrived (%v after Run started)",
		w.files[0].at.Sub(first.first).Round(10*time.Millisecond), w.files[0].at.Sub(start).Round(10*time.Millisecond))
	t.Logf("per file: %d rows, %.1f MB on average", rows/n, float64(bytes)/float64(n)/1e6)
}

func envInt(tb testing.TB, name string, def int) int {
	tb.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		tb.Fatalf("%s=%s: want a positive integer", name, s)
	}
	return n
}

func envDuration(tb testing.TB, name string, def time.Duration) time.Duration {
	tb.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		tb.Fatalf("%s=%s: want a positive duration", name, s)
	}
	return d
}
