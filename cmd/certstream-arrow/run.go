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
	URL             string        `short:"u" default:"wss://certstream.calidog.io" help:"CertStream server URL, ws:// or wss://. user:password in it (ws://user:password@host/) is sent as HTTP Basic authentication and never logged."`
	Output          string        `short:"o" default:"data" help:"Dataset root directory, created if missing. It holds one hour=YYYY-MM-DDTHH directory per UTC hour of .feather files."`
	BufferSize      int           `short:"b" default:"1000" help:"Certificates per record batch (1 to 100000)."`
	BatchBytes      ByteSize      `default:"32MiB" help:"Cut a record batch early once its rows hold this many bytes (1MiB to 512MiB), so that huge messages cannot make a batch huge."`
	FlushInterval   time.Duration `default:"10s" help:"Longest a partly filled batch waits in memory before it is written to its file."`
	RotateRows      int64         `default:"500000" help:"Publish an open file once it holds this many rows (0: no limit)."`
	RotateBytes     ByteSize      `default:"256MiB" help:"Publish an open file once it reaches this size (0: no limit)."`
	RotateAge       time.Duration `default:"30s" help:"Publish an open file once it has been open this long, so that a row is readable at most about this plus --flush-interval after it arrives (0: only at the end of its hour)."`
	PartitionBy     string        `enum:"received,seen" default:"received" help:"Which time picks a row's hour directory: received (when the archiver read it) or seen (the server's data.seen, for replays; falls back to received when seen is missing, before 2013 or more than a day ahead)."`
	Collector       string        `placeholder:"NAME" help:"This archiver's name, in its file names and lock (default: the host name). Archivers sharing a dataset root need different names; a second one with the same name is refused."`
	Fsync           string        `enum:"batch,close" default:"batch" help:"When to fsync: batch (after every record batch: a power cut loses at most one flush interval) or close (only when a file is published)."`
	MaxPendingRows  int64         `default:"200000" help:"Rows kept in memory while writes fail (disk full); beyond this, new rows are dropped and counted."`
	MaxPendingBytes ByteSize      `default:"256MiB" help:"Bytes those rows may hold in memory while writes fail; beyond this, new rows are dropped and counted."`

	Header          []string      `sep:"none" placeholder:"'NAME: VALUE'" help:"Extra HTTP header for the WebSocket handshake, e.g. 'Authorization: Bearer TOKEN'. Repeatable."`
	CAFile          string        `name:"ca-file" placeholder:"PEM" help:"Also trust the CA certificates in this PEM file for wss:// (for a self-hosted server with a private CA)."`
	QueueSize       int           `default:"4096" help:"Frames the socket reader may queue ahead of decoding and writing (1 to 1000000)."`
	QueueBytes      ByteSize      `default:"64MiB" help:"Bytes the queued frames may hold; beyond this the reader waits (one frame always fits an empty queue)."`
	PingInterval    time.Duration `default:"20s" help:"Send a WebSocket ping this often."`
	StallTimeout    time.Duration `default:"75s" help:"Reconnect when the connection delivers nothing (no message, no pong) for this long."`
	BackoffMin      time.Duration `default:"1s" help:"First reconnect delay ceiling; each failed attempt doubles it, with full jitter."`
	BackoffMax      time.Duration `default:"60s" help:"Largest reconnect delay."`
	ReconnectDelay  time.Duration `default:"100ms" help:"After a connection that delivered messages drops, reconnect after this delay plus up to as much again of jitter (at most --backoff-max); the backoff starts over."`
	CloseTimeout    time.Duration `default:"5s" help:"On stop, how long to keep reading and archiving after sending the close frame, waiting for the server's."`
	MaxRetries      int           `default:"0" help:"Give up when a connection attempt and this many retries after it have all failed (0: retry forever)."`
	MaxMessageBytes ByteSize      `default:"16MiB" help:"Largest WebSocket message accepted, counted as read into memory; a larger one drops the connection (close 1009) and is counted."`
	StatsInterval   time.Duration `default:"60s" help:"Log a stats line this often (0: only once, at exit)."`
	MetricsAddr     string        `placeholder:"HOST:PORT" help:"Serve Prometheus metrics at /metrics and a health check at /healthz on this address, e.g. 127.0.0.1:9464 (off by default)."`
	MemoryLimit     string        `default:"auto" placeholder:"SIZE" help:"Soft limit for the Go heap: auto (48MiB plus 8KiB per --buffer-size row and per --queue-size frame, the frames' share capped by --queue-bytes, plus with --seal twice --seal-memory and 96MiB), a size such as 256MiB, or 0 for none. The GOMEMLIMIT environment variable overrides it."`

	backfillFlags `embed:""` // --backfill and its flags: autobackfill.go
	sealFlags     `embed:""` // --seal and its flags: autoseal.go

	started      func(*pipeline) `kong:"-"` // tests: observe the pipeline's counters
	metricsBound func(string)    `kong:"-"` // tests: learn the metrics listener's address
	batchWritten func()          `kong:"-"` // benchmarks: slow the writer down
}

