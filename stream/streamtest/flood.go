package streamtest

import (
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"
)

// Flood is a server that sends its messages as fast as the client reads
// them, on one connection, and answers the client's close frame as real
// servers do: it replies with a close frame and sends nothing more. It
// records how many messages it had written when the close frame arrived,
// so a test can check that the client archived every one of them.
type Flood struct {
	msgs        [][]byte
	written     atomic.Int64
	beforeClose atomic.Int64 // messages written when the close frame was read; -1 until then
	closed      chan struct{}
	once        sync.Once
}

// NewFlood returns a Flood of msgs, sent in order; after the last it waits
// for the client to leave.
func NewFlood(msgs [][]byte) *Flood {
	f := &Flood{msgs: msgs, closed: make(chan struct{})}
	f.beforeClose.Store(-1)
	return f
}

// Written returns the number of messages written so far: each one is in
// the kernel's send buffer or beyond.
func (f *Flood) Written() int64 { return f.written.Load() }

// WrittenBeforeClose returns the number of messages written before the
// client's close frame was read, and whether one was read.
func (f *Flood) WrittenBeforeClose() (int64, bool) {
	n := f.beforeClose.Load()
	return n, n >= 0
}

// Closed is closed when the client's close frame has been read, or the
// client has gone without one.
func (f *Flood) Closed() <-chan struct{} { return f.closed }

// Session serves one connection. Only the first connection is flooded;
// later ones are held open.
func (f *Flood) Session(conn *websocket.Conn, n int) {
	var stop atomic.Bool
	def := conn.CloseHandler()
	conn.SetCloseHandler(func(code int, text string) error {
		stop.Store(true) // before the count: anything written later may be lost
		f.beforeClose.CompareAndSwap(-1, f.written.Load())
		return def(code, text) // replies with a close frame
	})
	gone := Hold(conn)
	defer func() { <-gone; f.once.Do(func() { close(f.closed) }) }()
	if n > 0 {
		return
	}
	for _, m := range f.msgs {
		if stop.Load() || conn.WriteMessage(websocket.TextMessage, m) != nil {
			return
		}
		f.written.Add(1)
	}
}
