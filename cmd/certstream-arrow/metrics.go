package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/stream"
)

// maxLogLabels and maxLogURLBytes bound the per-log state, whether or not
// metrics are served: a hostile server inventing source URLs, or sending
// megabyte-long ones, must not pin memory. Real CT log URLs are under 100
// bytes, so the state is at most 256 × 512 bytes of keys.
const (
	maxLogLabels   = 256
	maxLogURLBytes = 512
)

// logIndexes tracks the last cert_index seen per CT log (source_url). The
// consumer writes, scrapes read.
type logIndexes struct {
	mu      sync.Mutex
	last    map[string]int64
	dropped int64 // observations of logs beyond maxLogLabels, or with URLs over maxLogURLBytes
}

func (l *logIndexes) observe(source []byte, index int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.last[string(source)]; !ok && (len(l.last) >= maxLogLabels || len(source) > maxLogURLBytes) {
		l.dropped++
		return
	}
	if l.last == nil {
		l.last = map[string]int64{}
	}
	l.last[string(source)] = index
}

// metrics exports the pipeline's counters to Prometheus. Counters are read
// at scrape time from the atomics the pipeline already keeps.
type metrics struct {
	p        *pipeline
	durs     durations
	descs    map[string]*prometheus.Desc
	backfill *backfillStats // nil without --backfill: its metrics are not shown
}

// durations are created before the dataset, which reports each batch
// write's and each publish's duration to them.
type durations struct {
	batch, publish prometheus.Histogram
}

func newDurations() durations {
	return durations{
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "certstream_arrow_batch_write_duration_seconds",
			Help:    "Time to write one record batch to its file: IPC encoding, zstd, write, and fsync with --fsync batch.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		publish: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "certstream_arrow_publish_duration_seconds",
			Help:    "Time to publish a file: end the IPC stream, flush, fsync, close, rename, fsync the directory.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
	}
}

func newMetrics(p *pipeline, durs durations) *metrics {
	m := &metrics{p: p, durs: durs, descs: map[string]*prometheus.Desc{}}
	for name, help := range metricHelp {
		labels := []string(nil)
		switch name {
		case "messages_skipped_total":
			labels = []string{"reason"}
		case "log_last_cert_index", "log_entries_held", "log_holes", "log_entries_backfilled_total", "log_fetch_errors_total":
			labels = []string{"log"}
		}
		m.descs[name] = prometheus.NewDesc("certstream_arrow_"+name, help, labels, nil)
	}
	return m
}

