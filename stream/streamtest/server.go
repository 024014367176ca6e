package streamtest

import (
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Frame is one message a fake server sends, or a fault it injects.
type Frame struct {
	Data   []byte
	Binary bool  // send as a binary frame, as some Rust servers do
	Fault  Fault // if set, Data and Binary are ignored
}

// Fault is a misbehaviour a Replay injects at its place in the script.
type Fault uint8

// The faults a Replay can inject.
const (
	_ Fault = iota
	// Drop closes the TCP connection abruptly, with no close frame.
	Drop
	// Stall stops sending and stops reading (so pings go unanswered) until
	// the client gives up on the connection and dials again.
	Stall
	// Oversize sends one 1 MiB text frame, meant to exceed the client's
	// read limit, then waits for the client to hang up.
	Oversize
)

// Text wraps messages as text frames.
func Text(msgs ...[]byte) []Frame {
	frames := make([]Frame, len(msgs))
	for i, m := range msgs {
		frames[i] = Frame{Data: m}
	}
	return frames
}

// Session serves one WebSocket connection; n counts connections from 0.
// It owns conn's writes; a reader goroutine answers pings and notices the
// client leaving (see Hold).
type Session func(conn *websocket.Conn, n int)

// Server is a fake CertStream server on loopback, a real WebSocket peer
// built from httptest and gorilla's Upgrader.
type Server struct {
	URL      string // ws://127.0.0.1:port/
	http     *httptest.Server
	conns    atomic.Int64
	requests atomic.Int64
	once     sync.Once
	opts     serverOptions

	header atomic.Value // http.Header of the last request

	mu     sync.Mutex
	open   map[*websocket.Conn]bool // hijacked: httptest does not track them
	closed bool
	wg     sync.WaitGroup
}

// Option configures a Server.
type Option func(*serverOptions)

type serverOptions struct {
	listener     net.Listener
	tls          bool
	rejectFirst  int
	rejectStatus int
	compress     bool
}

// WithListener serves on ln instead of a new loopback port.
func WithListener(ln net.Listener) Option { return func(o *serverOptions) { o.listener = ln } }

// WithTLS serves wss:// with httptest's self-signed certificate (see
// Server.CertPEM).
func WithTLS() Option { return func(o *serverOptions) { o.tls = true } }

// RejectFirst answers the first n upgrade requests with an HTTP status
// instead of upgrading.
func RejectFirst(n, status int) Option {
	return func(o *serverOptions) { o.rejectFirst, o.rejectStatus = n, status }
}

// ForceCompression makes the server negotiate permessage-deflate whether
// or not the client offered it, and compress every message it sends at the
// best ratio, as a hostile or broken server might: 1 MiB of zeros goes over
// the wire in about 1 KiB.
func ForceCompression() Option { return func(o *serverOptions) { o.compress = true } }

// NewServer starts a server running s for every connection. It is closed
// when the test ends.
func NewServer(tb testing.TB, s Session, opts ...Option) *Server {
	tb.Helper()
	var o serverOptions
	for _, opt := range opts {
		opt(&o)
	}
	srv := &Server{open: map[*websocket.Conn]bool{}, opts: o}
	srv.http = httptest.NewUnstartedServer(srv.handler(s))
	srv.http.Config.ErrorLog = log.New(io.Discard, "", 0) // rejected TLS handshakes are expected
	if o.listener != nil {
		srv.http.Listener.Close()
		srv.http.Listener = o.listener
	}
	scheme := "ws"
	if o.tls {
		srv.http.StartTLS()
		scheme = "wss"
	} else {
		srv.http.Start()
	}
	srv.URL = scheme + strings.TrimPrefix(strings.TrimPrefix(srv.http.URL, "https"), "http") + "/"
	tb.Cleanup(srv.Close)
	return srv
}

// CertPEM returns the TLS server's certificate in PEM, for a client to trust.
func (s *Server) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.http.Certificate().Raw})
}

func (s *Server) handler(session Session) http.Handler {
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }, EnableCompression: s.opts.compress}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.header.Store(r.Header.Clone())
		if n := int(s.requests.Add(1)); n <= s.opts.rejectFirst {
			http.Error(w, http.StatusText(s.opts.rejectStatus), s.opts.rejectStatus)
			return
		}
		if s.opts.compress { // pretend the client offered it
			r.Header.Set("Sec-WebSocket-Extensions", "permessage-deflate; server_no_context_takeover; client_no_context_takeover")
		}
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		if s.opts.compress {
			conn.EnableWriteCompression(true)
			_ = conn.SetCompressionLevel(9)
		}
		if !s.track(conn) {
			conn.Close()
			return
		}
		defer s.untrack(conn)
		session(conn, int(s.conns.Add(1)-1))
	})
}

