package backfill

import (
	"context"
	"errors"
	"time"

	"github.com/certstream-arrow/certstream-arrow/ctlog"
)

// resolveSince turns s into an index of tree: an index as given, an age into
// the first index whose entry is not older than now-age, or noSince.
//
// An age is found by binary search on entry timestamps, one single-entry
// fetch per step (log2 of the tree size requests; a static-CT log answers
// each with a tile, and the client caches the hash tiles). A log's
// timestamps rise with its index only roughly (entries are sequenced up to
// the merge delay after their timestamp), so the index found is the start of
// the log's stretch of that age to within the entries sequenced out of order
// around it, which is all a backfill window needs.
func resolveSince(ctx context.Context, c *ctlog.Client, tree ctlog.Tree, s Since, now time.Time) (int64, error) {
	switch {
	case !s.set:
		return noSince, nil
	case s.age == 0:
		return s.index, nil
	}
	cutoff := now.Add(-s.age).UnixMilli()
	lo, hi := int64(0), tree.Size // invariant: entries before lo are older than cutoff, hi's is not
	for lo < hi {
		mid := lo + (hi-lo)/2
		ts, err := timestamp(ctx, c, tree, mid)
		if err != nil {
			return 0, err
		}
		if ts < cutoff {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// timestamp fetches entry i of tree and returns its timestamp.
func timestamp(ctx context.Context, c *ctlog.Client, tree ctlog.Tree, i int64) (int64, error) {
	var ts int64
	err := c.Entries(ctx, tree, i, i+1, func(e ctlog.Entry) error {
		ts = e.Timestamp
		return nil
	})
	if err == nil && ts == 0 {
		err = errors.New("entry without a timestamp")
	}
	return ts, err
}
