package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certstream-arrow/certstream-arrow/archive/archivetest"
	"github.com/certstream-arrow/certstream-arrow/stream"
	"github.com/certstream-arrow/certstream-arrow/stream/streamgen"
	"github.com/certstream-arrow/certstream-arrow/stream/streamtest"
)

// run is one archiver run against a fake server, stopped once the replay
// has been read in full.
type run struct {
	cmd     *RunCmd
	root    string
	log     streamtest.LogBuffer
	started chan *pipeline
	p       *pipeline // once started
	done    chan error
	cancel  context.CancelFunc
}

func startRun(t testing.TB, url string, mutate func(*RunCmd)) *run {
	t.Helper()
	r := &run{root: t.TempDir(), started: make(chan *pipeline, 1), done: make(chan error, 1)}
	r.cmd = testRunCmd(url, r.root)
	r.cmd.PingInterval, r.cmd.StallTimeout = 100*time.Millisecond, time.Second
	r.cmd.MaxMessageBytes = 512 << 10
	r.cmd.started = func(p *pipeline) { r.started <- p }
	if mutate != nil {
		mutate(r.cmd)
	}
	if err := r.cmd.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	r.cancel = cancel
	t.Cleanup(cancel)
	go func() { r.done <- r.cmd.Run(ctx, newLogger(&r.log, "debug", "json")) }()
	return r
}

// pipeline waits for the archiver to start and returns its pipeline.
func (r *run) pipeline() *pipeline {
	if r.p == nil {
		r.p = <-r.started
	}
	return r.p
}

