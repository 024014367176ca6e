package stream

import (
	"testing"
	"time"
)

// Delays after attempts that delivered nothing stay within the doubling
// ceiling and never exceed the cap, however many attempts.
func TestBackoffFailedBounds(t *testing.T) {
	const min, max = time.Second, 60 * time.Second
	ceilings := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60, 60}
	for run := range 200 {
		var b backoff
		for i, c := range ceilings {
			if d := b.failed(min, max); d <= 0 || d > c*time.Second+time.Millisecond {
				t.Fatalf("run %d attempt %d: delay %v, ceiling %v", run, i, d, c*time.Second)
			}
		}
	}
	var b backoff
	for range 100 { // no overflow after many attempts
		if d := b.failed(min, max); d <= 0 || d > max+time.Millisecond {
			t.Fatalf("attempt %d: %v", b.attempts, d)
		}
	}
}

// The reconnect rule, session by session: a connection that delivered data
// resets the backoff and the next attempt comes after [floor, 2*floor);
// attempts that deliver nothing back off exponentially; a server that
// sends one frame and drops, forever, still waits at least the floor.
func TestRetryDelay(t *testing.T) {
	c := &Client{cfg: DefaultConfig()} // MinBackoff 1s, MaxBackoff 60s, ReconnectDelay 100ms
	floor := c.cfg.ReconnectDelay
	type want struct {
		lo, hi   time.Duration // the delay is in [lo, hi]
		attempts int
	}
	tests := []struct {
		name     string
		sessions []int64 // frames each session delivered, in order
		last     want    // for the last session
	}{
		{"first drop after data", []int64{3000}, want{floor, 2 * floor, 0}},
		{"50th drop, every connection delivered", repeat(3000, 50), want{floor, 2 * floor, 0}},
		{"one frame then drop, 1000 times", repeat(1, 1000), want{floor, 2 * floor, 0}},
		{"accepted and dropped with no data", repeat(0, 3), want{time.Millisecond, 4*time.Second + time.Millisecond, 3}},
		{"no data, 50 times: capped", repeat(0, 50), want{time.Millisecond, 60*time.Second + time.Millisecond, 50}},
		{"data after 50 failures resets", append(repeat(0, 50), 1), want{floor, 2 * floor, 0}},
		{"a failure after data starts from MinBackoff", []int64{5000, 0}, want{time.Millisecond, time.Second + time.Millisecond, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 100 { // jitter: many draws
				var b backoff
				var d time.Duration
				for i, n := range tt.sessions {
					d = c.retryDelay(&b, n)
					if n > 0 && (d < floor || d >= 2*floor) {
						t.Fatalf("session %d delivered %d frames: delay %v, want [%v, %v)", i, n, d, floor, 2*floor)
					}
				}
				if d < tt.last.lo || d > tt.last.hi || b.attempts != tt.last.attempts {
					t.Fatalf("last delay %v with %d attempts counted; want [%v, %v] and %d", d, b.attempts, tt.last.lo, tt.last.hi, tt.last.attempts)
				}
			}
		})
	}
}

func repeat(n int64, times int) []int64 {
	s := make([]int64, times)
	for i := range s {
		s[i] = n
	}
	return s
}

// A --backoff-max below the reconnect delay caps it too.
func TestRetryDelayCappedByMaxBackoff(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxBackoff = 50 * time.Millisecond
	c := &Client{cfg: cfg}
	var b backoff
	for range 100 {
		if d := c.retryDelay(&b, 1); d > cfg.MaxBackoff {
			t.Fatalf("delay %v above MaxBackoff %v", d, cfg.MaxBackoff)
		}
	}
}
