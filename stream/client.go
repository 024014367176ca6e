package stream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Config configures a Client. Zero durations and sizes take the defaults
// in DefaultConfig.
type Config struct {
	URL              string      // ws:// or wss://, optionally with user:password (sent as Basic auth, never logged)
	Header           http.Header // extra handshake headers, e.g. Authorization; values are never logged
	UserAgent        string
	TLS              *tls.Config // nil: system roots
	PingInterval     time.Duration
	StallTimeout     time.Duration // a connection silent this long (no frame, no pong) is dead
	HandshakeTimeout time.Duration // TCP + TLS + HTTP upgrade
	CloseTimeout     time.Duration // on cancel, how long to keep reading for the server's close frame
	MaxMessageBytes  int64         // largest message read into memory, however it was framed
	MaxQueueBytes    int64         // frame bytes queued for the consumer before the reader waits
	MinBackoff       time.Duration
	MaxBackoff       time.Duration
	ReconnectDelay   time.Duration // after a connection that delivered data: retry in [d, 2d), at most MaxBackoff
	MaxRetries       int           // retries after consecutive failed attempts before Run gives up; 0 retries forever
	Logger           *slog.Logger
}

// DefaultConfig returns the defaults used for zero fields.
func DefaultConfig() Config {
	return Config{
		PingInterval:     20 * time.Second,
		StallTimeout:     75 * time.Second,
		HandshakeTimeout: 15 * time.Second,
		CloseTimeout:     5 * time.Second,
		MaxMessageBytes:  16 << 20,
		MaxQueueBytes:    64 << 20,
		MinBackoff:       time.Second,
		MaxBackoff:       60 * time.Second,
		ReconnectDelay:   100 * time.Millisecond,
	}
}

// ErrRetriesExhausted is returned by Run when an attempt and the
// MaxRetries retries after it all failed.
var ErrRetriesExhausted = errors.New("connection retries exhausted")

// Client reads a CertStream server for as long as its context lives,
// reconnecting whenever the connection fails.
type Client struct {
	cfg      Config
	url      string      // cfg.URL without userinfo: dialled and logged
	header   http.Header // cfg.Header plus Authorization from the URL's userinfo
	dialer   websocket.Dialer
	pool     sync.Pool
	queue    *budget
	counters Counters
	log      *slog.Logger
}

// NewClient checks cfg and returns a Client. The URL must be ws:// or
// wss://; user:password in it is sent as HTTP Basic authentication and
// conflicts with an Authorization header (ErrAuthConflict).
func NewClient(cfg Config) (*Client, error) {
	cfg.fill()
	url, header, err := Endpoint(cfg.URL, cfg.Header)
	if err != nil {
		return nil, err
	}
	if cfg.UserAgent != "" && header.Get("User-Agent") == "" {
		header.Set("User-Agent", cfg.UserAgent)
	}
	c := &Client{cfg: cfg, url: url, header: header, log: cfg.Logger}
	c.queue = newBudget(cfg.MaxQueueBytes, &c.counters)
	c.dialer = websocket.Dialer{
		Proxy:            http.ProxyFromEnvironment,
		HandshakeTimeout: cfg.HandshakeTimeout,
		TLSClientConfig:  cfg.TLS,
		ReadBufferSize:   64 << 10,
		WriteBufferSize:  4 << 10,
		// No permessage-deflate: inflating costs ~18 µs a message, more
		// than everything else on the read path together. A server that
		// negotiates it anyway is refused (see dial).
		EnableCompression: false,
	}
	c.pool.New = func() any { b := make([]byte, 0, frameBuffer); return &b }
	return c, nil
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
	setDur(&cfg.CloseTimeout, def.CloseTimeout)
	setDur(&cfg.MinBackoff, def.MinBackoff)
	setDur(&cfg.MaxBackoff, def.MaxBackoff)
	setDur(&cfg.ReconnectDelay, def.ReconnectDelay)
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = def.MaxMessageBytes
	}
	if cfg.MaxQueueBytes <= 0 {
		cfg.MaxQueueBytes = def.MaxQueueBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
}

// Counters returns the Client's live counters.
func (c *Client) Counters() *Counters { return &c.counters }

