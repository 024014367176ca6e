package coverage

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// model is the obvious, slow Set: a map of index to times added.
type model map[int64]int

func (m model) add(i int64) Outcome {
	if i < 0 || i == math.MaxInt64 {
		return Invalid
	}
	m[i]++
	if m[i] > 1 {
		return Duplicate
	}
	return Added
}

func (m model) ranges() []Range {
	keys := make([]int64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []Range
	for _, k := range keys {
		if n := len(out); n > 0 && out[n-1].End == k {
			out[n-1].End++
		} else {
			out = append(out, Range{k, k + 1})
		}
	}
	return out
}

func (m model) dups() int64 {
	var n int64
	for _, c := range m {
		n += int64(c - 1)
	}
	return n
}

// holes lists the indexes of [from, to) m lacks, as ranges; only for
// small ranges.
func (m model) holes(from, to int64) []Range {
	var out []Range
	for i := from; i < to; i++ {
		if m[i] > 0 {
			continue
		}
		if n := len(out); n > 0 && out[n-1].End == i {
			out[n-1].End++
		} else {
			out = append(out, Range{i, i + 1})
		}
	}
	return out
}

// check compares s with m in every accessor.
func check(t testing.TB, s *Set, m model) {
	t.Helper()
	if got, want := s.Ranges(), m.ranges(); !slices.Equal(got, want) {
		t.Fatalf("ranges\n got %v\nwant %v", got, want)
	}
	if s.Held() != int64(len(m)) || s.Duplicates() != m.dups() {
		t.Fatalf("held %d dups %d, want %d %d", s.Held(), s.Duplicates(), len(m), m.dups())
	}
	if s.Len() != len(m.ranges()) {
		t.Fatalf("len %d, want %d", s.Len(), len(m.ranges()))
	}
}

func TestSetAdd(t *testing.T) {
	const max = math.MaxInt64
	for _, tc := range []struct {
		name   string
		adds   []int64
		ranges string
		dups   int64
	}{
		{"empty", nil, "[]", 0},
		{"in order", []int64{0, 1, 2, 3}, "[{0 4}]", 0},
		{"reverse", []int64{9, 8, 7, 6, 5}, "[{5 10}]", 0},
		{"gap then fill", []int64{1, 3, 5, 2, 4}, "[{1 6}]", 0},
		{"fill joins both sides", []int64{1, 2, 4, 5, 3}, "[{1 6}]", 0},
		{"holes", []int64{10, 11, 20, 30, 31, 32}, "[{10 12} {20 21} {30 33}]", 0},
		{"duplicates", []int64{5, 6, 7, 5, 7, 7, 6}, "[{5 8}]", 4},
		{"dup inside earlier range", []int64{1, 2, 3, 10, 11, 2}, "[{1 4} {10 12}]", 1},
		{"inspect's old case", []int64{5, 6, 7, 10, 9, 3, 8, 7, 1, 2, 4, 20, 4}, "[{1 11} {20 21}]", 2},
		{"near int64 limit", []int64{max - 1, max - 3, 0, max - 2}, "[{0 1} {9223372036854775804 9223372036854775807}]", 0},
		{"negative and max refused", []int64{-1, math.MinInt64, max, 3}, "[{3 4}]", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s Set
			m := model{}
			for _, i := range tc.adds {
				if got, want := s.Add(i), m.add(i); got != want {
					t.Fatalf("Add(%d) = %d, want %d", i, got, want)
				}
			}
			if got := fmt.Sprint(s.Ranges()); got != tc.ranges && !(got == "[]" && tc.ranges == "[]") {
				t.Errorf("ranges %s, want %s", got, tc.ranges)
			}
			if s.Duplicates() != tc.dups {
				t.Errorf("dups %d, want %d", s.Duplicates(), tc.dups)
			}
			check(t, &s, m)
		})
	}
}

func TestSetInvalid(t *testing.T) {
	var s Set
	for _, i := range []int64{-1, -1 << 40, math.MinInt64, math.MaxInt64} {
		if s.Add(i) != Invalid {
			t.Errorf("Add(%d) accepted", i)
		}
	}
	if s.Held() != 0 || s.Len() != 0 || s.Duplicates() != 0 {
		t.Errorf("held %d len %d dups %d after invalid adds", s.Held(), s.Len(), s.Duplicates())
	}
}

// A sparse set near the top of int64 counts holes without overflow.
func TestSetSparseHuge(t *testing.T) {
	var s Set
	const top = math.MaxInt64 - 1
	for _, i := range []int64{0, 1 << 62, top, top - 1, 1 << 40} {
		s.Add(i)
	}
	holes := s.Holes(0, math.MaxInt64)
	want := []Range{{1, 1 << 40}, {1<<40 + 1, 1 << 62}, {1<<62 + 1, top - 1}}
	if !slices.Equal(holes, want) {
		t.Fatalf("holes %v, want %v", holes, want)
	}
	var missing int64
	for _, h := range holes {
		missing += h.Len()
	}
	if missing != math.MaxInt64-5 || s.HeldIn(0, math.MaxInt64) != 5 {
		t.Errorf("missing %d held %d", missing, s.HeldIn(0, math.MaxInt64))
	}
	if !s.Contains(top) || s.Contains(top-2) || s.Contains(-1) {
		t.Error("Contains")
	}
}