func (s *Server) track(conn *websocket.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.open[conn] = true
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(conn *websocket.Conn) {
	s.mu.Lock()
	delete(s.open, conn)
	s.mu.Unlock()
	conn.Close()
	s.wg.Done()
}

// Close stops the server and drops its connections. It is idempotent.
func (s *Server) Close() {
	s.once.Do(func() {
		s.http.Close()
		s.mu.Lock()
		s.closed = true
		for c := range s.open {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
}

// Header returns the headers of the last request.
func (s *Server) Header() http.Header {
	h, _ := s.header.Load().(http.Header)
	return h
}

// Hold starts the connection's reader, which answers pings and returns when
// the client goes away; the returned channel closes then.
func Hold(conn *websocket.Conn) <-chan struct{} {
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	}()
	return gone
}

// Replay plays a script of frames and faults. Like a live server, it
// carries on where the previous connection stopped: each frame is sent once,
// on whichever connection is open when its turn comes. After the last frame
// it proves the client has read them all: it pings, and the client's pong
// can only come after every frame sent before the ping.
type Replay struct {
	frames []Frame
	mu     sync.Mutex // serialises sessions: one connection plays at a time
	next   int
	synced chan struct{}
	once   sync.Once
	dials  atomic.Int64 // connections so far (a new one ends a Stall)

	paceEvery int // with Pace: sleep paceSleep after every paceEvery frames
	paceSleep time.Duration
}

// Pace makes the replay sleep d after every n frames, like a live server
// that delivers at a steady rate. Call it before the first connection.
func (r *Replay) Pace(n int, d time.Duration) { r.paceEvery, r.paceSleep = n, d }

// NewReplay returns a Replay of frames.
func NewReplay(frames []Frame) *Replay {
	return &Replay{frames: frames, synced: make(chan struct{})}
}

// Synced is closed once the client has read every frame.
func (r *Replay) Synced() <-chan struct{} { return r.synced }

// Session serves one connection. Its reader runs from the start, so that
// it answers the client's close frame as a real server does: with a close
// frame, after which it sends nothing more (the rest of the script waits
// for the next connection).
func (r *Replay) Session(conn *websocket.Conn, _ int) {
	dial := r.dials.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	conn.SetPongHandler(func(data string) error {
		if data == "synced" {
			r.once.Do(func() { close(r.synced) })
		}
		return nil
	})
	var stalled atomic.Bool
	conn.SetPingHandler(func(data string) error {
		if stalled.Load() {
			return nil // a stalled server answers nothing
		}
		_ = conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		return nil
	})
	gone := Hold(conn)
	for ; r.next < len(r.frames); r.next++ {
		f := r.frames[r.next]
		if f.Fault != 0 {
			r.next++
			stalled.Store(f.Fault == Stall)
			r.fault(conn, f.Fault, dial, gone)
			return
		}
		if err := Send(conn, []Frame{f}); err != nil {
			return // client gone: this frame is resent on the next connection
		}
		if r.paceEvery > 0 && r.next%r.paceEvery == r.paceEvery-1 {
			time.Sleep(r.paceSleep)
		}
	}
	_ = conn.WriteControl(websocket.PingMessage, []byte("synced"), time.Now().Add(10*time.Second))
	<-gone
}

// fault injects f; gone is closed when the client has left.
func (r *Replay) fault(conn *websocket.Conn, f Fault, dial int64, gone <-chan struct{}) {
	switch f {
	case Drop:
		// End the TCP stream (FIN) after what was sent, and close once
		// the client has hung up: closing at once, with the client's
		// pings unread, sends a reset, which makes the client's kernel
		// discard frames it had received but not yet read; how many
		// then depends on the machine's load, and the test flakes.
		if tcp, ok := conn.UnderlyingConn().(*net.TCPConn); ok && tcp.CloseWrite() == nil {
			select {
			case <-gone:
			case <-time.After(5 * time.Second):
			}
		}
		conn.UnderlyingConn().Close()
	case Stall:
		// Send nothing and answer no ping. Wait for the client to dial
		// again (the session lock keeps that new connection waiting until
		// this one has ended), or give up after a minute.
		for i := 0; r.dials.Load() == dial && i < 6000; i++ {
			time.Sleep(10 * time.Millisecond)
		}
	case Oversize:
		_ = conn.WriteMessage(websocket.TextMessage, make([]byte, 1<<20))
		<-gone
	}
}

// Send writes frames in order.
func Send(conn *websocket.Conn, frames []Frame) error {
	for _, f := range frames {
		typ := websocket.TextMessage
		if f.Binary {
			typ = websocket.BinaryMessage
		}
		if err := conn.WriteMessage(typ, f.Data); err != nil {
			return err
		}
	}
	return nil
}