// Validate checks flag values before anything starts.
func (r *RunCmd) Validate() error {
	if err := checkOutput(r.Output); err != nil {
		return err
	}
	header, err := r.headers()
	if err != nil {
		return err
	}
	if _, _, err := stream.Endpoint(r.URL, header); err != nil {
		return fmt.Errorf("--url: %w", err)
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
	if err := r.checkSeal(); err != nil {
		return err
	}
	if err := r.checkBackfill(); err != nil {
		return err
	}
	checks := []struct {
		ok  bool
		msg string
	}{
		{r.BufferSize >= 1 && r.BufferSize <= 100_000, "--buffer-size must be between 1 and 100000"},
		{r.FlushInterval >= 10*time.Millisecond && r.FlushInterval <= time.Hour, "--flush-interval must be between 10ms and 1h"},
		{r.RotateRows >= 0, "--rotate-rows must not be negative"},
		{r.MaxPendingRows >= int64(r.BufferSize), "--max-pending-rows must be at least --buffer-size"},
		{r.BatchBytes >= 1<<20 && r.BatchBytes <= 512<<20, "--batch-bytes must be between 1MiB and 512MiB"},
		{r.MaxPendingBytes >= r.BatchBytes, "--max-pending-bytes must be at least --batch-bytes"},
		{r.RotateAge >= 0, "--rotate-age must not be negative"},
		{r.QueueSize >= 1 && r.QueueSize <= 1_000_000, "--queue-size must be between 1 and 1000000"},
		{r.QueueBytes >= 64<<10, "--queue-bytes must be at least 64KiB"},
		{r.ReconnectDelay >= time.Millisecond && r.ReconnectDelay <= time.Minute, "--reconnect-delay must be between 1ms and 1m"},
		{r.CloseTimeout >= 10*time.Millisecond && r.CloseTimeout <= 5*time.Minute, "--close-timeout must be between 10ms and 5m"},
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

// checkOutput checks --output; see checkDatasetRoot.
func checkOutput(out string) error { return checkDatasetRoot("--output", out) }

// checkDatasetRoot refuses a dataset root that is obviously wrong, with one
// line naming flag: empty, a single .feather file, an existing path that is
// not a directory, the filesystem root however spelled (//, /.., a symlink
// to /) or a system directory. Any subcommand taking a dataset root can
// use it.
func checkDatasetRoot(flag, dir string) error {
	switch {
	case strings.TrimSpace(dir) == "":
		return fmt.Errorf("%s must name a directory", flag)
	case strings.ContainsRune(dir, 0):
		return fmt.Errorf("%s contains a NUL byte", flag)
	case strings.EqualFold(filepath.Ext(dir), archive.Ext):
		return fmt.Errorf("%s %q looks like a single file: it is the dataset root directory, "+
			"which gets one hour=YYYY-MM-DDTHH directory per UTC hour holding many .feather files "+
			"(read them all with read_arrow('%s/*/*.feather'))", flag, dir, strings.TrimSuffix(dir, filepath.Ext(dir)))
	}
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return fmt.Errorf("%s %q exists and is not a directory", flag, dir)
	}
	for _, p := range rootSpellings(dir) {
		if why := systemDir(p); why != "" {
			return fmt.Errorf("%s %q is %s: refusing to fill it with hour= directories; "+
				"give the dataset a directory of its own, e.g. /var/lib/certstream-arrow", flag, dir, why)
		}
	}
	return nil
}

// rootSpellings returns dir made absolute and cleaned, and, when it exists,
// with every symlink resolved.
func rootSpellings(dir string) []string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil
	}
	out := []string{abs}
	if real, err := filepath.EvalSymlinks(abs); err == nil && real != abs {
		out = append(out, real)
	}
	return out
}

// systemDirs are the operating system's own directories (FHS), shared by
// many unrelated things: never a dataset root. Their subdirectories are
// fine (/var/lib/x, /usr/local/x), except under the kernel's pseudo
// filesystems. Mount points such as /mnt, /srv and /opt are left alone: a
// disk mounted there may well be meant for the dataset.
var systemDirs = map[string]bool{
	"/bin": true, "/boot": true, "/dev": true, "/etc": true, "/home": true, "/lib": true, "/lib32": true,
	"/lib64": true, "/libx32": true, "/proc": true, "/run": true, "/sbin": true, "/sys": true, "/tmp": true,
	"/usr": true, "/var": true,
	"/usr/bin": true, "/usr/lib": true, "/usr/lib64": true, "/usr/local": true, "/usr/sbin": true, "/usr/share": true,
	"/var/lib": true, "/var/log": true, "/var/tmp": true,
}

// systemDir says why abs, an absolute clean path, cannot be a dataset root,
// or returns "".
func systemDir(abs string) string {
	switch {
	case abs == string(filepath.Separator) || abs == filepath.VolumeName(abs)+string(filepath.Separator):
		return "the filesystem root"
	case systemDirs[abs]:
		return "a system directory"
	case strings.HasPrefix(abs, "/proc/") || strings.HasPrefix(abs, "/sys/"):
		return "inside a kernel pseudo filesystem"
	}
	return ""
}