// stop waits for synced, then stops the archiver and waits for its exit.
func (r *run) stop(t testing.TB, synced <-chan struct{}) {
	t.Helper()
	r.pipeline()
	select {
	case <-synced:
	case err := <-r.done:
		t.Fatalf("archiver stopped early: %v\nlog:\n%s", err, r.log.String())
	case <-time.After(5 * time.Minute):
		t.Fatalf("the archiver did not read every frame; log:\n%s", r.log.String())
	}
	r.cancel()
	if err := <-r.done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// finish stops the archiver once synced and returns what it archived.
func (r *run) finish(t testing.TB, synced <-chan struct{}) ([]archivetest.Row, *stream.Counters) {
	t.Helper()
	r.stop(t, synced)
	return archivetest.AllRows(archivetest.ReadDataset(t, r.root)), r.pipeline().client.Counters()
}

func generated(kind streamgen.Kind, n int) [][]byte {
	return streamgen.New(streamgen.Options{Kind: kind, Seed: 42}).Take(n)
}

// The server drops the TCP connection every N messages: every message it
// wrote before each drop is archived exactly once, and the client
// reconnects each time.
func TestDropEveryN(t *testing.T) {
	msgs := generated(streamgen.Lite, 2000)
	var script []streamtest.Frame
	for i, f := range streamtest.Text(msgs...) {
		if i > 0 && i%300 == 0 {
			script = append(script, streamtest.Frame{Fault: streamtest.Drop})
		}
		script = append(script, f)
	}
	replay := streamtest.NewReplay(script)
	srv := streamtest.NewServer(t, replay.Session)
	rows, c := startRun(t, srv.URL, nil).finish(t, replay.Synced())
	archivetest.SameRows(t, rows, expectRows(t, msgs), "received_at")
	if got := c.Connects.Load(); got != 7 {
		t.Errorf("%d connections, want 7 (one per drop, plus the first)", got)
	}
}

// The server stops sending and stops answering pings: the client notices
// within --stall-timeout, reconnects, and archives the rest.
func TestStallReconnects(t *testing.T) {
	msgs := generated(streamgen.Full, 400)
	script := streamtest.Text(msgs[:200]...)
	script = append(script, streamtest.Frame{Fault: streamtest.Stall})
	script = append(script, streamtest.Text(msgs[200:]...)...)
	replay := streamtest.NewReplay(script)
	srv := streamtest.NewServer(t, replay.Session)
	r := startRun(t, srv.URL, nil)
	rows, c := r.finish(t, replay.Synced())
	archivetest.SameRows(t, rows, expectRows(t, msgs), "received_at")
	if c.Connects.Load() != 2 || !strings.Contains(r.log.String(), "connection stalled") {
		t.Errorf("connects %d; log:\n%s", c.Connects.Load(), r.log.String())
	}
}

// Bad frames of every kind are skipped and counted by reason; every good
// message around them is archived.
func TestBadInputCountedGoodRowsKept(t *testing.T) {
	good := generated(streamgen.Lite, 60)
	bad := []struct {
		frame  streamtest.Frame
		reason stream.Reason
	}{
		{streamtest.Frame{Data: []byte("hello, not json")}, stream.ReasonNotJSON},
		{streamtest.Frame{Data: []byte(`{"message_type":"certificate_update","data":{"leaf_cert":{`)}, stream.ReasonNotJSON},
		{streamtest.Frame{Data: []byte{0x00, 0x9f, 0xff, 0x10}, Binary: true}, stream.ReasonNotJSON},
		{streamtest.Frame{Data: []byte("\x89PNG\r\n"), Binary: true}, stream.ReasonNotJSON},
		{streamtest.Frame{Data: []byte(`[{"message_type":"heartbeat"}]`)}, stream.ReasonNotObject},
		{streamtest.Frame{Data: []byte(`{"message_type":"certificate_update","data":{"cert_index":"7","leaf_cert":{}}}`)}, stream.ReasonWrongType},
		{streamtest.Frame{Data: []byte(`{"message_type":"certificate_update","data":{"seen":"yesterday","leaf_cert":{}}}`)}, stream.ReasonWrongType},
		{streamtest.Frame{Data: []byte(`{"message_type":"cert_update","data":{}}`)}, stream.ReasonUnknownType},
		{streamtest.Frame{Data: []byte(`{"data":{}}`)}, stream.ReasonUnknownType},
		{streamtest.Frame{Data: []byte(`{"message_type":"certificate_update"}`)}, stream.ReasonMissingData},
		{streamtest.Frame{Data: []byte(`{"message_type":"certificate_update","data":{"cert_index":1}}`)}, stream.ReasonMissingLeaf},
		{streamtest.Frame{Fault: streamtest.Oversize}, stream.ReasonOversize},
	}
	var script []streamtest.Frame
	want := map[stream.Reason]int64{}
	for i, m := range good {
		script = append(script, streamtest.Frame{Data: m, Binary: i%2 == 0}) // JSON in binary frames is good
		if b := bad[i%len(bad)]; i < 2*len(bad) {
			script = append(script, b.frame)
			want[b.reason]++
		}
		if i%20 == 0 {
			script = append(script, streamtest.Frame{Data: []byte(`{"message_type":"heartbeat"}`)})
		}
	}
	replay := streamtest.NewReplay(script)
	srv := streamtest.NewServer(t, replay.Session)
	r := startRun(t, srv.URL, nil)
	rows, c := r.finish(t, replay.Synced())
	archivetest.SameRows(t, rows, expectRows(t, good), "received_at")

	for reason, n := range c.Skipped() {
		if n != want[reason] {
			t.Errorf("skipped %s: %d, want %d", reason, n, want[reason])
		}
	}
	if c.Certificates.Load() != int64(len(good)) || c.Heartbeats.Load() != 3 {
		t.Errorf("certificates %d heartbeats %d", c.Certificates.Load(), c.Heartbeats.Load())
	}
	log := r.log.String()
	for _, s := range []string{`"msg":"messages skipped"`, `"msg":"stats"`, `"skipped_total":24`, "larger than --max-message-bytes"} {
		if !strings.Contains(log, s) {
			t.Errorf("log lacks %s:\n%s", s, log)
		}
	}
}

// Nothing listens at the URL when the archiver starts; it retries until a
// server appears, then archives.
func TestServerDownAtStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	msgs := generated(streamgen.Lite, 100)
	replay := streamtest.NewReplay(streamtest.Text(msgs...))
	r := startRun(t, "ws://"+addr+"/", nil)
	c := r.pipeline().client.Counters()
	for c.FailedAttempts.Load() < 3 {
		time.Sleep(5 * time.Millisecond)
	}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s taken by another process meanwhile: %v", addr, err)
	}
	streamtest.NewServer(t, replay.Session, streamtest.WithListener(ln))
	rows, _ := r.finish(t, replay.Synced())
	archivetest.SameRows(t, rows, expectRows(t, msgs), "received_at")
	if log := r.log.String(); !strings.Contains(log, "connection refused") || !strings.Contains(log, addr) {
		t.Errorf("retry log does not name the URL and the reason:\n%s", log)
	}
}

