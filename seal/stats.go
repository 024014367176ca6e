package seal

import (
	"slices"
	"strings"

	"github.com/certstream-arrow/certstream-arrow/coverage"
)

// maxConflicts bounds the conflicting keys a manifest lists.
const maxConflicts = 100

// stats counts what a seal kept and dropped.
type stats struct {
	logs              map[string]*logStats
	last              *logStats
	unkeyed           int64
	conflictsResolved int64
	conflictsKept     int64
	conflicts         []Key
}

// logStats is what a seal kept and dropped of one log.
type logStats struct {
	url         string
	indexes     coverage.Set
	rows        int64
	duplicates  int64
	neighbour   int64
	repaired    int64
	damagedKept int64
}

func newStats() *stats { return &stats{logs: map[string]*logStats{}} }

// log returns the counts of url, which may point into an Arrow buffer.
func (s *stats) log(url string) *logStats {
	if s.last != nil && s.last.url == url {
		return s.last
	}
	l := s.logs[url]
	if l == nil {
		l = &logStats{url: strings.Clone(url)}
		s.logs[l.url] = l
	}
	s.last = l
	return l
}

func (l *logStats) held(i int64) {
	l.rows++
	l.indexes.Add(i)
}

func (s *stats) conflict(k ref) {
	s.conflictsKept++
	if len(s.conflicts) < maxConflicts {
		s.conflicts = append(s.conflicts, Key{Log: strings.Clone(k.url), Index: k.index})
	}
}

// fill writes the counts into m.
func (s *stats) fill(m *Manifest) {
	m.Unkeyed = s.unkeyed
	m.ConflictsResolved, m.ConflictsKept, m.Conflicts = s.conflictsResolved, s.conflictsKept, s.conflicts
	urls := make([]string, 0, len(s.logs))
	for u := range s.logs {
		urls = append(urls, u)
	}
	slices.Sort(urls)
	m.Logs = []Log{}
	for _, u := range urls {
		l := s.logs[u]
		m.DuplicatesRemoved += l.duplicates
		m.NeighbourDuplicate += l.neighbour
		m.Repaired += l.repaired
		m.DamagedKept += l.damagedKept
		if l.rows == 0 {
			continue
		}
		ml := Log{URL: u, Rows: l.rows, DuplicatesRemoved: l.duplicates, Repaired: l.repaired, DamagedKept: l.damagedKept, Held: [][2]int64{}}
		for _, r := range l.indexes.Ranges() {
			ml.Held = append(ml.Held, [2]int64{r.Start, r.End - 1})
		}
		b, _ := l.indexes.Bounds()
		ml.First, ml.Last = b.Start, b.End-1
		ml.Holes = b.Len() - l.indexes.Held()
		m.Logs = append(m.Logs, ml)
	}
}