func TestSetHoles(t *testing.T) {
	var s Set
	for _, i := range []int64{10, 11, 12, 20, 21, 30} {
		s.Add(i)
	}
	for _, tc := range []struct {
		from, to int64
		want     string
		held     int64
	}{
		{0, 40, "[{0 10} {13 20} {22 30} {31 40}]", 6},
		{10, 31, "[{13 20} {22 30}]", 6},
		{11, 21, "[{13 20}]", 3},
		{15, 18, "[{15 18}]", 0},
		{20, 22, "[]", 2},
		{31, 31, "[]", 0},
		{40, 30, "[]", 0},
	} {
		t.Run(fmt.Sprintf("%d-%d", tc.from, tc.to), func(t *testing.T) {
			got := s.Holes(tc.from, tc.to)
			if fmt.Sprint(got) != tc.want {
				t.Errorf("holes %v, want %s", got, tc.want)
			}
			if h := s.HeldIn(tc.from, tc.to); h != tc.held {
				t.Errorf("held in %d, want %d", h, tc.held)
			}
		})
	}
}

// permutation returns the indexes base..base+n-1, shuffled by rng except
// that a fraction skip of them is left out and a fraction dup repeated.
func permutation(rng *rand.Rand, base int64, n int, skip, dup float64) []int64 {
	var out []int64
	for i := range n {
		if rng.Float64() < skip {
			continue
		}
		out = append(out, base+int64(i))
		if rng.Float64() < dup {
			out = append(out, base+int64(i))
		}
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// withSideMin runs fn with the side buffer folded in from n ranges on.
func withSideMin(t *testing.T, n int, fn func(t *testing.T)) {
	t.Run(fmt.Sprintf("side=%d", n), func(t *testing.T) {
		old := sideMin
		sideMin = n
		defer func() { sideMin = old }()
		fn(t)
	})
}

// Random permutations, some nearly in order, agree with the model in every
// accessor, including Holes and HeldIn on random windows; with a side
// buffer folded in often, and as in production.
func TestSetProperty(t *testing.T) {
	for _, side := range []int{1, 4, 256} {
		withSideMin(t, side, testSetProperty)
	}
}

func testSetProperty(t *testing.T) {
	for seed := range uint64(200) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 1))
			n := 1 + rng.IntN(300)
			if seed%10 == 0 {
				n = 20_000
			}
			adds := permutation(rng, rng.Int64N(1000), n, rng.Float64()*0.5, rng.Float64()*0.2)
			if seed%3 == 0 { // nearly in order: sorted, then a few local swaps
				slices.Sort(adds)
				for range len(adds) / 10 {
					if i := rng.IntN(len(adds)); i+1 < len(adds) {
						adds[i], adds[i+1] = adds[i+1], adds[i]
					}
				}
			}
			var s Set
			m := model{}
			for _, i := range adds {
				if got, want := s.Add(i), m.add(i); got != want {
					t.Fatalf("Add(%d) = %d, want %d", i, got, want)
				}
			}
			check(t, &s, m)
			for range 20 {
				from := rng.Int64N(int64(n)+1500) - 100
				to := from + rng.Int64N(600)
				want := m.holes(from, to) // Holes does not clamp: [from, 0) is missing
				if got := s.Holes(from, to); !slices.Equal(got, want) {
					t.Fatalf("Holes(%d, %d)\n got %v\nwant %v", from, to, got, want)
				}
			}
		})
	}
}

// Merging the sets of two halves of a sequence gives the set of the
// whole, duplicates included.
func TestSetMerge(t *testing.T) {
	for _, side := range []int{1, 256} {
		withSideMin(t, side, testSetMerge)
	}
}

func testSetMerge(t *testing.T) {
	for seed := range uint64(100) {
		rng := rand.New(rand.NewPCG(seed, 2))
		adds := permutation(rng, 0, 1+rng.IntN(400), rng.Float64()*0.5, rng.Float64()*0.3)
		cut := rng.IntN(len(adds) + 1)
		var a, b, whole Set
		for _, i := range adds[:cut] {
			a.Add(i)
		}
		for _, i := range adds[cut:] {
			b.Add(i)
		}
		for _, i := range adds {
			whole.Add(i)
		}
		bBefore := b.Clone()
		a.Merge(&b)
		if !slices.Equal(a.Ranges(), whole.Ranges()) || a.Held() != whole.Held() || a.Duplicates() != whole.Duplicates() {
			t.Fatalf("seed %d: merged %v held %d dups %d\nwant %v held %d dups %d", seed,
				a.Ranges(), a.Held(), a.Duplicates(), whole.Ranges(), whole.Held(), whole.Duplicates())
		}
		if !slices.Equal(b.Ranges(), bBefore.Ranges()) {
			t.Fatalf("seed %d: Merge changed its argument", seed)
		}
		if len(a.DuplicateSample()) != int(min(whole.Duplicates(), SampleSize)) {
			t.Fatalf("seed %d: sample %v for %d dups", seed, a.DuplicateSample(), whole.Duplicates())
		}
	}
}

func TestSetDuplicateSample(t *testing.T) {
	var s Set
	for i := range int64(20) {
		s.Add(i)
		s.Add(i)
	}
	if s.Duplicates() != 20 || !slices.Equal(s.DuplicateSample(), []int64{0, 1, 2, 3, 4, 5, 6, 7}) {
		t.Errorf("dups %d sample %v", s.Duplicates(), s.DuplicateSample())
	}
}
