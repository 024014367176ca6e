package stream

import (
	"sync/atomic"
	"time"
)

// Counters are running totals of what a Client read and what the consumer
// decoded from it. All fields are safe for concurrent use: the reader and
// the consumer update them while a stats logger or metrics endpoint reads.
type Counters struct {
	Frames           atomic.Int64 // WebSocket messages read
	Bytes            atomic.Int64 // their payload bytes
	Connects         atomic.Int64 // successful handshakes
	FailedAttempts   atomic.Int64 // failed dials and dropped connections
	QueueFullWaits   atomic.Int64 // frames that had to wait for room in the queue
	QueueBytesWaits  atomic.Int64 // frames that had to wait for the queued bytes to fall under MaxQueueBytes
	QueuedBytes      atomic.Int64 // bytes held by frames handed out and not yet Released
	FramesAfterClose atomic.Int64 // frames read after the client sent its close frame
	ConnectedSince   atomic.Int64 // Unix nanoseconds of the current connection; 0 while down
	LastFrameAt      atomic.Int64 // Unix nanoseconds of the last frame or pong; 0 before the first

	Certificates  atomic.Int64 // certificate_update messages decoded
	Damaged       atomic.Int64 // of which sent with digests of empty input (stored as null)
	DomainEntries atomic.Int64 // dns_entries messages decoded
	Heartbeats    atomic.Int64

	skipped [len(reasons)]atomic.Int64
}

// reasons lists every Reason, in the order stats report them.
var reasons = [...]Reason{
	ReasonNotJSON, ReasonNotObject, ReasonUnknownType, ReasonMissingData,
	ReasonMissingLeaf, ReasonWrongType, ReasonOversize,
}

// Decoded counts a successfully decoded message, and whether it was damaged.
func (c *Counters) Decoded(u *Update) {
	switch u.Kind {
	case KindCertificate:
		c.Certificates.Add(1)
		if u.Damaged {
			c.Damaged.Add(1)
		}
	case KindDomains:
		c.DomainEntries.Add(1)
	case KindHeartbeat:
		c.Heartbeats.Add(1)
	}
}

// Skip counts a message that was not archived. r must be one of the
// Reason constants.
func (c *Counters) Skip(r Reason) {
	for i, known := range reasons {
		if known == r {
			c.skipped[i].Add(1)
			return
		}
	}
}

// Skipped returns the count of skipped messages for every reason, zeros
// included.
func (c *Counters) Skipped() map[Reason]int64 {
	m := make(map[Reason]int64, len(reasons))
	for i, r := range reasons {
		m[r] = c.skipped[i].Load()
	}
	return m
}

// SkippedTotal returns the number of skipped messages.
func (c *Counters) SkippedTotal() int64 {
	var n int64
	for i := range c.skipped {
		n += c.skipped[i].Load()
	}
	return n
}

// Uptime returns how long the current connection has been up, or 0.
func (c *Counters) Uptime(now time.Time) time.Duration {
	since := c.ConnectedSince.Load()
	if since == 0 {
		return 0
	}
	return now.Sub(time.Unix(0, since))
}
