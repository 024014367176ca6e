package stream_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/certstream-arrow/certstream-arrow/stream"
	"github.com/certstream-arrow/certstream-arrow/stream/streamtest"
)

// hangGuard fails the test if done is not closed in time: a guard against
// hangs, not a performance threshold.
const hangGuard = 30 * time.Second

func newClient(t *testing.T, url string, mutate func(*stream.Config)) *stream.Client {
	t.Helper()
	cfg := stream.Config{URL: url, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := stream.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// Cancelling the context while the reader is blocked on a silent server
// makes Run return promptly (the read is unblocked by closing the socket).
func TestCancelDuringBlockedRead(t *testing.T) {
	srv := streamtest.NewServer(t, func(conn *websocket.Conn, _ int) { <-streamtest.Hold(conn) })
	c := newClient(t, srv.URL, nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, make(chan stream.Frame, 1)) }()
	waitFor(t, "connection", func() bool { return c.Counters().ConnectedSince.Load() != 0 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("Run did not return after cancel")
	}
}

// A server that accepts TCP but never answers the handshake cannot hang the
// client: the handshake times out and counts as a failed attempt.
func TestHandshakeTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close() // accept and say nothing
		}
	}()
	c := newClient(t, "ws://"+ln.Addr().String()+"/", func(cfg *stream.Config) {
		cfg.HandshakeTimeout = 50 * time.Millisecond
		cfg.MaxRetries = 2
	})
	err = c.Run(t.Context(), make(chan stream.Frame, 1))
	if !errors.Is(err, stream.ErrRetriesExhausted) || !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("Run: %v, want retries exhausted after handshake timeouts", err)
	}
	if got := c.Counters().FailedAttempts.Load(); got != 3 {
		t.Fatalf("failed attempts %d, want 3 (the first and two retries)", got)
	}
}

// When the consumer stops taking frames, the reader keeps draining the
// socket up to the queue bound, then waits (counted) instead of dropping:
// once the consumer resumes, every frame arrives, in order.
func TestQueueFullWaitsWithoutLoss(t *testing.T) {
	const n, queue = 100, 10
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = fmt.Appendf(nil, `{"message_type":"heartbeat","n":%d}`, i)
	}
	replay := streamtest.NewReplay(streamtest.Text(msgs...))
	srv := streamtest.NewServer(t, replay.Session)
	c := newClient(t, srv.URL, nil)
	out := make(chan stream.Frame, queue)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, out); close(out) }()

	// The consumer is stalled: the reader fills the queue and holds one more.
	waitFor(t, "a full queue", func() bool { return c.Counters().Frames.Load() == queue+1 })
	if len(out) != queue || c.Counters().QueueFullWaits.Load() != 1 {
		t.Fatalf("queue %d, waits %d", len(out), c.Counters().QueueFullWaits.Load())
	}
	for i := range n {
		f := <-out
		if want := fmt.Sprintf(`"n":%d}`, i); !strings.HasSuffix(string(f.Data), want) {
			t.Fatalf("frame %d: %s", i, f.Data)
		}
		f.Release()
	}
	<-replay.Synced()
	cancel()
	for range out {
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// An oversize frame closes the connection with 1009, is counted, and the
// client reconnects.
func TestOversizeFrameReconnects(t *testing.T) {
	replay := streamtest.NewReplay([]streamtest.Frame{{Fault: streamtest.Oversize}, {Data: []byte(`{"message_type":"heartbeat"}`)}})
	srv := streamtest.NewServer(t, replay.Session)
	c := newClient(t, srv.URL, func(cfg *stream.Config) { cfg.MaxMessageBytes = 64 << 10 })
	out := make(chan stream.Frame, 10)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, out) }()
	f := <-out
	if string(f.Data) != `{"message_type":"heartbeat"}` {
		t.Fatalf("got %q", f.Data)
	}
	cancel()
	<-done
	if got := c.Counters().Skipped()[stream.ReasonOversize]; got != 1 || c.Counters().Connects.Load() != 2 {
		t.Fatalf("oversize %d, connects %d", got, c.Counters().Connects.Load())
	}
}

func TestCheckURL(t *testing.T) {
	for url, ok := range map[string]bool{
		"wss://certstream.calidog.io": true, "ws://127.0.0.1:8080/full-stream": true,
		"http://example.com": false, "certstream.calidog.io": false, "wss://": false, "": false, "ws://a b": false,
	} {
		if err := stream.CheckURL(url); (err == nil) != ok {
			t.Errorf("CheckURL(%q) = %v", url, err)
		}
	}
}

// The client answers the server's pings (servers drop clients that do not).
func TestAnswersServerPings(t *testing.T) {
	pong := make(chan string, 1)
	srv := streamtest.NewServer(t, func(conn *websocket.Conn, _ int) {
		conn.SetPongHandler(func(data string) error { pong <- data; return nil })
		gone := streamtest.Hold(conn)
		_ = conn.WriteControl(websocket.PingMessage, []byte("are you there"), time.Now().Add(time.Second))
		<-gone
	})
	c := newClient(t, srv.URL, nil)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go c.Run(ctx, make(chan stream.Frame, 1))
	select {
	case data := <-pong:
		if data != "are you there" {
			t.Fatalf("pong %q", data)
		}
	case <-time.After(hangGuard):
		t.Fatal("no pong")
	}
}
