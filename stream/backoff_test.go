package stream

import (
	"testing"
	"time"
)

// Delays stay within the doubling ceiling, never exceed the cap, and start
// over after reset.
func TestBackoffBounds(t *testing.T) {
	const min, max = time.Second, 60 * time.Second
	ceilings := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60, 60}
	for run := range 200 {
		var b backoff
		for i, c := range ceilings {
			if d := b.next(min, max); d <= 0 || d > c*time.Second+time.Millisecond {
				t.Fatalf("run %d attempt %d: delay %v, ceiling %v", run, i, d, c*time.Second)
			}
		}
		b.reset()
		if d := b.next(min, max); d > min+time.Millisecond {
			t.Fatalf("after reset: %v", d)
		}
	}
	var b backoff
	for range 100 { // no overflow after many attempts
		if d := b.next(min, max); d <= 0 || d > max+time.Millisecond {
			t.Fatalf("attempt %d: %v", b.attempts, d)
		}
	}
}
