package coverage

import (
	"slices"
	"sort"
)

// ranges is a sorted slice of disjoint, non-adjacent ranges: the flat
// storage under a Set. Inserting costs a copy of the ranges after the
// insertion point, which is why Set sends far inserts to a side buffer.
type ranges []Range

// nearScan is how many ranges from the end locate scans before it
// searches.
const nearScan = 8

// locate returns the first k with r[k].End >= i, or len(r).
func (r ranges) locate(i int64) int {
	n := len(r)
	k := n
	for ; k > 0 && n-k < nearScan; k-- {
		if r[k-1].End < i {
			return k
		}
	}
	return sort.Search(k, func(j int) bool { return r[j].End >= i })
}

// holds reports whether range k, as locate returned it, holds i.
func (r ranges) holds(k int, i int64) bool {
	return k < len(r) && r[k].Start <= i && i < r[k].End
}

// insert adds i, which r does not hold, given k = r.locate(i).
func (r *ranges) insert(i int64, k int) {
	s := *r
	n := len(s)
	switch {
	case k < n && s[k].End == i: // extends range k; may reach k+1
		s[k].End++
		if k+1 < n && s[k+1].Start == i+1 {
			s[k].End = s[k+1].End
			*r = slices.Delete(s, k+1, k+2)
		}
	case k < n && s[k].Start == i+1:
		s[k].Start = i
	default:
		*r = slices.Insert(s, k, Range{i, i + 1})
	}
}

// absorb adds every range of o, none of which r holds, in place: a merge
// from the back into r grown by len(o), then one pass joining neighbours.
func (r *ranges) absorb(o ranges) {
	n, m := len(*r), len(o)
	s := slices.Grow(*r, m)[:n+m]
	for i, j, k := n-1, m-1, n+m-1; j >= 0; k-- {
		if i >= 0 && s[i].Start > o[j].Start {
			s[k], i = s[i], i-1
		} else {
			s[k], j = o[j], j-1
		}
	}
	w := 0
	for _, x := range s {
		if w > 0 && x.Start <= s[w-1].End {
			s[w-1].End = max(s[w-1].End, x.End)
			continue
		}
		s[w] = x
		w++
	}
	*r = s[:w]
}

// first returns the first range ending after from.
func (r ranges) first(from int64) int {
	return sort.Search(len(r), func(j int) bool { return r[j].End > from })
}
