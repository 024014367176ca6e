package stream

import (
	"math/rand/v2"
	"time"
)

// backoff computes reconnect delays. Failed attempts back off exponentially
// with full jitter, so that many clients dropped at once do not return in
// lockstep; a connection that delivered data starts the count over.
type backoff struct {
	attempts int // consecutive attempts that delivered nothing
}

// failed counts an attempt that delivered nothing and returns the delay
// before the next: uniform in [0, ceiling) plus 1 ms, where ceiling
// doubles from min with every such attempt, up to max.
func (b *backoff) failed(min, max time.Duration) time.Duration {
	ceiling := max
	if b.attempts < 30 && min<<b.attempts < max {
		ceiling = min << b.attempts
	}
	b.attempts++
	return rand.N(ceiling) + time.Millisecond
}

// delivered counts a connection that delivered at least one frame: the
// server works, so the count starts over and the next attempt comes soon,
// after a delay uniform in [floor, 2*floor). The floor keeps a server that
// sends one message and drops, over and over, from becoming a hot loop.
func (b *backoff) delivered(floor time.Duration) time.Duration {
	b.attempts = 0
	return floor + rand.N(floor)
}
