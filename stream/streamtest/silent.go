package streamtest

import (
	"bufio"
	"net"
	"net/http"
	"sync"
	"testing"
)

// Silent is a server that accepts TCP connections, reads the WebSocket
// upgrade request and never answers it: a handshake that hangs.
type Silent struct {
	URL       string        // ws://127.0.0.1:port/
	Requested chan struct{} // receives once per upgrade request read
	ln        net.Listener
	mu        sync.Mutex
	conns     []net.Conn
}

// NewSilent starts a Silent server; it is closed when the test ends.
func NewSilent(tb testing.TB) *Silent {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &Silent{URL: "ws://" + ln.Addr().String() + "/", Requested: make(chan struct{}, 100), ln: ln}
	go s.serve()
	tb.Cleanup(s.close)
	return s
}

func (s *Silent) serve() {
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, conn)
		s.mu.Unlock()
		go func() {
			if _, err := http.ReadRequest(bufio.NewReader(conn)); err == nil {
				s.Requested <- struct{}{}
			}
		}()
	}
}

func (s *Silent) close() {
	s.ln.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
}
