package stream_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/certstream-arrow/certstream-arrow/stream"
	"github.com/certstream-arrow/certstream-arrow/stream/streamtest"
)

// A server that answers the handshake with permessage-deflate the client
// never offered is refused: before, 1 KiB on the wire inflated into a 1 MiB
// frame past a 64 KiB limit (issue 11: 261 KB became a 256 MiB row).
func TestRefusesUnofferedCompression(t *testing.T) {
	srv := streamtest.NewServer(t, func(conn *websocket.Conn, _ int) {
		gone := streamtest.Hold(conn)
		_ = conn.WriteMessage(websocket.TextMessage, make([]byte, 1<<20))
		<-gone
	}, streamtest.ForceCompression())
	const limit = 64 << 10
	c := newClient(t, srv.URL, func(cfg *stream.Config) { cfg.MaxMessageBytes, cfg.MaxRetries = limit, 1 })
	out := make(chan stream.Frame, 1)
	done := make(chan error, 1)
	go func() { done <- c.Run(t.Context(), out) }()
	select {
	case f := <-out:
		t.Fatalf("accepted a %d-byte frame with --max-message-bytes=%d", len(f.Data), limit)
	case err := <-done:
		if !errors.Is(err, stream.ErrRetriesExhausted) || !strings.Contains(err.Error(), "permessage-deflate") {
			t.Fatalf("Run: %v, want retries exhausted naming the refused extension", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("Run neither refused the server nor delivered a frame")
	}
	if n := c.Counters().Frames.Load(); n != 0 {
		t.Fatalf("%d frames read from a refused server", n)
	}
}

// Messages just under the size limit are queued by bytes, not only by
// count: with the consumer stalled, the frames waiting hold no more than
// MaxQueueBytes (or are a single frame), and none is lost or reordered.
func TestQueueBoundedByBytes(t *testing.T) {
	const n, size, budget = 20, 300 << 10, 1 << 20
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = append(fmt.Appendf(nil, `{"n":%d,"pad":"`, i), bytes.Repeat([]byte("x"), size)...)
	}
	replay := streamtest.NewReplay(streamtest.Text(msgs...))
	srv := streamtest.NewServer(t, replay.Session)
	c := newClient(t, srv.URL, func(cfg *stream.Config) {
		cfg.MaxMessageBytes = 1 << 20
		cfg.MaxQueueBytes = budget
	})
	out := make(chan stream.Frame, 100) // room for every frame: only bytes bound the queue
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, out); close(out) }()

	// The reader stops, holding one frame it cannot queue, or (the old
	// behaviour) queues every frame.
	counters := c.Counters()
	waitFor(t, "the reader to stop", func() bool {
		read := int(counters.Frames.Load())
		return read == len(out)+1 || len(out) == n
	})
	queued := len(out)
	held := 0
	for i := range n {
		f := <-out
		if !bytes.HasPrefix(f.Data, fmt.Appendf(nil, `{"n":%d,`, i)) || len(f.Data) != len(msgs[i]) {
			t.Fatalf("frame %d: %.20s... (%d bytes)", i, f.Data, len(f.Data))
		}
		if i < queued {
			held += cap(f.Data)
		}
		f.Release()
	}
	if queued > 1 && held > budget {
		t.Fatalf("%d frames holding %d bytes were queued; the budget is %d", queued, held, budget)
	}
	t.Logf("stalled consumer: %d frames (%d KiB) queued, %d byte waits", queued, held>>10, counters.QueueBytesWaits.Load())
	<-replay.Synced()
	cancel()
	for range out {
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// One message bigger than the whole budget still passes: an empty queue
// always admits one frame.
func TestQueueAdmitsOneBigFrame(t *testing.T) {
	big := append([]byte(`{"pad":"`), bytes.Repeat([]byte("x"), 200<<10)...)
	replay := streamtest.NewReplay(streamtest.Text(big, big, big))
	srv := streamtest.NewServer(t, replay.Session)
	c := newClient(t, srv.URL, func(cfg *stream.Config) { cfg.MaxQueueBytes = 64 << 10 })
	out := make(chan stream.Frame, 10)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, out); close(out) }()
	for range 3 {
		f := <-out
		if len(f.Data) != len(big) {
			t.Fatalf("frame of %d bytes, want %d", len(f.Data), len(big))
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
	if q := c.Counters().QueuedBytes.Load(); q != 0 {
		t.Fatalf("%d bytes still counted after every frame was released", q)
	}
}
