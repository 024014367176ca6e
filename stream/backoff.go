package stream

import (
	"math/rand/v2"
	"time"
)

// backoff computes reconnect delays: capped exponential growth with full
// jitter, so that many clients dropped at once do not return in lockstep.
type backoff struct {
	attempts int
}

// next returns the delay before the next attempt: uniform in [0, ceiling),
// where ceiling doubles from min with every attempt up to max.
func (b *backoff) next(min, max time.Duration) time.Duration {
	ceiling := max
	if b.attempts < 30 && min<<b.attempts < max {
		ceiling = min << b.attempts
	}
	b.attempts++
	return rand.N(ceiling) + time.Millisecond
}

func (b *backoff) reset() { b.attempts = 0 }
