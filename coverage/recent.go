package coverage

import (
	"context"
	"maps"
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
// Recent.Scan does the same, reading only files it has not read before.
func ScanRecent(ctx context.Context, root string, from time.Time, margin time.Duration) (*Dataset, []archive.FileError, error) {
	return new(Recent).Scan(ctx, root, from, margin)
}

// Recent scans a running archive's recent hours again and again (see
// ScanRecent), reading each published file once: published files never
// change, so it keeps each one's coverage and reads only the files
// published since the last Scan. Files that left the window, or the
// dataset (pruned), are forgotten. Memory is that of Scan for the files of
// the window, kept between scans: 16 bytes per range of indexes per log per
// file. The zero Recent is ready to use; it is not safe for concurrent use.
type Recent struct {
	files map[string]recentFile // by path under the root
}

type recentFile struct {
	hour time.Time
	cov  *Dataset
}

// Scan is ScanRecent, reading only the files it has not read before.
// Unreadable files are read (and reported) again at each Scan.
func (c *Recent) Scan(ctx context.Context, root string, from time.Time, margin time.Duration) (*Dataset, []archive.FileError, error) {
	start := from.UTC().Truncate(time.Hour)
	edgeStart := start.Add(-margin).Truncate(time.Hour)
	seen := map[string]recentFile{}
	fresh := map[string]recentFile{} // read this time, complete or not
	bad, err := archive.Walk(root, archive.Visitor{
		Hour: func(h time.Time) bool { return !h.Before(edgeStart) },
		Skip: func(f archive.PublishedFile) bool {
			rf, ok := c.files[f.Path]
			if ok {
				seen[f.Path] = rf
			}
			return ok
		},
		Batch: func(f archive.PublishedFile, rec arrow.RecordBatch) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			rf, ok := fresh[f.Path]
			if !ok {
				rf = recentFile{hour: f.Hour, cov: New()}
				fresh[f.Path] = rf
			}
			return rf.cov.Add(rec)
		},
		File: func(f archive.PublishedFile) {
			if rf, ok := fresh[f.Path]; ok {
				seen[f.Path] = rf
			} else {
				seen[f.Path] = recentFile{hour: f.Hour, cov: New()} // no batches
			}
		},
	})
	if err != nil {
		return nil, bad, err
	}
	c.files = seen
	all := maps.Clone(seen)
	for p, rf := range fresh {
		if _, ok := seen[p]; !ok { // unreadable: its readable batches count, as in Scan, but are not kept
			all[p] = rf
		}
	}
	return window(all, start), bad, nil
}

// window merges the files' coverage: rows in hours from start on are the
// window, earlier ones the margin (see ScanRecent).
func window(files map[string]recentFile, start time.Time) *Dataset {
	core, edge := New(), New()
	for _, f := range files {
		if f.hour.Before(start) {
			edge.Merge(f.cov)
		} else {
			core.Merge(f.cov)
		}
	}
	for url, l := range core.logs {
		b, ok := l.Indexes.Bounds()
		if el := edge.logs[url]; ok && el != nil {
			s := el.Indexes.from(b.Start)
			l.Rows += s.held
			l.Indexes.Merge(s)
		}
	}
	return core
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
