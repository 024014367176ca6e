package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fastjson"

	"github.com/certstream-arrow/certstream-arrow/archive/archivetest"
	"github.com/certstream-arrow/certstream-arrow/stream"
	"github.com/certstream-arrow/certstream-arrow/stream/streamgen"
)

func TestShape(t *testing.T) {
	full := streamgen.New(streamgen.Options{Kind: streamgen.Full}).Next()
	var p fastjson.Parser
	lite := shape(&p, full, "lite")
	if bytes.Contains(lite, []byte(`"as_der"`)) || !bytes.Contains(lite, []byte(`"all_domains"`)) || !bytes.Contains(lite, []byte(`"chain"`)) {
		t.Errorf("lite still has DER or lost fields: %.300s", lite)
	}
	dom := shape(&p, full, "domains-only")
	v, err := fastjson.ParseBytes(dom)
	if err != nil || string(v.GetStringBytes("message_type")) != "dns_entries" || len(v.GetArray("data")) == 0 {
		t.Errorf("domains-only: %s", dom)
	}
	if got := shape(&p, full, "full"); !bytes.Equal(got, full) {
		t.Error("full changed")
	}
	hb := []byte(`{"message_type":"heartbeat"}`)
	if got := shape(&p, hb, "lite"); !bytes.Equal(got, hb) {
		t.Errorf("heartbeat changed: %s", got)
	}
}

// serve runs a ServeCmd until the test ends and returns its URL.
func serve(t *testing.T, s *ServeCmd) string {
	t.Helper()
	s.Addr = "127.0.0.1:0"
	urls := make(chan string, 1)
	s.ready = func(url string) { urls <- url }
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, newLogger(t.Output(), "warn", "text")) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case url := <-urls:
		return url
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	return ""
}

// archiveUntil runs the archiver against url until cond holds on its
// counters, then stops it and returns the rows.
func archiveUntil(t *testing.T, url string, cond func(*stream.Counters) bool) []archivetest.Row {
	t.Helper()
	r := startRun(t, url, func(c *RunCmd) { c.PartitionBy = "received" })
	c := r.pipeline().client.Counters()
	deadline := time.Now().Add(time.Minute)
	for !cond(c) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out; certificates %d domains %d heartbeats %d", c.Certificates.Load(), c.DomainEntries.Load(), c.Heartbeats.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.cancel()
	if err := <-r.done; err != nil {
		t.Fatal(err)
	}
	return archivetest.AllRows(archivetest.ReadDataset(t, r.root))
}

// `serve --synthetic` feeds the archiver end to end: lite rows without DER,
// heartbeats, each certificate once.
func TestServeSyntheticFeedsArchiver(t *testing.T) {
	url := serve(t, &ServeCmd{Synthetic: true, Stream: "lite", Count: 300, Rate: 3000, Heartbeat: 20 * time.Millisecond})
	rows := archiveUntil(t, url, func(c *stream.Counters) bool { return c.Certificates.Load() == 300 && c.Heartbeats.Load() > 0 })
	keys := map[string]bool{}
	for _, r := range rows {
		if r["as_der"] != nil || r["domains"] == nil || r["fingerprint"] == nil {
			t.Fatalf("not a lite row: %v", r)
		}
		keys[fmt.Sprint(r["source_url"], r["cert_index"])] = true
	}
	if len(rows) != 300 || len(keys) != 300 {
		t.Fatalf("%d rows, %d distinct certificates; want 300", len(rows), len(keys))
	}
}

// A capture replayed with --loop and --count on /domains-only: every line
// shaped as dns_entries, the capture repeated until the count.
func TestServeCaptureLoopDomainsOnly(t *testing.T) {
	msgs := generated(streamgen.Full, 10)
	path := filepath.Join(t.TempDir(), "capture.jsonl")
	if err := os.WriteFile(path, append(bytes.Join(msgs, []byte("\n")), '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	url := serve(t, &ServeCmd{File: path, Stream: "full", Loop: true, Count: 25, Heartbeat: time.Hour})
	rows := archiveUntil(t, url+"domains-only", func(c *stream.Counters) bool { return c.DomainEntries.Load() == 25 })
	if len(rows) != 25 {
		t.Fatalf("%d rows, want 25", len(rows))
	}
	var p fastjson.Parser
	for i, r := range rows {
		want, _ := archivetest.Expect(shape(&p, msgs[i%10], "domains-only"))
		if fmt.Sprint(r["domains"]) != fmt.Sprint(want["domains"]) || r["cert_index"] != nil {
			t.Fatalf("row %d: %v, want domains %v", i, r["domains"], want["domains"])
		}
	}
	if !strings.HasSuffix(url, "/") {
		t.Fatalf("url %s", url)
	}
}
