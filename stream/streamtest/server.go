package streamtest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Frame is one message a fake server sends.
type Frame struct {
	Data   []byte
	Binary bool // send as a binary frame, as some Rust servers do
}

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
	URL   string // ws://127.0.0.1:port/
	http  *httptest.Server
	conns atomic.Int64
	once  sync.Once

	mu     sync.Mutex
	open   map[*websocket.Conn]bool // hijacked: httptest does not track them
	closed bool
	wg     sync.WaitGroup
}

// NewServer starts a server running s for every connection. It is closed
// when the test ends.
func NewServer(tb testing.TB, s Session) *Server {
	tb.Helper()
	srv := &Server{open: map[*websocket.Conn]bool{}}
	srv.http = httptest.NewServer(srv.handler(s))
	srv.URL = "ws" + strings.TrimPrefix(srv.http.URL, "http") + "/"
	tb.Cleanup(srv.Close)
	return srv
}

func (s *Server) handler(session Session) http.Handler {
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
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

// Connections returns how many WebSocket connections were accepted.
func (s *Server) Connections() int { return int(s.conns.Load()) }

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

// Replay sends frames on the first connection, then proves the client has
// read them all: it pings, and the client's pong can only come after every
// frame sent before the ping. Later connections get an idle, open connection.
type Replay struct {
	frames []Frame
	synced chan struct{}
	once   sync.Once
}

// NewReplay returns a Replay of frames.
func NewReplay(frames []Frame) *Replay {
	return &Replay{frames: frames, synced: make(chan struct{})}
}

// Synced is closed once the client has read every frame.
func (r *Replay) Synced() <-chan struct{} { return r.synced }

// Session serves one connection.
func (r *Replay) Session(conn *websocket.Conn, n int) {
	conn.SetPongHandler(func(data string) error {
		if data == "synced" {
			r.once.Do(func() { close(r.synced) })
		}
		return nil
	})
	gone := Hold(conn)
	if n == 0 {
		if Send(conn, r.frames) == nil {
			_ = conn.WriteControl(websocket.PingMessage, []byte("synced"), time.Now().Add(10*time.Second))
		}
	}
	<-gone
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
