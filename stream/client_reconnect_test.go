package stream_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/certstream-arrow/certstream-arrow/stream"
	"github.com/certstream-arrow/certstream-arrow/stream/streamtest"
)

// dropper is a server that sends perConn messages on every connection, the
// first naming the connection, then drops it without a close frame, and
// records when.
type dropper struct {
	perConn int
	mu      sync.Mutex
	dropped map[int]time.Time
}

func (d *dropper) session(conn *websocket.Conn, n int) {
	for i := range d.perConn {
		if conn.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `{"conn":%d,"i":%d}`, n, i)) != nil {
			return
		}
	}
	d.mu.Lock()
	d.dropped[n] = time.Now()
	d.mu.Unlock()
	conn.UnderlyingConn().Close()
}

// TestMeasureReconnect measures the time from a server's drop to the client
// reading again, after the 1st and the 50th drop of a server that drops
// every connection after 2,000 messages. It is a measurement, not a check:
// it runs only with CERTSTREAM_ARROW_MEASURE=1, with the default backoff
// or CERTSTREAM_ARROW_BACKOFF=min,max; CERTSTREAM_ARROW_DROPS=n measures n
// drops instead of 50.
//
//	CERTSTREAM_ARROW_MEASURE=1 go test -run TestMeasureReconnect -v ./stream/
func TestMeasureReconnect(t *testing.T) {
	if os.Getenv("CERTSTREAM_ARROW_MEASURE") == "" {
		t.Skip("a measurement: set CERTSTREAM_ARROW_MEASURE=1")
	}
	drops := 50
	if n := os.Getenv("CERTSTREAM_ARROW_DROPS"); n != "" {
		fmt.Sscan(n, &drops)
	}
	d := &dropper{perConn: 2000, dropped: map[int]time.Time{}}
	srv := streamtest.NewServer(t, d.session)
	def := stream.DefaultConfig()
	cfg := stream.Config{URL: srv.URL, MinBackoff: def.MinBackoff, MaxBackoff: def.MaxBackoff}
	if b := os.Getenv("CERTSTREAM_ARROW_BACKOFF"); b != "" {
		lo, hi, _ := strings.Cut(b, ",")
		var err1, err2 error
		cfg.MinBackoff, err1 = time.ParseDuration(lo)
		cfg.MaxBackoff, err2 = time.ParseDuration(hi)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatalf("CERTSTREAM_ARROW_BACKOFF=%s: %v", b, err)
		}
	}
	c, err := stream.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan stream.Frame, 4096)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go c.Run(ctx, out)
	var gaps []time.Duration
	for len(gaps) < drops {
		f := <-out
		var conn, i int
		fmt.Sscanf(string(f.Data), `{"conn":%d,"i":%d}`, &conn, &i)
		if i == 0 && conn > 0 {
			d.mu.Lock()
			gaps = append(gaps, f.ReceivedAt.Sub(d.dropped[conn-1]))
			d.mu.Unlock()
			t.Logf("drop %2d: reading again after %v", len(gaps), gaps[len(gaps)-1].Round(time.Microsecond))
		}
		f.Release()
	}
	var total time.Duration
	for _, g := range gaps {
		total += g
	}
	t.Logf("drop→reading again: after drop 1 %v, after drop %d %v, mean %v (backoff %v..%v)",
		gaps[0].Round(time.Microsecond), drops, gaps[drops-1].Round(time.Microsecond),
		(total / time.Duration(drops)).Round(time.Microsecond), cfg.MinBackoff, cfg.MaxBackoff)
}
