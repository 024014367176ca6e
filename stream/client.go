package stream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Config configures a Client. Zero durations take the defaults in
// DefaultConfig.
type Config struct {
	URL              string
	Header           http.Header // extra handshake headers, e.g. Authorization
	UserAgent        string
	TLS              *tls.Config // nil: system roots
	PingInterval     time.Duration
	StallTimeout     time.Duration // a connection silent this long (no frame, no pong) is dead
	HandshakeTimeout time.Duration // TCP + TLS + HTTP upgrade
	MaxMessageBytes  int64
	MinBackoff       time.Duration
	MaxBackoff       time.Duration
	HealthyAfter     time.Duration // a connection up this long resets the backoff: the next retry is quick
	MaxRetries       int           // retries after consecutive failed attempts before Run gives up; 0 retries forever
	Logger           *slog.Logger
}

// DefaultConfig returns the defaults used for zero fields.
func DefaultConfig() Config {
	return Config{
		PingInterval:     20 * time.Second,
		StallTimeout:     75 * time.Second,
		HandshakeTimeout: 15 * time.Second,
		MaxMessageBytes:  16 << 20,
		MinBackoff:       time.Second,
		MaxBackoff:       60 * time.Second,
		HealthyAfter:     10 * time.Second,
	}
}

// ErrRetriesExhausted is returned by Run when an attempt and the
// MaxRetries retries after it all failed.
var ErrRetriesExhausted = errors.New("connection retries exhausted")

// Frame is one WebSocket message as read off the socket. Data belongs to
// the receiver until it calls Release; after that it must not be used.
type Frame struct {
	Data       []byte
	ReceivedAt time.Time
	buf        *[]byte
	pool       *sync.Pool
}

// Release returns the frame's buffer for reuse. It is safe to call on a
// zero Frame.
func (f Frame) Release() {
	if f.pool != nil && cap(*f.buf) <= frameBuffer {
		*f.buf = f.Data[:0]
		f.pool.Put(f.buf)
	}
}

// Frame buffers start at this size, which nearly every message fits (lite
// ~1.7 KB, full ~5 KB), and only buffers of this size are pooled: one that
// grew for a rare big message (a certificate with 1,000 names is ~60 KB) is
// left to the GC. Were grown buffers pooled, the thousands of frames in the
// queue would, over hours, each come to hold a buffer sized for the largest
// message it ever carried, and memory would creep up with uptime (measured:
// +14 MB of live heap in 10 s of a full-stream flood).
const frameBuffer = 8 << 10

// Client reads a CertStream server for as long as its context lives,
// reconnecting whenever the connection fails.
type Client struct {
	cfg      Config
	dialer   websocket.Dialer
	pool     sync.Pool
	counters Counters
	log      *slog.Logger
}

// NewClient checks cfg and returns a Client. The URL must be ws:// or wss://.
func NewClient(cfg Config) (*Client, error) {
	if err := CheckURL(cfg.URL); err != nil {
		return nil, err
	}
	cfg.fill()
	c := &Client{cfg: cfg, log: cfg.Logger}
	c.dialer = websocket.Dialer{
		Proxy:            http.ProxyFromEnvironment,
		HandshakeTimeout: cfg.HandshakeTimeout,
		TLSClientConfig:  cfg.TLS,
		ReadBufferSize:   64 << 10,
		WriteBufferSize:  4 << 10,
		// No permessage-deflate: inflating costs ~18 µs a message, more
		// than everything else on the read path together.
		EnableCompression: false,
	}
	c.pool.New = func() any { b := make([]byte, 0, frameBuffer); return &b }
	return c, nil
}

// CheckURL accepts ws:// and wss:// URLs with a host.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("server URL %q: %w", raw, err)
	}
	if (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return fmt.Errorf("server URL %q: want ws://host[:port]/path or wss://host[:port]/path", raw)
	}
	return nil
}

func (cfg *Config) fill() {
	def := DefaultConfig()
	setDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	setDur(&cfg.PingInterval, def.PingInterval)
	setDur(&cfg.StallTimeout, def.StallTimeout)
	setDur(&cfg.HandshakeTimeout, def.HandshakeTimeout)
	setDur(&cfg.MinBackoff, def.MinBackoff)
	setDur(&cfg.MaxBackoff, def.MaxBackoff)
	setDur(&cfg.HealthyAfter, def.HealthyAfter)
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = def.MaxMessageBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Header == nil {
		cfg.Header = http.Header{}
	}
	if cfg.UserAgent != "" && cfg.Header.Get("User-Agent") == "" {
		cfg.Header = cfg.Header.Clone()
		cfg.Header.Set("User-Agent", cfg.UserAgent)
	}
}

// Counters returns the Client's live counters.
func (c *Client) Counters() *Counters { return &c.counters }

