package ctlog_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/certstream-arrow/certstream-arrow/ctlog"
	"github.com/certstream-arrow/certstream-arrow/ctlog/ctlogtest"
)

// A data tile whose leaves do not hash to the signed tree is refused and
// counted; nothing from it is handed back, and the tiles before it are.
func TestStaticCorruptTileRefused(t *testing.T) {
	entries := ctlogtest.Generate(t, 256*4+10)
	for _, bad := range []int64{0, 2, 4} { // first, middle, the partial tile
		t.Run(fmt.Sprint(bad), func(t *testing.T) {
			lg := ctlogtest.NewStatic(t, entries)
			lg.SetFaults(ctlogtest.Faults{CorruptTile: bad})
			c, _ := newClient(t, lg, fastOptions())
			got, err := readAll(t, c, 0, -1)
			if !errors.Is(err, ctlog.ErrVerification) || !strings.Contains(err.Error(), "do not match") {
				t.Fatalf("err = %v, want a hash mismatch", err)
			}
			checkEntries(t, got, entries[:bad*256], 0)
			if s := c.Stats(); s.VerifyFailures != 1 || s.Entries != bad*256 {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

// Partial data tiles: read when the log keeps them, read from the full
// tile when the log grew and deleted them, and decoded whether or not the
// gzip is announced by Content-Encoding.
func TestStaticPartialTiles(t *testing.T) {
	entries := ctlogtest.Generate(t, 1000)
	for _, tc := range []struct {
		name      string
		published int64
		faults    ctlogtest.Faults
	}{
		{"kept", 600, ctlogtest.Faults{CorruptTile: -1}},
		{"replaced by full tile", 600, ctlogtest.Faults{CorruptTile: -1, NoPartialData: true}},
		{"plain gzip", 1000, ctlogtest.Faults{CorruptTile: -1, PlainGzip: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lg := ctlogtest.NewStatic(t, entries)
			lg.Publish(tc.published)
			lg.SetFaults(tc.faults)
			c, _ := newClient(t, lg, fastOptions())
			got, err := readAll(t, c, 0, -1)
			if err != nil {
				t.Fatal(err)
			}
			checkEntries(t, got, entries[:tc.published], 0)
		})
	}
}

// Issuers are fetched once per client, and level-0 hash tiles are not
// fetched for full data tiles.
func TestStaticRequests(t *testing.T) {
	entries := ctlogtest.Generate(t, 256*3)
	lg := ctlogtest.NewStatic(t, entries)
	c, _ := newClient(t, lg, fastOptions())
	if _, err := readAll(t, c, 0, -1); err != nil {
		t.Fatal(err)
	}
	if _, err := readAll(t, c, 0, -1); err != nil {
		t.Fatal(err)
	}
	total, _ := lg.Requests()
	// 2 checkpoints + 2×3 data tiles + 1 issuer + the level-1 tile once.
	if total != 10 {
		t.Errorf("%d requests, want 10", total)
	}
	for _, p := range []string{"tile/0/000", "tile/0/001"} {
		if n := lg.PathRequests(p); n != 0 {
			t.Errorf("%s fetched %d times", p, n)
		}
	}
}

// An issuer certificate that does not hash to the fingerprint the leaf
// names is refused, and the entry is not handed back.
func TestStaticWrongIssuerRefused(t *testing.T) {
	lg := ctlogtest.NewStatic(t, ctlogtest.Generate(t, 10))
	lg.SetFaults(ctlogtest.Faults{CorruptTile: -1, WrongIssuer: true})
	c, _ := newClient(t, lg, fastOptions())
	got, err := readAll(t, c, 0, -1)
	if !errors.Is(err, ctlog.ErrVerification) || len(got) != 0 {
		t.Fatalf("%d entries, err %v; want none and ErrVerification", len(got), err)
	}
	if s := c.Stats(); s.VerifyFailures != 1 {
		t.Errorf("VerifyFailures = %d, want 1", s.VerifyFailures)
	}
}
