package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// ErrOversize is the error for a message longer than MaxMessageBytes.
var ErrOversize = errors.New("message larger than the read limit")

// conn is one WebSocket connection and the state its reader and its
// keepalive goroutine share.
type conn struct {
	ws      *websocket.Conn
	stall   time.Duration
	closeBy atomic.Int64 // Unix nanoseconds: the closing handshake's deadline; 0 until the close frame is sent
}

// closing reports whether the client has sent its close frame.
func (s *conn) closing() bool { return s.closeBy.Load() != 0 }

// arm sets the read deadline: StallTimeout from now, or the closing
// handshake's deadline once that has started. The second look at closeBy
// makes it safe against startClose running concurrently: whichever of the
// two sets the deadline last, the closing deadline wins.
func (s *conn) arm() error {
	if err := s.ws.SetReadDeadline(time.Now().Add(s.stall)); err != nil {
		return err
	}
	if by := s.closeBy.Load(); by != 0 {
		return s.ws.SetReadDeadline(time.Unix(0, by))
	}
	return nil
}

// startClose sends a close frame (1000) and bounds the rest of the reading
// by timeout. The reader carries on until the server's close frame.
func (s *conn) startClose(timeout time.Duration) {
	by := time.Now().Add(timeout)
	s.closeBy.Store(by.UnixNano())
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "client shutting down")
	if err := s.ws.WriteControl(websocket.CloseMessage, msg, by); err != nil {
		s.ws.Close() // nothing more will come: unblock the reader now
		return
	}
	_ = s.ws.SetReadDeadline(by)
}

// session dials once and reads until the connection fails, or until the
// closing handshake that follows the end of ctx is over. It returns the
// number of frames read.
func (c *Client) session(ctx context.Context, out chan<- Frame, downSince *time.Time) (int64, error) {
	ws, err := c.dial(ctx)
	if err != nil {
		return 0, err
	}
	s := &conn{ws: ws, stall: c.cfg.StallTimeout}
	ws.SetPongHandler(func(string) error {
		c.counters.LastFrameAt.Store(time.Now().UnixNano())
		return s.arm()
	})
	c.connected(downSince)
	defer c.counters.ConnectedSince.Store(0)

	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { c.keepalive(ctx, s, done) })
	n, err := c.read(s, out)
	close(done)
	wg.Wait()
	if s.closing() {
		c.logClosed(err)
	}
	return n, err
}

// connected counts and logs a new connection.
func (c *Client) connected(downSince *time.Time) {
	c.counters.Connects.Add(1)
	c.counters.ConnectedSince.Store(time.Now().UnixNano())
	if downSince.IsZero() {
		c.log.Info("connected", "url", c.url)
		return
	}
	c.log.Info("reconnected", "url", c.url, "down_for", time.Since(*downSince).Round(time.Millisecond))
	*downSince = time.Time{}
}

// logClosed logs how the closing handshake ended.
func (c *Client) logClosed(err error) {
	after := c.counters.FramesAfterClose.Load()
	var ce *websocket.CloseError
	if errors.As(err, &ce) { // the server's close frame: nothing was sent after it
		c.log.Info("connection closed", "url", c.url, "frames_after_close", after)
		return
	}
	// Whatever the server sent after this is lost, and how much cannot be
	// known: only the server's close frame marks the end of what it sent.
	c.log.Warn("closing handshake incomplete: messages the server sent after the last one read are lost; how many cannot be known",
		"url", c.url, "frames_after_close", after, "close_timeout", c.cfg.CloseTimeout, "err", err)
}

// keepalive pings the server every PingInterval. When ctx is done it starts
// the closing handshake and stops pinging. It closes the connection and
// returns once done is closed.
func (c *Client) keepalive(ctx context.Context, s *conn, done <-chan struct{}) {
	defer s.ws.Close()
	t := time.NewTicker(c.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			s.startClose(c.cfg.CloseTimeout)
			<-done
			return
		case <-t.C:
			if err := s.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.cfg.PingInterval)); err != nil {
				s.ws.Close()
			}
		}
	}
}

// read reads frames into out until the connection fails or is closed.
func (c *Client) read(s *conn, out chan<- Frame) (int64, error) {
	var n int64
	for {
		if err := s.arm(); err != nil {
			return n, err
		}
		_, r, err := s.ws.NextReader()
		if err != nil {
			return n, c.readError(s, err)
		}
		f, err := c.readFrame(r)
		if err != nil {
			return n, c.readError(s, err)
		}
		n++
		c.counters.Frames.Add(1)
		c.counters.Bytes.Add(int64(len(f.Data)))
		c.counters.LastFrameAt.Store(f.ReceivedAt.UnixNano())
		if s.closing() {
			c.counters.FramesAfterClose.Add(1)
		}
		c.send(out, f)
	}
}

// readFrame reads one message into a pooled buffer. It reads at most
// MaxMessageBytes+1 bytes, whatever the framing: gorilla's read limit
// counts bytes on the wire, not what an extension might expand them to.
func (c *Client) readFrame(r io.Reader) (Frame, error) {
	buf := c.pool.Get().(*[]byte)
	b := (*buf)[:0]
	limit := int(min(c.cfg.MaxMessageBytes+1, int64(maxInt)))
	for {
		if len(b) == cap(b) {
			b = grow(b, min(max(cap(b), frameBuffer), limit-len(b)))
		}
		n, err := r.Read(b[len(b):min(cap(b), limit)])
		b = b[:len(b)+n]
		if len(b) == limit {
			err = ErrOversize
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			*buf = b[:0]
			Frame{Data: b[:0], buf: buf, pool: &c.pool}.Release()
			return Frame{}, err
		}
	}
	*buf = b
	return Frame{Data: b, ReceivedAt: time.Now(), buf: buf, pool: &c.pool}, nil
}

const maxInt = int(^uint(0) >> 1)

// grow returns b with room for exactly n more bytes. Unlike append's
// growth, which adds a quarter and rounds up to a size class, it keeps a
// big message's buffer within twice its length: the queue budget counts
// capacity.
func grow(b []byte, n int) []byte {
	nb := make([]byte, len(b), len(b)+n)
	copy(nb, b)
	return nb
}

// send hands f to the consumer. It waits while the frames queued hold
// MaxQueueBytes (one frame always fits an empty queue), then for room in
// out. It does not give up on cancellation: a frame read off the socket is
// never dropped, and the consumer drains the queue until Run returns.
func (c *Client) send(out chan<- Frame, f Frame) {
	f.queue, f.held = c.queue, int64(cap(f.Data))
	if c.queue.take(f.held) {
		c.counters.QueueBytesWaits.Add(1)
	}
	select {
	case out <- f:
		return
	default:
	}
	c.counters.QueueFullWaits.Add(1)
	out <- f
}

func (c *Client) readError(s *conn, err error) error {
	switch {
	case errors.Is(err, ErrOversize):
		msg := websocket.FormatCloseMessage(websocket.CloseMessageTooBig, "")
		_ = s.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
		fallthrough
	case errors.Is(err, websocket.ErrReadLimit): // gorilla has sent close 1009
		c.counters.Skip(ReasonOversize)
		return fmt.Errorf("frame larger than --max-message-bytes=%d: %w", c.cfg.MaxMessageBytes, err)
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		if s.closing() {
			return fmt.Errorf("no close frame from the server within %s: %w", c.cfg.CloseTimeout, err)
		}
		return fmt.Errorf("connection stalled: nothing received for %s: %w", c.cfg.StallTimeout, err)
	}
	return err
}
