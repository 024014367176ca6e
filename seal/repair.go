package seal

import (
	"context"

	"github.com/certstream-arrow/certstream-arrow/stream"
)

// Repairer fetches CT log entries from their logs, verified, as the rows a
// CertStream server would have sent of them (provenance backfill). Sealing
// asks it for the entries whose rows the feed sent damaged.
type Repairer interface {
	// Repair fetches the entries keys names (sorted by log, then index;
	// each key once) and calls emit, from the calling goroutine, with each
	// one it could fetch and verify, in the order of keys. A key it cannot
	// fetch (a log it does not know, an entry the log refuses) is skipped:
	// the damaged row stays. An error from emit stops Repair and is
	// returned; another error means some keys were not tried, and sealing
	// goes on with the rows it has. Repair returns when ctx is done.
	Repair(ctx context.Context, keys []Key, emit func(Key, *stream.Update) error) error
}