// Run connects, reads frames into out until ctx is done, and reconnects
// after every failure with capped exponential backoff and full jitter. It
// returns nil when ctx is done, or ErrRetriesExhausted. Run never closes
// out. When out is full, the reader waits for room (counted in
// QueueFullWaits): frames are never dropped. The receiver must keep
// draining out until Run has returned.
func (c *Client) Run(ctx context.Context, out chan<- Frame) error {
	var b backoff
	var downSince time.Time
	for ctx.Err() == nil {
		start := time.Now()
		err := c.session(ctx, out, &downSince)
		if ctx.Err() != nil {
			return nil
		}
		c.counters.FailedAttempts.Add(1)
		if downSince.IsZero() {
			downSince = time.Now()
		}
		if time.Since(start) >= c.cfg.HealthyAfter {
			b.reset()
		}
		if c.cfg.MaxRetries > 0 && b.attempts >= c.cfg.MaxRetries {
			return fmt.Errorf("%w after %d attempts: %w", ErrRetriesExhausted, b.attempts, err)
		}
		wait := b.next(c.cfg.MinBackoff, c.cfg.MaxBackoff)
		c.log.Warn("connection failed, retrying", "url", c.cfg.URL, "err", err, "attempt", b.attempts, "retry_in", wait.Round(time.Millisecond))
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	return nil
}

// session dials once and reads until the connection fails or ctx is done.
func (c *Client) session(ctx context.Context, out chan<- Frame, downSince *time.Time) error {
	conn, err := c.dial(ctx)
	if err != nil {
		return err
	}
	c.counters.Connects.Add(1)
	c.counters.ConnectedSince.Store(time.Now().UnixNano())
	defer c.counters.ConnectedSince.Store(0)
	if downSince.IsZero() {
		c.log.Info("connected", "url", c.cfg.URL)
	} else {
		c.log.Info("reconnected", "url", c.cfg.URL, "down_for", time.Since(*downSince).Round(time.Millisecond))
		*downSince = time.Time{}
	}

	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.keepalive(ctx, conn, done)
	}()
	err = c.read(conn, out)
	close(done)
	wg.Wait()
	return err
}

func (c *Client) dial(ctx context.Context) (*websocket.Conn, error) {
	conn, resp, err := c.dialer.DialContext(ctx, c.cfg.URL, c.cfg.Header)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial %s: server answered HTTP %s instead of upgrading to WebSocket", c.cfg.URL, resp.Status)
		}
		return nil, fmt.Errorf("dial %s: %w", c.cfg.URL, err)
	}
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	conn.SetReadLimit(c.cfg.MaxMessageBytes)
	conn.SetPongHandler(func(string) error {
		now := time.Now()
		c.counters.LastFrameAt.Store(now.UnixNano())
		return conn.SetReadDeadline(now.Add(c.cfg.StallTimeout))
	})
	return conn, nil
}

// keepalive pings the server every PingInterval and closes conn when ctx is
// done, which unblocks the reader. It returns when done is closed.
func (c *Client) keepalive(ctx context.Context, conn *websocket.Conn, done <-chan struct{}) {
	t := time.NewTicker(c.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-done:
			conn.Close()
			return
		case <-ctx.Done():
			msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "client shutting down")
			_ = conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
			conn.Close()
			<-done
			return
		case <-t.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.cfg.PingInterval)); err != nil {
				conn.Close()
			}
		}
	}
}

// read reads frames into out until the connection fails.
func (c *Client) read(conn *websocket.Conn, out chan<- Frame) error {
	for {
		if err := conn.SetReadDeadline(time.Now().Add(c.cfg.StallTimeout)); err != nil {
			return err
		}
		_, r, err := conn.NextReader()
		if err != nil {
			return c.readError(err)
		}
		f, err := c.readFrame(r)
		if err != nil {
			return c.readError(err)
		}
		c.counters.Frames.Add(1)
		c.counters.Bytes.Add(int64(len(f.Data)))
		c.counters.LastFrameAt.Store(f.ReceivedAt.UnixNano())
		c.send(out, f)
	}
}

// readFrame reads one message into a pooled buffer.
func (c *Client) readFrame(r io.Reader) (Frame, error) {
	buf := c.pool.Get().(*[]byte)
	b := (*buf)[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
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

// send hands f to the consumer, waiting for room if the queue is full. It
// does not give up on cancellation: a frame read off the socket is never
// dropped, and the consumer drains the queue until Run returns.
func (c *Client) send(out chan<- Frame, f Frame) {
	select {
	case out <- f:
		return
	default:
	}
	c.counters.QueueFullWaits.Add(1)
	out <- f
}

func (c *Client) readError(err error) error {
	if errors.Is(err, websocket.ErrReadLimit) {
		c.counters.Skip(ReasonOversize)
		return fmt.Errorf("frame larger than --max-message-bytes=%d: %w", c.cfg.MaxMessageBytes, err)
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("connection stalled: nothing received for %s: %w", c.cfg.StallTimeout, err)
	}
	return err
}
