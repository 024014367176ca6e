package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/schema"
	"github.com/certstream-arrow/certstream-arrow/stream"
)

// ImportCmd archives a recorded capture with the same decoder, schema and
// publish path as live ingest. Rows get received_at = the time of the
// import, since a capture does not say when each message arrived.
type ImportCmd struct {
	File            string   `arg:"" name:"FILE" help:"Capture of CertStream messages, one JSON message per line; .zst and .gz are decompressed; - reads standard input."`
	Output          string   `short:"o" default:"data" help:"Dataset root directory."`
	PartitionBy     string   `enum:"received,seen" default:"seen" help:"Which time picks a row's hour: seen (default for imports) or received (the import time)."`
	BufferSize      int      `short:"b" default:"5000" help:"Certificates per record batch."`
	Collector       string   `default:"import" help:"Collector name for the files written; must differ from any archiver writing to the same root."`
	MaxMessageBytes ByteSize `default:"16MiB" help:"Longest line accepted; longer ones are counted and skipped."`

	progress io.Writer `kong:"-"` // tests: where the progress line goes; default stderr on a terminal
}

// maxReportedLines bounds how many bad line numbers are listed per reason.
const maxReportedLines = 5

// importTally is what an import did.
type importTally struct {
	lines, archived, heartbeats int64
	skipped                     map[stream.Reason]int64
	badLines                    map[stream.Reason][]int
}

func (t *importTally) skip(r stream.Reason, line int) {
	t.skipped[r]++
	if len(t.badLines[r]) < maxReportedLines {
		t.badLines[r] = append(t.badLines[r], line)
	}
}

// Validate checks flags before anything is opened.
func (c *ImportCmd) Validate() error {
	if err := checkOutput(c.Output); err != nil {
		return err
	}
	if c.BufferSize < 1 || c.BufferSize > 100_000 {
		return errors.New("--buffer-size must be between 1 and 100000")
	}
	return archive.CheckCollector(c.Collector)
}

// Run imports the capture and prints a summary.
func (c *ImportCmd) Run(ctx context.Context, log *slog.Logger) error {
	capture, err := stream.OpenCapture(c.File, int(c.MaxMessageBytes))
	if err != nil {
		return err
	}
	defer capture.Close()
	partitionBy, err := archive.ParsePartitionBy(c.PartitionBy)
	if err != nil {
		return err
	}
	ds, err := archive.Open(archive.Options{
		Root: c.Output, Schema: schema.New(programVersion()), Collector: c.Collector, BatchRows: c.BufferSize,
		FlushInterval: 10 * time.Second, RotateRows: 500_000, RotateBytes: 256 << 20, FsyncBatch: false,
		PartitionBy:    partitionBy,
		MaxPendingRows: 200_000, MaxPendingBytes: 256 << 20, BatchBytes: 32 << 20, Logger: log.With("component", "archive"),
	})
	if err != nil {
		return err
	}
	tally := &importTally{skipped: map[stream.Reason]int64{}, badLines: map[stream.Reason][]int{}}
	start := time.Now()
	readErr := c.read(ctx, capture, ds, tally, start)
	closeErr := ds.Close()
	c.summary(tally, time.Since(start))
	return errors.Join(readErr, closeErr)
}

func (c *ImportCmd) read(ctx context.Context, capture *stream.Capture, ds *archive.Dataset, tally *importTally, start time.Time) error {
	var dec stream.Decoder
	lastTick := start
	for ctx.Err() == nil {
		line, n, err := capture.Next()
		switch {
		case err == io.EOF:
			return nil
		case errors.Is(err, stream.ErrLineTooLong):
			tally.lines++
			tally.skip(stream.ReasonOversize, n)
			continue
		case err != nil:
			return err
		}
		tally.lines++
		u, err := dec.Decode(line)
		switch {
		case err != nil:
			tally.skip(stream.ReasonOf(err), n)
		case u.Kind == stream.KindHeartbeat:
			tally.heartbeats++
		default:
			u.ReceivedAt = time.Now()
			ds.Append(u)
			tally.archived++
		}
		if now := time.Now(); now.Sub(lastTick) >= time.Second {
			ds.Tick(now)
			c.showProgress(capture, tally, now.Sub(start))
			lastTick = now
		}
	}
	return ctx.Err()
}

// showProgress prints a one-line progress report on a terminal.
func (c *ImportCmd) showProgress(capture *stream.Capture, t *importTally, elapsed time.Duration) {
	w := c.progress
	if w == nil {
		if !isTerminal(os.Stderr) {
			return
		}
		w = os.Stderr
	}
	read, size := capture.Progress()
	pct := ""
	if size > 0 {
		pct = fmt.Sprintf(", %.1f%% of %s", 100*float64(read)/float64(size), ByteSize(size))
	}
	fmt.Fprintf(w, "\rimporting: %d lines, %d archived, %.0f records/s%s   ", t.lines, t.archived, float64(t.lines)/elapsed.Seconds(), pct)
}

// summary prints what the import did, with the first bad line numbers.
func (c *ImportCmd) summary(t *importTally, took time.Duration) {
	if c.progress == nil && isTerminal(os.Stderr) {
		fmt.Fprintln(os.Stderr)
	}
	var skipped int64
	var parts []string
	for r, n := range t.skipped {
		skipped += n
		parts = append(parts, fmt.Sprintf("%s %d (lines %s)", r, n, joinInts(t.badLines[r], n)))
	}
	slices.Sort(parts)
	fmt.Printf("imported %d lines in %s: %d archived, %d heartbeats, %d skipped\n", t.lines, took.Round(time.Millisecond), t.archived, t.heartbeats, skipped)
	for _, p := range parts {
		fmt.Println("  skipped " + p)
	}
}

func joinInts(lines []int, total int64) string {
	s := make([]string, len(lines))
	for i, l := range lines {
		s[i] = fmt.Sprint(l)
	}
	out := strings.Join(s, ", ")
	if total > int64(len(lines)) {
		out += ", ..."
	}
	return out
}
