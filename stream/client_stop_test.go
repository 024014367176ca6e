package stream_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/certstream-arrow/certstream-arrow/stream"
	"github.com/certstream-arrow/certstream-arrow/stream/streamtest"
)

// stopGuard is how long a stop may take before the test calls it a hang:
// generous, so that it catches hangs (the old 15 s handshake wait), not
// slowness.
const stopGuard = 5 * time.Second

// numbered returns n messages whose text carries their index.
func numbered(n int) [][]byte {
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = fmt.Appendf(nil, `{"message_type":"heartbeat","n":%d}`, i)
	}
	return msgs
}

// On cancel under a flood, the client sends a close frame and keeps reading
// until the server's close frame: it receives every message the server
// wrote before it saw the close, in order.
func TestCloseHandshakeKeepsInFlightMessages(t *testing.T) {
	flood := streamtest.NewFlood(numbered(200_000))
	srv := streamtest.NewServer(t, flood.Session)
	c := newClient(t, srv.URL, func(cfg *stream.Config) { cfg.CloseTimeout = hangGuard })
	out := make(chan stream.Frame, 64)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, out); close(out) }()
	waitFor(t, "a flood", func() bool { return flood.Written() >= 20_000 })
	cancel()
	got := 0
	for f := range out {
		if want := fmt.Sprintf(`"n":%d}`, got); !strings.HasSuffix(string(f.Data), want) {
			t.Fatalf("frame %d: %s", got, f.Data)
		}
		got++
		f.Release()
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	sent, ok := flood.WrittenBeforeClose()
	if !ok || int64(got) < sent {
		t.Fatalf("received %d messages; the server wrote %d before it read the close frame (read: %v)", got, sent, ok)
	}
	t.Logf("server wrote %d before the close; client received %d, %d of them after sending its close",
		sent, got, c.Counters().FramesAfterClose.Load())
}

// A server that never answers the close frame holds a stop for no longer
// than CloseTimeout.
func TestCloseTimeoutBoundsStop(t *testing.T) {
	release := make(chan struct{})
	srv := streamtest.NewServer(t, func(conn *websocket.Conn, _ int) {
		_ = conn.WriteMessage(websocket.TextMessage, []byte(`{"message_type":"heartbeat"}`))
		<-release // reads nothing: the close frame goes unanswered
	})
	t.Cleanup(func() { close(release) }) // runs before the server's Close
	c := newClient(t, srv.URL, func(cfg *stream.Config) { cfg.CloseTimeout = 50 * time.Millisecond })
	out := make(chan stream.Frame, 1)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, out) }()
	(<-out).Release()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(stopGuard):
		t.Fatal("Run did not return after the close timeout")
	}
}

// A stop is prompt while a handshake hangs (the server accepts TCP and
// never answers): cancelling closes the connection being dialled instead
// of waiting out the 15 s handshake timeout.
func TestCancelDuringHangingHandshake(t *testing.T) {
	srv := streamtest.NewSilent(t)
	c := newClient(t, srv.URL, nil) // default 15 s handshake timeout
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, make(chan stream.Frame, 1)) }()
	<-srv.Requested // the client waits for the answer to its upgrade request
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("Run returned %v after cancel", time.Since(start).Round(time.Millisecond))
	case <-time.After(stopGuard):
		t.Fatalf("Run still waiting for the handshake %v after cancel", stopGuard)
	}
}

// A server that delivers data on every connection and then drops it is
// working: the connections do not count towards MaxRetries, however short.
// One that accepts and drops without data does, and Run gives up.
func TestRetriesCountOnlyConnectionsWithoutData(t *testing.T) {
	tests := []struct {
		name      string
		frames    int // sent on each connection before the drop
		wantConns int64
		wantErr   bool
	}{
		{"one frame then drop", 1, 12, false},
		{"no data then drop", 0, 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := streamtest.NewServer(t, func(conn *websocket.Conn, _ int) {
				for range tt.frames {
					_ = conn.WriteMessage(websocket.TextMessage, []byte(`{"message_type":"heartbeat"}`))
				}
				conn.UnderlyingConn().Close()
			})
			c := newClient(t, srv.URL, func(cfg *stream.Config) {
				cfg.MaxRetries = 2
				cfg.ReconnectDelay = time.Millisecond
			})
			out := make(chan stream.Frame, 100)
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- c.Run(ctx, out) }()
			var err error
			select {
			case err = <-done:
			case <-waitCh(func() bool { return c.Counters().Connects.Load() >= tt.wantConns+1 }):
			}
			cancel()
			if err == nil {
				err = <-done
			}
			if errors.Is(err, stream.ErrRetriesExhausted) != tt.wantErr || c.Counters().Connects.Load() < tt.wantConns {
				t.Fatalf("Run: %v after %d connections; want %d connections, retries exhausted: %v",
					err, c.Counters().Connects.Load(), tt.wantConns, tt.wantErr)
			}
		})
	}
}

// waitCh closes the returned channel once cond holds (or after hangGuard).
func waitCh(cond func() bool) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		for deadline := time.Now().Add(hangGuard); !cond() && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}()
	return ch
}

// user:password in the URL is sent as HTTP Basic authentication, and
// neither the password nor any header value appears in a log line or an
// error, through failed attempts and retries.
func TestURLCredentialsSentNeverLogged(t *testing.T) {
	replay := streamtest.NewReplay(streamtest.Text([]byte(`{"message_type":"heartbeat"}`)))
	srv := streamtest.NewServer(t, replay.Session, streamtest.RejectFirst(3, http.StatusUnauthorized))
	const password, token = "pa55-w0rd-9", "t0ken-7b1"
	url := strings.Replace(srv.URL, "ws://", "ws://alice:"+password+"@", 1)
	var logs streamtest.LogBuffer
	c := newClient(t, url, func(cfg *stream.Config) {
		cfg.Header = http.Header{"X-Api-Key": {token}}
		cfg.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	out := make(chan stream.Frame, 10)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, out) }()
	select {
	case <-replay.Synced():
	case <-time.After(hangGuard):
		t.Errorf("no connection within %v; log:\n%s", hangGuard, logs.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+password))
	if got := srv.Header().Get("Authorization"); got != want {
		t.Errorf("Authorization %q, want %q", got, want)
	}
	if c.Counters().FailedAttempts.Load() != 3 || !strings.Contains(logs.String(), "401") {
		t.Errorf("want 3 logged 401 failures; log:\n%s", logs.String())
	}
	for _, secret := range []string{password, token, want} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("log contains %q:\n%s", secret, logs.String())
		}
	}
}

// Errors about a server URL never contain its password, even when the URL
// does not parse; user:password and an Authorization header conflict.
func TestURLErrorsHidePassword(t *testing.T) {
	tests := []struct {
		url    string
		header http.Header
	}{
		{"ws://bob:hunter2@host:port/", nil},
		{"ws://bob:hunter2@ho st/", nil},
		{"http://bob:hunter2@host/", nil},
		{"ws://bob:hunter2@host/\x7f", nil},
		{"ws://bob:hunter2@host/", http.Header{"Authorization": {"Bearer x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, err := stream.NewClient(stream.Config{URL: tt.url, Header: tt.header})
			if err == nil || strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("NewClient: %v; want an error without the password", err)
			}
		})
	}
}
