package ctlog_test

import (
	"errors"
	"testing"

	"github.com/certstream-arrow/certstream-arrow/ctlog"
	"github.com/certstream-arrow/certstream-arrow/ctlog/ctlogtest"
)

// Every range of trees of many shapes, read in pages of several sizes,
// is proven against the STH with at most one audit path per page plus
// one for the first page.
func TestRFC6962PagesProven(t *testing.T) {
	entries := ctlogtest.Generate(t, 17)
	lg := ctlogtest.NewRFC6962(t, entries)
	for _, size := range []int64{1, 2, 3, 5, 8, 13, 17} {
		lg.Publish(size)
		for _, pageSize := range []int{1, 3} {
			lg.SetFaults(ctlogtest.Faults{PageCap: pageSize, CorruptTile: -1})
			for start := range size {
				for end := start + 1; end <= size; end++ {
					pages, proofs := lg.PathRequests("ct/v1/get-entries"), lg.PathRequests("ct/v1/get-proof-by-hash")
					c, _ := newClient(t, lg, fastOptions())
					got, err := readAll(t, c, start, end)
					if err != nil {
						t.Fatalf("tree %d, pages of %d, [%d, %d): %v", size, pageSize, start, end, err)
					}
					checkEntries(t, got, entries[start:end], start)
					pages = lg.PathRequests("ct/v1/get-entries") - pages
					proofs = lg.PathRequests("ct/v1/get-proof-by-hash") - proofs
					if proofs > pages+1 {
						t.Errorf("tree %d, [%d, %d): %d audit paths for %d pages", size, start, end, proofs, pages)
					}
				}
			}
		}
	}
}

// A log that signs an honest STH but answers get-entries (or audit paths)
// that are not its tree's is refused and counted, and nothing from the
// page is handed back; the pages before it are.
func TestRFC6962TamperedPageRefused(t *testing.T) {
	const n, page = 61, 8
	entries := ctlogtest.Generate(t, n)
	for _, tc := range []struct {
		name   string
		tamper ctlogtest.Tamper
		at     int64
		start  int64
		good   int64 // entries handed back before the refusal
	}{
		{"leaf changed in the middle", ctlogtest.TamperLeaf, 20, 0, 16},
		{"leaves reordered", ctlogtest.TamperSwap, 19, 0, 16},
		{"entry dropped", ctlogtest.TamperDrop, 20, 0, 16},
		{"entry from another tree", ctlogtest.TamperForeign, 20, 0, 16},
		{"last leaf of a page changed", ctlogtest.TamperLeaf, 23, 0, 16},
		{"first leaf of a page changed", ctlogtest.TamperLeaf, 16, 0, 16},
		{"last page, no audit path needed", ctlogtest.TamperLeaf, 58, 0, 56},
		{"first leaf of a walk changed", ctlogtest.TamperLeaf, 18, 18, 0},
		{"first page of a walk reordered", ctlogtest.TamperSwap, 20, 18, 0},
		{"first page of a walk, entry dropped", ctlogtest.TamperDrop, 22, 18, 0},
		{"audit paths altered", ctlogtest.TamperProof, 0, 0, 0},
		{"audit paths altered, walk from the middle", ctlogtest.TamperProof, 0, 18, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lg := ctlogtest.NewRFC6962(t, entries)
			lg.SetFaults(ctlogtest.Faults{PageCap: page, Tamper: tc.tamper, TamperAt: tc.at, CorruptTile: -1})
			opts := fastOptions()
			opts.PageSize = page
			c, _ := newClient(t, lg, opts)
			got, err := readAll(t, c, tc.start, -1)
			if !errors.Is(err, ctlog.ErrVerification) {
				t.Fatalf("err = %v, want ErrVerification", err)
			}
			checkEntries(t, got, entries[tc.start:tc.start+tc.good], tc.start)
			if s := c.Stats(); s.VerifyFailures != 1 || s.Entries != tc.good {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

// A log that holds the same leaf twice answers get-proof-by-hash with the
// first index; the audit path is then asked by index.
func TestRFC6962DuplicateLeaf(t *testing.T) {
	entries := ctlogtest.Generate(t, 40)
	entries[31] = entries[5]
	lg := ctlogtest.NewRFC6962(t, entries)
	lg.SetFaults(ctlogtest.Faults{PageCap: 8, CorruptTile: -1})
	for _, start := range []int64{0, 31} {
		c, _ := newClient(t, lg, fastOptions())
		got, err := readAll(t, c, start, -1)
		if err != nil {
			t.Fatalf("from %d: %v", start, err)
		}
		checkEntries(t, got, entries[start:], start)
	}
	if n := lg.PathRequests("ct/v1/get-entry-and-proof"); n != 2 {
		t.Errorf("%d get-entry-and-proof requests, want 2", n)
	}
}