var metricHelp = map[string]string{
	"messages_received_total":   "WebSocket messages read from the server.",
	"received_bytes_total":      "Payload bytes of the messages read.",
	"messages_archived_total":   "Messages turned into rows (certificate_update and dns_entries).",
	"messages_skipped_total":    "Messages not archived, by reason.",
	"heartbeats_total":          "Heartbeat messages received.",
	"messages_damaged_total":    "Certificates sent with digests of empty input and no DER (stored with null digests; backfill or sealing repairs them from the log).",
	"reconnects_total":          "Successful connections after the first.",
	"connection_failures_total": "Failed connection attempts and dropped connections.",
	"connected":                 "1 while connected to the server.",
	"last_message_age_seconds":  "Seconds since the last message or pong; -1 before the first.",
	"queue_depth":               "Messages read and waiting to be decoded.",
	"queue_full_waits_total":    "Messages the reader had to hold because the queue was full.",
	"queue_bytes":               "Bytes held by read messages not yet decoded and written (bounded by --queue-bytes).",
	"queue_bytes_waits_total":   "Messages the reader had to hold because the queued bytes reached --queue-bytes.",
	"frames_after_close_total":  "Messages read after the client sent its close frame on stop (archived, not lost).",
	"rows_written_total":        "Rows written to files.",
	"rows_pending":              "Rows in memory, not yet written.",
	"bytes_pending":             "Bytes of the rows in memory, not yet written.",
	"rows_dropped_total":        "Rows dropped because writes were failing and --max-pending-rows rows or --max-pending-bytes bytes were waiting.",
	"batches_written_total":     "Record batches written.",
	"files_published_total":     "Files published.",
	"published_bytes_total":     "Bytes of the files published.",
	"write_errors_total":        "Failed writes, fsyncs, renames and salvages.",
	"writing":                   "1 while writes succeed, 0 while they are failing.",
	"log_last_cert_index":       "Last cert_index archived, per CT log (source_url).",
	"log_labels_dropped_total":  "Observations of CT logs beyond the label limit (256), or whose source URL is longer than 512 bytes.",
	"open_files":                "Files being written.",

	// With run --backfill only.
	"log_entries_held":                      "With --backfill: distinct entries the dataset holds of a CT log (source_url) within the range owed in the last --backfill-lookback, after the last cycle.",
	"log_holes":                             "With --backfill: entries of that range still missing after the last cycle, those younger than --backfill-grace not counted.",
	"log_entries_backfilled_total":          "With --backfill: rows the background backfill wrote for a CT log.",
	"log_fetch_errors_total":                "With --backfill: fetches from a CT log that failed after their retries (a tree head, or a hole's walk).",
	"backfill_cycles_total":                 "With --backfill: background backfill cycles run.",
	"backfill_cycles_failed_total":          "With --backfill: cycles that failed as a whole (log list, lock, scan or close).",
	"backfill_last_cycle_timestamp_seconds": "With --backfill: when the last cycle ended (Unix time); 0 before the first.",
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range m.descs {
		ch <- d
	}
	m.durs.batch.Describe(ch)
	m.durs.publish.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	c, a := m.p.client.Counters(), m.p.ds.Counters()
	counter := func(name string, v int64) {
		ch <- prometheus.MustNewConstMetric(m.descs[name], prometheus.CounterValue, float64(v))
	}
	gauge := func(name string, v float64) {
		ch <- prometheus.MustNewConstMetric(m.descs[name], prometheus.GaugeValue, v)
	}
	counter("messages_received_total", c.Frames.Load())
	counter("received_bytes_total", c.Bytes.Load())
	counter("messages_archived_total", c.Certificates.Load()+c.DomainEntries.Load())
	counter("heartbeats_total", c.Heartbeats.Load())
	counter("messages_damaged_total", c.Damaged.Load())
	counter("reconnects_total", max(c.Connects.Load()-1, 0))
	counter("connection_failures_total", c.FailedAttempts.Load())
	gauge("connected", b2f(c.ConnectedSince.Load() != 0))
	gauge("last_message_age_seconds", lastMessageAge(c, time.Now()).Seconds())
	gauge("queue_depth", float64(len(m.p.frames)))
	counter("queue_full_waits_total", c.QueueFullWaits.Load())
	gauge("queue_bytes", float64(c.QueuedBytes.Load()))
	counter("queue_bytes_waits_total", c.QueueBytesWaits.Load())
	counter("frames_after_close_total", c.FramesAfterClose.Load())
	counter("rows_written_total", a.Rows.Load())
	gauge("rows_pending", float64(a.RowsPending.Load()))
	gauge("bytes_pending", float64(a.BytesPending.Load()))
	counter("rows_dropped_total", a.RowsDropped.Load())
	counter("batches_written_total", a.Batches.Load())
	counter("files_published_total", a.FilesPublished.Load())
	counter("published_bytes_total", a.BytesPublished.Load())
	counter("write_errors_total", a.WriteErrors.Load())
	gauge("writing", b2f(a.Writing.Load()))
	gauge("open_files", float64(a.OpenFiles.Load()))
	for reason, n := range c.Skipped() {
		ch <- prometheus.MustNewConstMetric(m.descs["messages_skipped_total"], prometheus.CounterValue, float64(n), string(reason))
	}
	m.p.logs.mu.Lock()
	for log, idx := range m.p.logs.last {
		ch <- prometheus.MustNewConstMetric(m.descs["log_last_cert_index"], prometheus.GaugeValue, float64(idx), log)
	}
	dropped := m.p.logs.dropped
	m.p.logs.mu.Unlock()
	counter("log_labels_dropped_total", dropped)
	m.collectBackfill(ch)
	m.durs.batch.Collect(ch)
	m.durs.publish.Collect(ch)
}

// collectBackfill exports the background backfill's stats, if it runs.
func (m *metrics) collectBackfill(ch chan<- prometheus.Metric) {
	s := m.backfill
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	metric := func(name string, t prometheus.ValueType, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(m.descs[name], t, v, labels...)
	}
	for url, l := range s.logs {
		metric("log_entries_held", prometheus.GaugeValue, float64(l.held), url)
		metric("log_holes", prometheus.GaugeValue, float64(l.holes), url)
		metric("log_entries_backfilled_total", prometheus.CounterValue, float64(l.backfilled), url)
		metric("log_fetch_errors_total", prometheus.CounterValue, float64(l.fetchErr), url)
	}
	metric("backfill_cycles_total", prometheus.CounterValue, float64(s.cycles))
	metric("backfill_cycles_failed_total", prometheus.CounterValue, float64(s.failed))
	last := 0.0
	if !s.lastCycle.IsZero() {
		last = float64(s.lastCycle.UnixNano()) / 1e9
	}
	metric("backfill_last_cycle_timestamp_seconds", prometheus.GaugeValue, last)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// lastMessageAge is how long ago the last frame or pong arrived, -1s before
// the first.
func lastMessageAge(c *stream.Counters, now time.Time) time.Duration {
	at := c.LastFrameAt.Load()
	if at == 0 {
		return -time.Second
	}
	return now.Sub(time.Unix(0, at))
}

// health says whether the archiver is doing its job: connected, hearing
// from the server within the stall timeout, and writing successfully.
func health(c *stream.Counters, a *archive.Counters, stall time.Duration, now time.Time) error {
	switch age := lastMessageAge(c, now); {
	case c.ConnectedSince.Load() == 0:
		return errors.New("not connected to the server")
	case age < 0 || age > stall:
		return fmt.Errorf("no message from the server for %s", age.Round(time.Second))
	case !a.Writing.Load():
		return errors.New("writes are failing (disk full or I/O errors); rows are waiting in memory")
	}
	return nil
}

// serveMetrics serves /metrics and /healthz on addr until ctx ends.
func serveMetrics(ctx context.Context, addr string, p *pipeline, m *metrics, stall time.Duration, log *slog.Logger) (string, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(m, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if err := health(p.client.Counters(), p.ds.Counters(), stall, time.Now()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("--metrics-addr: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	log.Info("serving metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	return ln.Addr().String(), nil
}
