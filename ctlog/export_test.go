package ctlog

import (
	"context"
	"time"
)

// SetClock replaces the time source of c's fetcher, so that tests see the
// waits it would make without making them.
func SetClock(c *Client, now func() time.Time, sleep func(context.Context, time.Duration) error) {
	c.f.now, c.f.sleep = now, sleep
}