// HTTP errors on the upgrade are retried with backoff and logged with
// their status.
func TestHTTPErrorOnUpgradeRetried(t *testing.T) {
	for _, status := range []int{http.StatusNotFound, http.StatusInternalServerError, http.StatusTooManyRequests} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			msgs := generated(streamgen.Lite, 50)
			replay := streamtest.NewReplay(streamtest.Text(msgs...))
			srv := streamtest.NewServer(t, replay.Session, streamtest.RejectFirst(3, status))
			r := startRun(t, srv.URL, func(c *RunCmd) { c.Header = []string{"Authorization: Bearer s3cret"} })
			rows, c := r.finish(t, replay.Synced())
			archivetest.SameRows(t, rows, expectRows(t, msgs), "received_at")
			want := "server answered HTTP " + http.StatusText(status)
			if log := r.log.String(); c.FailedAttempts.Load() != 3 || !strings.Contains(log, want[:len(want)-len(http.StatusText(status))]) {
				t.Errorf("failed attempts %d; log:\n%s", c.FailedAttempts.Load(), log)
			}
			h := srv.Header()
			if h.Get("Authorization") != "Bearer s3cret" || !strings.HasPrefix(h.Get("User-Agent"), "certstream-arrow/") {
				t.Errorf("handshake headers %v", h)
			}
		})
	}
}

// wss:// to a server with its own CA: refused with a clear TLS error until
// the CA is trusted with --ca-file, then archived.
func TestTLSWithOwnCA(t *testing.T) {
	msgs := generated(streamgen.Full, 50)
	replay := streamtest.NewReplay(streamtest.Text(msgs...))
	srv := streamtest.NewServer(t, replay.Session, streamtest.WithTLS())

	untrusted := startRun(t, srv.URL, func(c *RunCmd) { c.MaxRetries = 2 })
	err := <-untrusted.done
	if err == nil || !strings.Contains(err.Error(), "certificate") || !strings.Contains(err.Error(), "retries exhausted") {
		t.Fatalf("untrusted server: %v", err)
	}

	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, srv.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	rows, _ := startRun(t, srv.URL, func(c *RunCmd) { c.CAFile = ca }).finish(t, replay.Synced())
	archivetest.SameRows(t, rows, expectRows(t, msgs), "received_at")
}

// The acceptance scenario of resilient streaming in one script: drops every
// 5,000 messages, garbage, binary and oversize frames, one stall. Every
// valid certificate delivered is archived exactly once and the counters
// account for every skipped frame.
func TestEverythingAtOnce(t *testing.T) {
	msgs := generated(streamgen.Lite, 20000)
	var script []streamtest.Frame
	skipped := 0
	for i, m := range msgs {
		switch {
		case i > 0 && i%5000 == 0:
			script = append(script, streamtest.Frame{Fault: streamtest.Drop})
		case i == 7500:
			script = append(script, streamtest.Frame{Fault: streamtest.Stall})
		case i%1000 == 999:
			script = append(script, streamtest.Frame{Fault: streamtest.Oversize})
			skipped++
		case i%100 == 50:
			script = append(script, streamtest.Frame{Data: []byte("garbage"), Binary: i%200 == 50})
			skipped++
		}
		script = append(script, streamtest.Frame{Data: m, Binary: i%7 == 0})
	}
	replay := streamtest.NewReplay(script)
	srv := streamtest.NewServer(t, replay.Session)
	rows, c := startRun(t, srv.URL, nil).finish(t, replay.Synced())
	archivetest.SameRows(t, rows, expectRows(t, msgs), "received_at")
	if got := c.SkippedTotal(); got != int64(skipped) {
		t.Errorf("skipped %d (%v), want %d", got, c.Skipped(), skipped)
	}
	t.Logf("%d rows; %d connections; skipped %v", len(rows), c.Connects.Load(), c.Skipped())
}
