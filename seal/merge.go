package seal

import (
	"container/heap"
	"context"

	"github.com/apache/arrow-go/v18/arrow"
)

// merger merges the sorted runs, groups the copies of each key, keeps the
// ones choose picks and hands them to the output in key order.
type merger struct {
	ctx        context.Context
	h          cursorHeap
	later      []arrow.RecordBatch // batches cursors moved past, released after each group
	neighbours *neighbours
	out        *output
	stats      *stats
}

// candidate is one copy of a key.
type candidate struct {
	v   *view
	row int
}

func (m *merger) run() error {
	defer func() {
		closeAll(m.h)
		for _, rec := range m.later {
			rec.Release()
		}
	}()
	started := m.h[:0]
	for _, c := range m.h {
		ok, err := c.next(m.hold)
		if err != nil {
			return err
		}
		if ok {
			started = append(started, c)
		} else if err := c.close(); err != nil {
			return err
		}
	}
	m.h = started
	heap.Init(&m.h)
	var group []candidate
	for n := 0; len(m.h) > 0; n++ {
		if n%4096 == 0 && m.ctx.Err() != nil {
			return m.ctx.Err()
		}
		_, _, key := m.h[0].at()
		group = group[:0]
		for len(m.h) > 0 {
			v, row, r := m.h[0].at()
			if len(group) > 0 && (!key.keyed || compareRefs(r, key) != 0) {
				break
			}
			group = append(group, candidate{v, row})
			if err := m.advance(); err != nil {
				return err
			}
		}
		if err := m.settle(key, group); err != nil {
			return err
		}
		for _, rec := range m.later {
			rec.Release()
		}
		m.later = m.later[:0]
	}
	return nil
}

func (m *merger) hold(rec arrow.RecordBatch) { m.later = append(m.later, rec) }

// advance moves the smallest cursor on, dropping it when its run ends.
func (m *merger) advance() error {
	ok, err := m.h[0].next(m.hold)
	if err != nil {
		return err
	}
	if ok {
		heap.Fix(&m.h, 0)
		return nil
	}
	c := heap.Pop(&m.h).(cursor)
	return c.close()
}

// settle decides what to keep of one key's copies and writes it.
func (m *merger) settle(key ref, group []candidate) error {
	if !key.keyed {
		m.stats.unkeyed++
		return m.out.add(group[0])
	}
	if m.neighbours.holds(key.url, key.index) {
		m.stats.log(key.url).neighbour += int64(len(group))
		return nil
	}
	keep := choose(group, m.stats.log(key.url), key, m.stats)
	for _, c := range keep {
		m.stats.log(key.url).held(key.index)
		if err := m.out.add(c); err != nil {
			return err
		}
	}
	return nil
}

// choose picks the copies of one key to keep (see the package comment)
// and counts what it dropped.
func choose(group []candidate, l *logStats, key ref, st *stats) []candidate {
	var whole []candidate
	for _, c := range group {
		if !c.v.damaged(c.row) {
			whole = append(whole, c)
		}
	}
	defer func() { l.duplicates += int64(len(group)) - 1 }()
	if len(whole) == 0 {
		l.damagedKept++
		return []candidate{best(group)}
	}
	damaged := len(whole) < len(group)
	kinds := map[string][]candidate{}
	for _, c := range whole {
		fp := c.v.fingerprint(c.row)
		kinds[fp] = append(kinds[fp], c)
	}
	var keep candidate
	switch {
	case len(kinds) == 1:
		keep = best(whole)
	case anyBackfilled(whole):
		st.conflictsResolved++
		keep = best(backfilledOnly(whole))
	default:
		st.conflict(key)
		kept := make([]candidate, 0, len(kinds))
		for _, c := range whole {
			if fp := c.v.fingerprint(c.row); kinds[fp] != nil {
				kept = append(kept, best(kinds[fp]))
				delete(kinds, fp)
			}
		}
		l.duplicates -= int64(len(kept)) - 1
		return kept
	}
	if damaged && keep.v.backfilled(keep.row) {
		l.repaired++
	}
	return []candidate{keep}
}

// best returns the copy with the most data: DER, then chain, then a
// stream copy over a fetched one (it carries seen), then the earliest
// seen.
func best(cs []candidate) candidate {
	b := cs[0]
	for _, c := range cs[1:] {
		if better(c, b) {
			b = c
		}
	}
	return b
}

func better(a, b candidate) bool {
	if ra, rb := a.v.richness(a.row), b.v.richness(b.row); ra != rb {
		return ra > rb
	}
	if fa, fb := a.v.backfilled(a.row), b.v.backfilled(b.row); fa != fb {
		return !fa
	}
	return a.v.seenAt(a.row) < b.v.seenAt(b.row)
}

func anyBackfilled(cs []candidate) bool {
	for _, c := range cs {
		if c.v.backfilled(c.row) {
			return true
		}
	}
	return false
}

func backfilledOnly(cs []candidate) []candidate {
	var out []candidate
	for _, c := range cs {
		if c.v.backfilled(c.row) {
			out = append(out, c)
		}
	}
	return out
}

// cursorHeap orders cursors by their current row's key.
type cursorHeap []cursor

func (h cursorHeap) Len() int { return len(h) }
func (h cursorHeap) Less(i, j int) bool {
	_, _, a := h[i].at()
	_, _, b := h[j].at()
	return compareRefs(a, b) < 0
}
func (h cursorHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *cursorHeap) Push(x any)   { *h = append(*h, x.(cursor)) }
func (h *cursorHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}
