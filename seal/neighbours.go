package seal

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/coverage"
)

// neighbours are the keys the hours before and after the one being sealed
// hold: a key received by two collectors on either side of an hour
// boundary belongs to one hour only.
type neighbours struct {
	sealed map[string][]coverage.Range // from sealed neighbours' manifests
	live   *coverage.Dataset           // from their other files
}

func (n *neighbours) holds(url string, i int64) bool {
	if rs := n.sealed[url]; len(rs) > 0 {
		k, _ := slices.BinarySearchFunc(rs, i, func(r coverage.Range, i int64) int {
			switch {
			case r.End <= i:
				return -1
			case r.Start > i:
				return 1
			}
			return 0
		})
		if k < len(rs) && rs[k].Start <= i && i < rs[k].End {
			return true
		}
	}
	if l := n.live.Log(url); l != nil {
		return l.Indexes.Contains(i)
	}
	return false
}

// loadNeighbours reads the keys of hour-1 and hour+1. A sealed hour's
// manifest stands for its sealed files when they are all there, as the
// manifest describes them; any other file is read.
func loadNeighbours(t *archive.Tree, hour time.Time) (*neighbours, error) {
	n := &neighbours{sealed: map[string][]coverage.Range{}, live: coverage.New()}
	for _, h := range []time.Time{hour.Add(-time.Hour), hour.Add(time.Hour)} {
		if err := n.load(t, h); err != nil {
			return nil, err
		}
	}
	return n, nil
}

func (n *neighbours) load(t *archive.Tree, hour time.Time) error {
	dir := HourDir(hour)
	if _, err := t.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	sealed := map[string]bool{}
	if m, err := ReadManifest(t.FS(), dir); err == nil && filesPresent(t, dir, m) {
		for _, f := range m.Files {
			sealed[f.Name] = true
		}
		for _, l := range m.Logs {
			for _, r := range l.Held {
				n.sealed[l.URL] = append(n.sealed[l.URL], coverage.Range{Start: r[0], End: r[1] + 1})
			}
		}
	}
	for url, rs := range n.sealed {
		slices.SortFunc(rs, func(a, b coverage.Range) int { return int(a.Start - b.Start) })
		n.sealed[url] = rs
	}
	bad, err := archive.Walk(t.Name(), archive.Visitor{
		Hour:  func(h time.Time) bool { return h.Equal(hour) },
		Skip:  func(pf archive.PublishedFile) bool { return sealed[path.Base(pf.Path)] },
		Batch: func(_ archive.PublishedFile, rec arrow.RecordBatch) error { return n.live.Add(rec) },
	})
	if err != nil {
		return fmt.Errorf("read neighbouring hour %s: %w", dir, err)
	}
	if len(bad) > 0 {
		return fmt.Errorf("read neighbouring hour %s: %s: %w", dir, bad[0].Path, bad[0].Err)
	}
	return nil
}

// filesPresent reports whether every file m lists is in dir with its size.
func filesPresent(t *archive.Tree, dir string, m *Manifest) bool {
	for _, f := range m.Files {
		fi, err := t.Lstat(dir + "/" + f.Name)
		if err != nil || !fi.Mode().IsRegular() || fi.Size() != f.Bytes {
			return false
		}
	}
	return true
}
