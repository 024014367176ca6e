package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/schema"
	"github.com/certstream-arrow/certstream-arrow/stream"
)

// RunCmd archives a CertStream server. Its flag names and short forms match
// the original Rust tool's (-u, -o, -b).
type RunCmd struct {
	URL            string        `short:"u" default:"wss://certstream.calidog.io" help:"CertStream server URL, ws:// or wss://."`
	Output         string        `short:"o" default:"data" help:"Dataset root directory, created if missing. It holds one hour=YYYY-MM-DDTHH directory per UTC hour of .feather files."`
	BufferSize     int           `short:"b" default:"1000" help:"Certificates per record batch (1 to 100000)."`
	FlushInterval  time.Duration `default:"10s" help:"Longest a partly filled batch waits in memory before it is written to its file."`
	RotateRows     int64         `default:"500000" help:"Publish an open file once it holds this many rows (0: no limit)."`
	RotateBytes    ByteSize      `default:"256MiB" help:"Publish an open file once it reaches this size (0: no limit)."`
	RotateAge      time.Duration `default:"5m" help:"Publish an open file once it has been open this long (0: only at the end of its hour)."`
	PartitionBy    string        `enum:"received,seen" default:"received" help:"Which time picks a row's hour directory: received (when the archiver read it) or seen (the server's data.seen, for replays; falls back to received when seen is missing, before 2013 or more than a day ahead)."`
	Collector      string        `placeholder:"NAME" help:"This archiver's name, in its file names and lock (default: the host name). Archivers sharing a dataset root need different names; a second one with the same name is refused."`
	Fsync          string        `enum:"batch,close" default:"batch" help:"When to fsync: batch (after every record batch: a power cut loses at most one flush interval) or close (only when a file is published)."`
	MaxPendingRows int64         `default:"200000" help:"Rows kept in memory while writes fail (disk full); beyond this, new rows are dropped and counted."`

	Header          []string      `sep:"none" placeholder:"'NAME: VALUE'" help:"Extra HTTP header for the WebSocket handshake, e.g. 'Authorization: Bearer TOKEN'. Repeatable."`
	CAFile          string        `name:"ca-file" placeholder:"PEM" help:"Also trust the CA certificates in this PEM file for wss:// (for a self-hosted server with a private CA)."`
	QueueSize       int           `default:"4096" help:"Frames the socket reader may queue ahead of decoding and writing (1 to 1000000)."`
	PingInterval    time.Duration `default:"20s" help:"Send a WebSocket ping this often."`
	StallTimeout    time.Duration `default:"75s" help:"Reconnect when the connection delivers nothing (no message, no pong) for this long."`
	BackoffMin      time.Duration `default:"1s" help:"First reconnect delay ceiling; each failed attempt doubles it, with full jitter."`
	BackoffMax      time.Duration `default:"60s" help:"Largest reconnect delay."`
	MaxRetries      int           `default:"0" help:"Give up when a connection attempt and this many retries after it have all failed (0: retry forever)."`
	MaxMessageBytes ByteSize      `default:"16MiB" help:"Largest WebSocket message accepted; a larger one drops the connection (close 1009) and is counted."`
	StatsInterval   time.Duration `default:"60s" help:"Log a stats line this often (0: only once, at exit)."`
	MetricsAddr     string        `placeholder:"HOST:PORT" help:"Serve Prometheus metrics at /metrics and a health check at /healthz on this address, e.g. 127.0.0.1:9464 (off by default)."`
	MemoryLimit     string        `default:"auto" placeholder:"SIZE" help:"Soft limit for the Go heap: auto (48MiB plus 8KiB per --queue-size frame and per --buffer-size row), a size such as 256MiB, or 0 for none. The GOMEMLIMIT environment variable overrides it."`

	started      func(*pipeline) `kong:"-"` // tests: observe the pipeline's counters
	metricsBound func(string)    `kong:"-"` // tests: learn the metrics listener's address
	batchWritten func()          `kong:"-"` // benchmarks: slow the writer down
}

// Validate checks flag values before anything starts.
func (r *RunCmd) Validate() error {
	if err := stream.CheckURL(r.URL); err != nil {
		return fmt.Errorf("--url: %w", err)
	}
	if err := checkOutput(r.Output); err != nil {
		return err
	}
	if _, err := r.headers(); err != nil {
		return err
	}
	if _, err := r.tlsConfig(); err != nil {
		return err
	}
	if _, err := r.memoryLimit(); err != nil {
		return err
	}
	if r.Collector != "" {
		if err := archive.CheckCollector(r.Collector); err != nil {
			return fmt.Errorf("--collector: %w", err)
		}
	}
	checks := []struct {
		ok  bool
		msg string
	}{
		{r.BufferSize >= 1 && r.BufferSize <= 100_000, "--buffer-size must be between 1 and 100000"},
		{r.FlushInterval >= 10*time.Millisecond && r.FlushInterval <= time.Hour, "--flush-interval must be between 10ms and 1h"},
		{r.RotateRows >= 0, "--rotate-rows must not be negative"},
		{r.MaxPendingRows >= int64(r.BufferSize), "--max-pending-rows must be at least --buffer-size"},
		{r.RotateAge >= 0, "--rotate-age must not be negative"},
		{r.QueueSize >= 1 && r.QueueSize <= 1_000_000, "--queue-size must be between 1 and 1000000"},
		{r.PingInterval >= 100*time.Millisecond, "--ping-interval must be at least 100ms"},
		{r.StallTimeout > r.PingInterval, "--stall-timeout must be longer than --ping-interval"},
		{r.BackoffMin >= time.Millisecond && r.BackoffMax >= r.BackoffMin, "--backoff-min must be at least 1ms and not above --backoff-max"},
		{r.MaxRetries >= 0, "--max-retries must not be negative"},
		{r.MaxMessageBytes >= 1<<10, "--max-message-bytes must be at least 1KiB"},
		{r.StatsInterval >= 0, "--stats-interval must not be negative"},
	}
	for _, c := range checks {
		if !c.ok {
			return errors.New(c.msg)
		}
	}
	return nil
}

