package coverage

import (
	"math"
	"slices"
)

// Range is the half-open interval [Start, End) of cert_index values.
type Range struct {
	Start int64 `json:"start"`
	End   int64 `json:"end"`
}

// Len returns the number of indexes in r.
func (r Range) Len() int64 { return r.End - r.Start }

// Outcome is what Set.Add did with an index.
type Outcome int8

const (
	Added     Outcome = iota // the index was not held and now is
	Duplicate                // the index was already held; counted
	Invalid                  // negative or math.MaxInt64: no log holds it; ignored
)

// SampleSize bounds the duplicate indexes a Set remembers for reports.
const SampleSize = 8

// Set is the set of cert_index values a dataset holds for one log, as
// sorted, disjoint, non-adjacent half-open ranges. Its memory is 16 bytes
// per range (one more range than holes), however many rows were added,
// plus a side buffer of at most sideMin or sqrt(ranges) ranges.
//
// Valid indexes are 0 <= i < math.MaxInt64, so that every range's End fits
// in an int64; Add refuses others. The zero Set is empty and ready to use.
// A Set is not safe for concurrent use, reads included: they may fold the
// side buffer in.
type Set struct {
	r      ranges
	side   ranges  // indexes added far behind the end, none held by r
	held   int64   // indexes held by r and side
	dups   int64   // Add calls that found the index held, plus overlaps merged
	sample []int64 // the first SampleSize duplicate indexes
}

// nearInsert is how many ranges from the end Add inserts into the ranges
// directly: copying 2 KiB is cheaper than the side buffer.
const nearInsert = 128

// sideMin is the side buffer's size before it is folded in, below which
// its square-root rule does not go. Tests lower it.
var sideMin = 256

// Add records index i. At or after the last range (a feed read in order)
// it is O(1); within the last few ranges (a feed slightly out of order),
// a short scan and copy. Further behind, it searches the ranges and
// inserts into a side buffer of about sqrt(ranges) that is folded in,
// in one linear pass, when full: O(sqrt(ranges)) amortised, where
// inserting into one slice would copy half the ranges each time.
func (s *Set) Add(i int64) Outcome {
	if i < 0 || i == math.MaxInt64 {
		return Invalid
	}
	n := len(s.r)
	switch {
	case n == 0 || i > s.r[n-1].End:
		s.r = append(s.r, Range{i, i + 1})
	case i == s.r[n-1].End:
		s.r[n-1].End++
	default:
		return s.addBehind(i)
	}
	s.held++
	return Added
}

// addBehind adds i, which is below the last range's end, to the ranges
// when that is a short copy and to the side buffer otherwise.
func (s *Set) addBehind(i int64) Outcome {
	k := s.r.locate(i)
	j := s.side.locate(i)
	switch {
	case s.r.holds(k, i) || s.side.holds(j, i):
		s.duplicate(i)
		return Duplicate
	case len(s.r)-k <= nearInsert:
		s.r.insert(i, k)
	default:
		s.side.insert(i, j)
		if len(s.side)*len(s.side) > max(len(s.r), sideMin*sideMin) {
			s.settle()
		}
	}
	s.held++
	return Added
}

// settle folds the side buffer into the ranges.
func (s *Set) settle() {
	if len(s.side) > 0 {
		s.r.absorb(s.side)
		s.side = s.side[:0]
	}
}

func (s *Set) duplicate(i int64) {
	s.dups++
	if len(s.sample) < SampleSize {
		s.sample = append(s.sample, i)
	}
}

// Held returns how many distinct indexes the set holds.
func (s *Set) Held() int64 { return s.held }

// Duplicates returns how many times an index already held was added again
// (an index added three times counts two).
func (s *Set) Duplicates() int64 { return s.dups }

// DuplicateSample returns up to SampleSize of the duplicated indexes, in the
// order they were found.
func (s *Set) DuplicateSample() []int64 { return slices.Clone(s.sample) }

