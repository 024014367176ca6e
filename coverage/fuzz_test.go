package coverage

import (
	"encoding/binary"
	"slices"
	"testing"
)

// FuzzSet adds the indexes the input encodes (2 bytes each, little endian,
// so that collisions, runs and holes are common; a byte of 0xff in the
// high half marks the index negative) and compares the set with the model,
// then the holes of the window the first two indexes give. Indexes are
// small so that the inputs it finds are short.
func FuzzSet(f *testing.F) {
	f.Add([]byte{1, 0, 2, 0, 3, 0})
	f.Add([]byte{9, 0, 3, 0, 5, 0, 4, 0, 3, 0, 0xff, 0xff})
	f.Add([]byte{0, 1, 0, 0, 0, 2, 1, 1})
	old := sideMin
	sideMin = 1 // fold the side buffer in often: small inputs reach it
	defer func() { sideMin = old }()
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Set
		m := model{}
		var idx []int64
		for len(data) >= 2 {
			i := int64(binary.LittleEndian.Uint16(data))
			if data[1] == 0xff {
				i = -i
			}
			data = data[2:]
			idx = append(idx, i)
			if got, want := s.Add(i), m.add(i); got != want {
				t.Fatalf("Add(%d) = %d, want %d", i, got, want)
			}
		}
		check(t, &s, m)
		if len(idx) >= 2 {
			from, to := min(idx[0], idx[1]), max(idx[0], idx[1])
			if got, want := s.Holes(from, to), m.holes(from, to); !slices.Equal(got, want) {
				t.Fatalf("Holes(%d, %d)\n got %v\nwant %v", from, to, got, want)
			}
		}
	})
}
