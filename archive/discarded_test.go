package archive

import (
	"os"
	"testing"
)

// The bytes salvage reports as discarded are exactly the torn batch it cut.
// (They were once counted twice over: the read of the byte counter was not
// ordered before the drain that advanced it.)
func TestSalvageCountsDiscardedBytesOnce(t *testing.T) {
	const torn = 100
	for _, tc := range []struct {
		name   string
		marker int // framing bytes dropped from each message: 0 keeps ours, 4 drops the continuation marker (another writer)
	}{
		{"in place", 0},
		{"copy", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, tmp := crash(t, "discard", 25) // schema, two batches of 10
			b, err := os.ReadFile(tmp)
			if err != nil {
				t.Fatal(err)
			}
			msgs := splitMessages(t, b)
			if len(msgs) != 3 {
				t.Fatalf("staging: %d messages", len(msgs))
			}
			file := append([]byte(nil), b[:8]...)
			for _, m := range msgs {
				file = append(file, m[tc.marker:]...)
			}
			file = file[:len(file)-torn]
			if err := os.WriteFile(tmp, file, 0o644); err != nil {
				t.Fatal(err)
			}
			kept := 8 + len(msgs[0]) + len(msgs[1]) - 2*tc.marker
			rep := recoverRoot(t, root)
			if rep.Salvaged != 1 || rep.Rows != 10 || rep.BytesDiscarded != int64(len(file)-kept) {
				t.Fatalf("report %+v, want 10 rows and %d bytes discarded", rep, len(file)-kept)
			}
		})
	}
}
