package coverage

import (
	"context"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/certstream-arrow/certstream-arrow/archive"
)

// ScanRecent is Scan for the recent past of a running archive, whose
// background backfill must not read years of files every cycle. It reads
// only the hour directories from the hour of from, less margin, on, and
// returns per log what is held from the first index held in an hour at or
// after from's: a log's range owed (Plan with NoSince) then starts where
// the window starts, whatever the dataset held before.
//
// Why the margin: a row's hour is when it was received (stream) or its
// entry's timestamp (backfill), and neither rises strictly with the index.
// An entry sequenced just after the window's first index can have been
// backfilled into the hour before the window; without the margin it would
// look missing, and be fetched and written again, every cycle. The margin's
// rows count as held (from the window's first index on) but do not move
// where the range starts. A log with rows only in the margin is left out.
//
// ctx cancels the scan between record batches. Memory is as for Scan.
func ScanRecent(ctx context.Context, root string, from time.Time, margin time.Duration) (*Dataset, []archive.FileError, error) {
	start := from.UTC().Truncate(time.Hour)
	edgeStart := start.Add(-margin).Truncate(time.Hour)
	core, edge := New(), New()
	bad, err := archive.Walk(root, archive.Visitor{
		Hour: func(h time.Time) bool { return !h.Before(edgeStart) },
		Batch: func(f archive.PublishedFile, rec arrow.RecordBatch) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if f.Hour.Before(start) {
				return edge.Add(rec)
			}
			return core.Add(rec)
		},
	})
	if err != nil {
		return nil, bad, err
	}
	for url, l := range core.logs {
		b, ok := l.Indexes.Bounds()
		if el := edge.logs[url]; ok && el != nil {
			s := el.Indexes.from(b.Start)
			l.Rows += s.held
			l.Indexes.Merge(s)
		}
	}
	return core, bad, nil
}

// from returns a new Set of the indexes of s at or after i; duplicates
// are not carried over.
func (s *Set) from(i int64) *Set {
	s.settle()
	out := &Set{r: append(ranges(nil), s.r[s.r.first(i):]...)}
	if len(out.r) > 0 && out.r[0].Start < i {
		out.r[0].Start = i
	}
	for _, r := range out.r {
		out.held += r.Len()
	}
	return out
}
