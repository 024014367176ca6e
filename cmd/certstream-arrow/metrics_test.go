package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/stream"
	"github.com/certstream-arrow/certstream-arrow/stream/streamgen"
	"github.com/certstream-arrow/certstream-arrow/stream/streamtest"
)

// scrape returns every sample of a Prometheus text exposition, keyed by
// the series as printed (name{labels}).
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	samples := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	return samples
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body))
}

// A scrape during an end-to-end run agrees with the rows read back from
// the published files afterwards.
func TestMetricsMatchArchivedRows(t *testing.T) {
	msgs := generated(streamgen.Lite, 700)
	script := streamtest.Text(msgs...)
	script = append(script, streamtest.Frame{Data: []byte("garbage")}, streamtest.Frame{Data: []byte(`{"message_type":"heartbeat"}`)},
		streamtest.Frame{Data: []byte(`{"message_type":"certificate_update"}`)})
	replay := streamtest.NewReplay(script)
	srv := streamtest.NewServer(t, replay.Session)
	addrs := make(chan string, 1)
	r := startRun(t, srv.URL, func(c *RunCmd) {
		c.MetricsAddr = "127.0.0.1:0"
		c.metricsBound = func(a string) { addrs <- a }
		c.RotateRows = 200
	})
	base := "http://" + <-addrs
	c := r.pipeline().client.Counters()
	<-replay.Synced()
	for c.Certificates.Load()+c.SkippedTotal()+c.Heartbeats.Load() < int64(len(script)) {
		time.Sleep(5 * time.Millisecond)
	}
	// The scrape must equal the client's own counters. On a loaded machine a
	// stall can make the client reconnect: compare with the counters read
	// around the scrape, and skip the connection series if one happened
	// during it.
	connectsBefore := c.Connects.Load()
	m := scrape(t, base+"/metrics")
	steady := c.Connects.Load() == connectsBefore && c.ConnectedSince.Load() != 0
	if code, body := get(t, base+"/healthz"); code != 200 || body != "ok" {
		t.Errorf("healthz while running: %d %q", code, body)
	}
	rows, _ := r.finish(t, replay.Synced())

	want := map[string]float64{
		"certstream_arrow_messages_archived_total":                       float64(len(rows)),
		"certstream_arrow_messages_received_total":                       float64(len(script)),
		`certstream_arrow_messages_skipped_total{reason="not_json"}`:     1,
		`certstream_arrow_messages_skipped_total{reason="missing_data"}`: 1,
		"certstream_arrow_heartbeats_total":                              1,
		"certstream_arrow_writing":                                       1,
	}
	if steady {
		want["certstream_arrow_connected"] = 1
		want["certstream_arrow_reconnects_total"] = float64(connectsBefore - 1)
	}
	last := map[string]int64{}
	for _, row := range rows {
		url := row["source_url"].(string)
		last[url] = max(last[url], row["cert_index"].(int64))
	}
	for url, idx := range last {
		want[fmt.Sprintf("certstream_arrow_log_last_cert_index{log=%q}", url)] = float64(idx)
	}
	for series, v := range want {
		if got, ok := m[series]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, v)
		}
	}
	// A batch is timed when written and counted when settled: one may be
	// between the two.
	if n, timed := m["certstream_arrow_batches_written_total"], m["certstream_arrow_batch_write_duration_seconds_count"]; n == 0 || timed < n || timed > n+1 {
		t.Errorf("batches written %v, batch write durations observed %v", m["certstream_arrow_batches_written_total"], m["certstream_arrow_batch_write_duration_seconds_count"])
	}
	if m["certstream_arrow_files_published_total"] < 2 || m["certstream_arrow_publish_duration_seconds_count"] != m["certstream_arrow_files_published_total"] {
		t.Errorf("files published %v, publish durations observed %v", m["certstream_arrow_files_published_total"], m["certstream_arrow_publish_duration_seconds_count"])
	}
}

func TestHealth(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name  string
		setup func(c *stream.Counters, a *archive.Counters)
		want  string
	}{
		{"not connected", func(c *stream.Counters, a *archive.Counters) {}, "not connected"},
		{"connected, nothing yet", func(c *stream.Counters, a *archive.Counters) {
			c.ConnectedSince.Store(now.UnixNano())
		}, "no message"},
		{"silent too long", func(c *stream.Counters, a *archive.Counters) {
			c.ConnectedSince.Store(now.UnixNano())
			c.LastFrameAt.Store(now.Add(-2 * time.Minute).UnixNano())
		}, "no message from the server for 2m0s"},
		{"writes failing", func(c *stream.Counters, a *archive.Counters) {
			c.ConnectedSince.Store(now.UnixNano())
			c.LastFrameAt.Store(now.UnixNano())
			a.Writing.Store(false)
		}, "writes are failing"},
		{"healthy", func(c *stream.Counters, a *archive.Counters) {
			c.ConnectedSince.Store(now.UnixNano())
			c.LastFrameAt.Store(now.Add(-time.Second).UnixNano())
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c stream.Counters
			var a archive.Counters
			a.Writing.Store(true)
			tt.setup(&c, &a)
			err := health(&c, &a, 75*time.Second, now)
			if (err == nil) != (tt.want == "") || err != nil && !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("health: %v, want %q", err, tt.want)
			}
		})
	}
}

// Observing more CT logs than the label limit does not grow the metrics.
func TestLogLabelsBounded(t *testing.T) {
	var l logIndexes
	for i := range maxLogLabels + 50 {
		l.observe([]byte(fmt.Sprintf("https://log%d.example/", i)), int64(i))
	}
	if len(l.last) != maxLogLabels || l.dropped != 50 {
		t.Fatalf("%d labels, %d dropped", len(l.last), l.dropped)
	}
}

// Hundreds of distinct, very long source URLs (a hostile server) pin no
// more than the key limit allows: each is counted as dropped, none kept.
func TestLogURLsBounded(t *testing.T) {
	var l logIndexes
	long := bytes.Repeat([]byte("a"), 1<<20)
	for i := range 300 {
		l.observe(append(fmt.Appendf(nil, "https://log%d.example/", i), long...), int64(i))
	}
	l.observe([]byte("https://ct.example/log/"), 7)
	keyBytes := 0
	for k := range l.last {
		keyBytes += len(k)
	}
	if len(l.last) != 1 || l.dropped != 300 || keyBytes > maxLogLabels*maxLogURLBytes {
		t.Fatalf("%d logs kept (%d key bytes), %d dropped: want 1 and 300", len(l.last), keyBytes, l.dropped)
	}
}