// Run connects, reads frames into out until ctx is done, and reconnects
// after every failure. It returns nil when ctx is done, or
// ErrRetriesExhausted. Run never closes out.
//
// When ctx is done while connected, Run performs the WebSocket closing
// handshake: it sends a close frame and keeps reading frames into out until
// the server's close frame arrives or CloseTimeout passes, so that nothing
// the server sent before it saw the close is lost.
//
// When out is full, or the frames handed out and not yet Released hold
// MaxQueueBytes, the reader waits (counted in QueueFullWaits and
// QueueBytesWaits): frames are never dropped. The receiver must keep
// draining out, and Release every frame, until Run has returned.
//
// Reconnects: a connection that delivered at least one frame was healthy;
// the backoff starts over and the next attempt comes after ReconnectDelay
// plus jitter. Attempts that deliver nothing (refused, failed handshake,
// dropped before the first frame) back off exponentially with full jitter
// from MinBackoff up to MaxBackoff, and count towards MaxRetries.
func (c *Client) Run(ctx context.Context, out chan<- Frame) error {
	var b backoff
	var downSince time.Time
	for ctx.Err() == nil {
		delivered, err := c.session(ctx, out, &downSince)
		if ctx.Err() != nil {
			return nil
		}
		c.counters.FailedAttempts.Add(1)
		if downSince.IsZero() {
			downSince = time.Now()
		}
		if delivered == 0 && c.cfg.MaxRetries > 0 && b.attempts >= c.cfg.MaxRetries {
			return fmt.Errorf("%w after %d attempts: %w", ErrRetriesExhausted, b.attempts+1, err)
		}
		wait := c.retryDelay(&b, delivered)
		c.log.Warn("connection failed, retrying", "url", c.url, "err", err, "frames", delivered,
			"attempt", b.attempts, "retry_in", wait.Round(time.Millisecond))
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	return nil
}

// retryDelay returns the wait before the next attempt after one that
// delivered this many frames, and updates b.
func (c *Client) retryDelay(b *backoff, delivered int64) time.Duration {
	if delivered > 0 {
		return min(b.delivered(c.cfg.ReconnectDelay), c.cfg.MaxBackoff)
	}
	return b.failed(c.cfg.MinBackoff, c.cfg.MaxBackoff)
}

// dial connects and upgrades. Cancelling ctx aborts it at once in every
// phase: gorilla watches ctx while it connects and during TLS, but reads
// the HTTP upgrade answer under HandshakeTimeout alone, so a server that
// accepts and never answers would otherwise hold a stop for that long.
func (c *Client) dial(ctx context.Context) (*websocket.Conn, error) {
	d := c.dialer
	guard := &dialGuard{}
	d.NetDialContext = guard.dialContext
	stop := context.AfterFunc(ctx, guard.cancel)
	ws, resp, err := d.DialContext(ctx, c.url, c.header)
	if !stop() {
		if ws != nil {
			ws.Close()
		}
		return nil, fmt.Errorf("dial %s: %w", c.url, ctx.Err())
	}
	if err != nil {
		if resp != nil && err == websocket.ErrBadHandshake {
			return nil, fmt.Errorf("dial %s: server answered HTTP %s instead of upgrading to WebSocket", c.url, resp.Status)
		}
		return nil, fmt.Errorf("dial %s: %w", c.url, err)
	}
	if resp.Body != nil {
		resp.Body.Close()
	}
	if ext := resp.Header.Values("Sec-WebSocket-Extensions"); len(ext) > 0 {
		ws.Close()
		return nil, fmt.Errorf("dial %s: server negotiated WebSocket extension %.100q that the client did not offer: refused, "+
			"as a compressed message could inflate far beyond --max-message-bytes", c.url, ext)
	}
	ws.SetReadLimit(c.cfg.MaxMessageBytes)
	return ws, nil
}

// dialGuard closes the TCP connection of a handshake in progress when the
// context is cancelled.
type dialGuard struct {
	mu        sync.Mutex
	conn      net.Conn
	cancelled bool
	dialer    net.Dialer
}

func (g *dialGuard) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := g.dialer.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cancelled {
		conn.Close()
		return nil, context.Canceled
	}
	g.conn = conn
	return conn, nil
}

func (g *dialGuard) cancel() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cancelled = true
	if g.conn != nil {
		g.conn.Close()
	}
}