func checkOutput(out string) error {
	switch {
	case strings.TrimSpace(out) == "":
		return errors.New("--output must name a directory")
	case strings.ContainsRune(out, 0):
		return errors.New("--output contains a NUL byte")
	case strings.EqualFold(filepath.Ext(out), archive.Ext):
		return fmt.Errorf("--output %q looks like a single file: it is the dataset root directory, "+
			"which gets one hour=YYYY-MM-DDTHH directory per UTC hour holding many .feather files "+
			"(read them all with read_arrow('%s/*/*.feather'))", out, strings.TrimSuffix(out, filepath.Ext(out)))
	}
	return nil
}

// memoryLimit returns the soft heap limit to set, or 0 for none. Without
// one the heap grows to twice the live data between collections (GOGC=100).
// auto allows 8 KiB for each queued frame (the size of a frame buffer) and
// each buffered row (the row being built plus its share of the batch being
// written), plus 48 MiB for the rest, zstd's history above all. Measured
// with `certstream-arrow bench --stream full --buffer-size 5000 --messages
// 1000000`: peak RSS 215 MB without a limit, 135 MB with auto (119 MiB).
func (r *RunCmd) memoryLimit() (int64, error) {
	switch r.MemoryLimit {
	case "auto":
		return 48<<20 + int64(r.QueueSize+r.BufferSize)*8<<10, nil
	case "0", "":
		return 0, nil
	}
	var b ByteSize
	if err := b.UnmarshalText([]byte(r.MemoryLimit)); err != nil {
		return 0, fmt.Errorf("--memory-limit: %w", err)
	}
	return int64(b), nil
}

// tlsConfig returns nil (system roots) unless --ca-file adds roots.
func (r *RunCmd) tlsConfig() (*tls.Config, error) {
	if r.CAFile == "" {
		return nil, nil
	}
	pemBytes, err := os.ReadFile(r.CAFile)
	if err != nil {
		return nil, fmt.Errorf("--ca-file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("--ca-file %s: no PEM certificate in it", r.CAFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

func (r *RunCmd) headers() (http.Header, error) {
	h := http.Header{}
	for _, kv := range r.Header {
		name, value, ok := strings.Cut(kv, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t\r\n") || strings.ContainsAny(value, "\r\n") {
			return nil, fmt.Errorf("--header %q: want 'Name: value'", kv)
		}
		h.Add(name, strings.TrimSpace(value))
	}
	return h, nil
}

// Run archives until ctx is cancelled, then writes every buffered row and
// publishes every open file.
func (r *RunCmd) Run(ctx context.Context, log *slog.Logger) error {
	header, err := r.headers()
	if err != nil {
		return err
	}
	tlsConf, err := r.tlsConfig()
	if err != nil {
		return err
	}
	if limit, _ := r.memoryLimit(); limit > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(limit)
	}
	ver := programVersion()
	durs := newDurations()
	partitionBy, err := archive.ParsePartitionBy(r.PartitionBy)
	if err != nil {
		return err
	}
	ds, err := archive.Open(archive.Options{
		Root:           r.Output,
		Schema:         schema.New(ver),
		Collector:      r.Collector,
		FsyncBatch:     r.Fsync == "batch",
		MaxPendingRows: r.MaxPendingRows,
		BatchRows:      r.BufferSize,
		FlushInterval:  r.FlushInterval,
		RotateRows:     r.RotateRows,
		RotateBytes:    int64(r.RotateBytes),
		RotateAge:      r.RotateAge,
		PartitionBy:    partitionBy,
		Logger:         log.With("component", "archive"),
		OnPublish:      func(took time.Duration) { durs.publish.Observe(took.Seconds()) },
		OnBatchWritten: func(_ int64, took time.Duration) {
			durs.batch.Observe(took.Seconds())
			if r.batchWritten != nil {
				r.batchWritten()
			}
		},
	})
	if err != nil {
		return err
	}
	client, err := stream.NewClient(stream.Config{
		URL:             r.URL,
		Header:          header,
		UserAgent:       "certstream-arrow/" + ver,
		TLS:             tlsConf,
		PingInterval:    r.PingInterval,
		StallTimeout:    r.StallTimeout,
		MaxMessageBytes: int64(r.MaxMessageBytes),
		MinBackoff:      r.BackoffMin,
		MaxBackoff:      r.BackoffMax,
		MaxRetries:      r.MaxRetries,
		Logger:          log.With("component", "stream"),
	})
	if err != nil {
		return err
	}
	log.Info("archiving", "url", r.URL, "output", ds.Root(), "collector", ds.Collector(), "partition_by", r.PartitionBy, "version", ver)
	p := &pipeline{log: log, client: client, ds: ds, frames: make(chan stream.Frame, r.QueueSize), flushEvery: r.FlushInterval, statsEvery: r.StatsInterval}
	if r.started != nil {
		r.started(p)
	}
	if r.MetricsAddr != "" {
		addr, err := serveMetrics(ctx, r.MetricsAddr, p, newMetrics(p, durs), r.StallTimeout, log)
		if err != nil {
			return errors.Join(err, ds.Close())
		}
		if r.metricsBound != nil {
			r.metricsBound(addr)
		}
	}
	return p.run(ctx)
}