// Len returns the number of ranges: one more than the holes between the
// lowest and highest index held, or 0 when empty.
func (s *Set) Len() int {
	s.settle()
	return len(s.r)
}

// Ranges returns a copy of the ranges held, in order.
func (s *Set) Ranges() []Range {
	s.settle()
	return slices.Clone(s.r)
}

// Bounds returns the lowest index held and one past the highest, and false
// when the set is empty.
func (s *Set) Bounds() (Range, bool) {
	s.settle()
	if len(s.r) == 0 {
		return Range{}, false
	}
	return Range{s.r[0].Start, s.r[len(s.r)-1].End}, true
}

// Contains reports whether index i is held.
func (s *Set) Contains(i int64) bool {
	s.settle()
	k := s.r.first(i)
	return k < len(s.r) && s.r[k].Start <= i
}

// Holes returns the ranges of [from, to) that the set does not hold, in
// order; nil when there are none or from >= to.
func (s *Set) Holes(from, to int64) []Range {
	s.settle()
	var holes []Range
	cur := from
	for k := s.r.first(from); k < len(s.r) && s.r[k].Start < to && cur < to; k++ {
		if s.r[k].Start > cur {
			holes = append(holes, Range{cur, s.r[k].Start})
		}
		cur = max(cur, s.r[k].End)
	}
	if cur < to {
		holes = append(holes, Range{cur, to})
	}
	return holes
}

// HeldIn returns how many indexes of [from, to) the set holds.
func (s *Set) HeldIn(from, to int64) int64 {
	s.settle()
	var n int64
	for k := s.r.first(from); k < len(s.r) && s.r[k].Start < to; k++ {
		n += min(s.r[k].End, to) - max(s.r[k].Start, from)
	}
	return n
}

// Clone returns an independent copy of s.
func (s *Set) Clone() *Set {
	s.settle()
	return &Set{r: slices.Clone(s.r), held: s.held, dups: s.dups, sample: slices.Clone(s.sample)}
}

// Merge adds every index of o to s. An index both hold counts as a
// duplicate, as if its second row had been added to s: merging the sets of
// two halves of a dataset gives the set of the whole. o's contents are not
// changed. It takes time linear in the ranges of both.
func (s *Set) Merge(o *Set) {
	s.settle()
	o.settle()
	overlap := intersect(s.r, o.r, func(r Range) {
		for i := r.Start; i < r.End && len(s.sample) < SampleSize; i++ {
			s.sample = append(s.sample, i)
		}
	})
	for _, i := range o.sample {
		if len(s.sample) < SampleSize {
			s.sample = append(s.sample, i)
		}
	}
	s.dups += o.dups + overlap
	s.r = ranges(union(s.r, o.r))
	s.held = 0
	for _, r := range s.r {
		s.held += r.Len()
	}
}

// intersect calls fn with each range both a and b hold, and returns their
// total length.
func intersect(a, b []Range, fn func(Range)) int64 {
	var n int64
	for i, j := 0, 0; i < len(a) && j < len(b); {
		if r := (Range{max(a[i].Start, b[j].Start), min(a[i].End, b[j].End)}); r.Start < r.End {
			fn(r)
			n += r.Len()
		}
		if a[i].End < b[j].End {
			i++
		} else {
			j++
		}
	}
	return n
}

// union returns the sorted, disjoint, non-adjacent union of a and b.
func union(a, b []Range) []Range {
	out := make([]Range, 0, len(a)+len(b))
	push := func(r Range) {
		if n := len(out); n > 0 && r.Start <= out[n-1].End {
			out[n-1].End = max(out[n-1].End, r.End)
			return
		}
		out = append(out, r)
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		if j == len(b) || i < len(a) && a[i].Start <= b[j].Start {
			push(a[i])
			i++
		} else {
			push(b[j])
			j++
		}
	}
	if cap(out) > 2*len(out) { // much of a and b overlapped
		out = slices.Clone(out)
	}
	return out
}
