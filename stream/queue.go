package stream

import (
	"sync"
	"time"
)

// Frame is one WebSocket message as read off the socket. Data belongs to
// the receiver until it calls Release; after that it must not be used.
// Every frame a Client hands out must be Released exactly once: until then
// its bytes count against MaxQueueBytes.
type Frame struct {
	Data       []byte
	ReceivedAt time.Time
	buf        *[]byte
	pool       *sync.Pool
	queue      *budget // nil for a frame not handed out by Client.Run
	held       int64   // bytes counted in queue
}

// Release returns the frame's bytes to the queue budget and its buffer for
// reuse. It is safe to call on a zero Frame.
func (f Frame) Release() {
	if f.queue != nil {
		f.queue.give(f.held)
	}
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

// budget bounds the bytes held by frames between the socket reader and the
// consumer's Release, so that big messages cannot pile up: a queue bounded
// by frames alone let 4,096 messages of 8 MB each take 2 GB and more. It
// counts each frame's buffer capacity, which is what it keeps alive. A
// frame is always admitted when nothing is held, so one message up to
// MaxMessageBytes passes whatever the budget. Safe for concurrent use.
type budget struct {
	mu       sync.Mutex
	freed    sync.Cond
	used     int64
	limit    int64
	counters *Counters // QueuedBytes mirrors used for stats
}

func newBudget(limit int64, counters *Counters) *budget {
	b := &budget{limit: limit, counters: counters}
	b.freed.L = &b.mu
	return b
}

// take counts n bytes in, first waiting while they would exceed the limit
// and something is held. It reports whether it had to wait.
func (b *budget) take(n int64) (waited bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.used > 0 && b.used+n > b.limit {
		waited = true
		b.freed.Wait()
	}
	b.used += n
	b.counters.QueuedBytes.Store(b.used)
	return waited
}

// give counts n bytes out and wakes a waiting take.
func (b *budget) give(n int64) {
	b.mu.Lock()
	b.used -= n
	b.counters.QueuedBytes.Store(b.used)
	b.mu.Unlock()
	b.freed.Signal()
}