// memoryLimit returns the soft heap limit to set, or 0 for none. Without
// one the heap grows to twice the live data between collections (GOGC=100).
// auto allows 8 KiB for each queued frame (the size of a frame buffer) and
// each buffered row (the row being built plus its share of the batch being
// written), plus 48 MiB for the rest, zstd's history above all. The frames'
// share is capped by --queue-bytes, which bounds what they can hold (with
// the defaults, 4096 frames of 8 KiB = 32 MiB stay under 64 MiB: auto is
// unchanged). Measured with `certstream-arrow bench --stream full
// --buffer-size 5000 --messages 1000000`: peak RSS 215 MB without a limit,
// 135 MB with auto (119 MiB).
func (r *RunCmd) memoryLimit() (int64, error) {
	switch r.MemoryLimit {
	case "auto":
		queue := int64(r.QueueSize) * 8 << 10
		if r.QueueBytes > 0 {
			queue = min(queue, int64(r.QueueBytes))
		}
		return 48<<20 + queue + int64(r.BufferSize)*8<<10 + r.sealMemory(), nil
	case "0", "":
		return 0, nil
	}
	var b ByteSize
	if err := b.UnmarshalText([]byte(r.MemoryLimit)); err != nil {
		return 0, fmt.Errorf("--memory-limit: %w", err)
	}
	return int64(b), nil
}

// sealMemory is what background sealing adds to the auto memory limit:
// its rows in memory, twice (the collector frees them only as it runs),
// plus an output batch and a batch per spilled run.
func (r *RunCmd) sealMemory() int64 {
	if !r.Seal {
		return 0
	}
	return 2*int64(r.SealMemory) + 96<<20
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

// headers parses --header. Its errors never show a value, which may be a
// credential, nor any text that might be one.
func (r *RunCmd) headers() (http.Header, error) {
	h := http.Header{}
	for i, kv := range r.Header {
		name, value, ok := strings.Cut(kv, ":")
		name = strings.TrimSpace(name)
		switch {
		case !ok || !isToken(name):
			return nil, fmt.Errorf("--header number %d: want 'Name: value' with a name of letters, digits and -_. (the text is not shown: it may hold a secret)", i+1)
		case strings.ContainsAny(value, "\r\n\x00"):
			return nil, fmt.Errorf("--header %s: the value contains a line break or NUL (the value is not shown)", name)
		}
		h.Add(name, strings.TrimSpace(value))
	}
	return h, nil
}

// isToken reports whether s is an HTTP header name (RFC 9110 token).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
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
		Root:            r.Output,
		Schema:          schema.New(ver),
		Collector:       r.Collector,
		FsyncBatch:      r.Fsync == "batch",
		MaxPendingRows:  r.MaxPendingRows,
		MaxPendingBytes: int64(r.MaxPendingBytes),
		BatchRows:       r.BufferSize,
		BatchBytes:      int64(r.BatchBytes),
		FlushInterval:   r.FlushInterval,
		RotateRows:      r.RotateRows,
		RotateBytes:     int64(r.RotateBytes),
		RotateAge:       r.RotateAge,
		PartitionBy:     partitionBy,
		Logger:          log.With("component", "archive"),
		OnPublish:       func(took time.Duration) { durs.publish.Observe(took.Seconds()) },
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
		MaxQueueBytes:   int64(r.QueueBytes),
		CloseTimeout:    r.CloseTimeout,
		MinBackoff:      r.BackoffMin,
		MaxBackoff:      r.BackoffMax,
		ReconnectDelay:  r.ReconnectDelay,
		MaxRetries:      r.MaxRetries,
		Logger:          log.With("component", "stream"),
	})
	if err != nil {
		return err
	}
	log.Info("archiving", "url", stream.RedactURL(r.URL), "output", ds.Root(), "collector", ds.Collector(), "partition_by", r.PartitionBy, "version", ver)
	p := &pipeline{log: log, client: client, ds: ds, frames: make(chan stream.Frame, r.QueueSize), flushEvery: r.FlushInterval, statsEvery: r.StatsInterval}
	if r.started != nil {
		r.started(p)
	}
	bg := r.startBackfill(ctx, log)             // nil without --backfill
	sealing := r.startSeal(ctx, ds.Root(), log) // nil with --no-seal
	if r.MetricsAddr != "" {
		m := newMetrics(p, durs)
		m.backfill = bg.metrics()
		addr, err := serveMetrics(ctx, r.MetricsAddr, p, m, r.StallTimeout, log)
		if err != nil {
			bg.stop(r.CloseTimeout)
			sealing.stop(r.CloseTimeout)
			return errors.Join(err, ds.Close())
		}
		if r.metricsBound != nil {
			r.metricsBound(addr)
		}
	}
	err = p.run(ctx)
	bg.stop(r.CloseTimeout) // it began stopping with the stream, when ctx was cancelled
	sealing.stop(r.CloseTimeout)
	return err
}
