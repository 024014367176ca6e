package backfill_test

import (
	"errors"
	"testing"
	"time"

	"github.com/certstream-arrow/certstream-arrow/archive/archivetest"
	"github.com/certstream-arrow/certstream-arrow/backfill"
	"github.com/certstream-arrow/certstream-arrow/coverage"
	"github.com/certstream-arrow/certstream-arrow/ctlog"
	"github.com/certstream-arrow/certstream-arrow/ctlog/ctlogtest"
)

// Logs that throttle, fail for a while, answer short pages or slowly still
// make the dataset whole, each entry once, within the retries.
func TestFillThroughFaults(t *testing.T) {
	cases := []struct {
		name      string
		faults    ctlogtest.Faults
		throttled bool
	}{
		{"429 with Retry-After", ctlogtest.Faults{Throttle: 3, RetryAfter: "1", CorruptTile: -1}, true},
		{"503", ctlogtest.Faults{Unavailable: 3, CorruptTile: -1}, true},
		{"short pages", ctlogtest.Faults{PageCap: 7, CorruptTile: -1}, false},
		{"slow log", ctlogtest.Faults{Delay: 5 * time.Millisecond, CorruptTile: -1}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 600)
			root := holed(t, f)
			f.rfc.SetFaults(tc.faults)
			f.static.SetFaults(tc.faults)
			opts := backfill.Options{Root: root, List: f.list, Client: fastClient}
			sum := fill(t, root, "backfill", opts, nil)
			for _, l := range sum.Logs {
				if tc.throttled && (l.Throttled == 0 || l.Retries == 0) {
					t.Errorf("%s: %d throttled answers, %d retries; want some", l.SourceURL, l.Throttled, l.Retries)
				}
			}
			checkWhole(t, f, root, map[*ctlogtest.Log]coverage.Range{f.rfc: rng(5, 640), f.static: rng(0, 640)})
		})
	}
}

// --since as an age is the first entry that young, found by binary search
// in about log2(size) fetches; --to caps the range; --max-entries the total;
// Grace stops a log at its first entry younger than it.
func TestWindow(t *testing.T) {
	entries := ctlogtest.Generate(t, 1000) // entry i at base + i ms
	base := time.UnixMilli(entries[0].Timestamp)
	cases := []struct {
		name         string
		opts         backfill.Options
		now          time.Time
		wantFrom     int64 // first index fetched
		wantFetched  int64 // per log
		wantDeferred int64
	}{
		{"since an age", backfill.Options{Since: backfill.SinceAge(time.Hour)}, base.Add(time.Hour + 500*time.Millisecond), 500, 500, 0},
		{"since an index, to", backfill.Options{Since: backfill.SinceIndex(300), To: 400}, base, 300, 100, 0},
		{"max entries over both logs", backfill.Options{Since: backfill.SinceIndex(900), MaxEntries: 150}, base, 900, -1, 0},
		{"grace", backfill.Options{Since: backfill.SinceIndex(0), Grace: time.Second}, base.Add(1800 * time.Millisecond), 0, 801, 199},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixtureOf(t, entries)
			root := t.TempDir()
			opts := tc.opts
			opts.Root, opts.List, opts.Client = root, f.list, fastClient
			opts.Logs = []string{f.url(f.rfc), f.url(f.static)}
			opts.Now = func() time.Time { return tc.now }
			sum := fill(t, root, "backfill", opts, func(plans []backfill.LogPlan) {
				for _, p := range plans {
					if p.Err != nil || len(p.Holes) > 0 && p.Holes[0].Start != tc.wantFrom {
						t.Errorf("%s: plan %v err %v, want from %d", p.SourceURL, p.Holes, p.Err, tc.wantFrom)
					}
				}
			})
			var total int64
			for _, l := range sum.Logs {
				total += l.Fetched
				if tc.wantFetched >= 0 && (l.Fetched != tc.wantFetched || l.Deferred != tc.wantDeferred) {
					t.Errorf("%s: fetched %d deferred %d, want %d, %d", l.SourceURL, l.Fetched, l.Deferred, tc.wantFetched, tc.wantDeferred)
				}
			}
			if tc.opts.MaxEntries > 0 && total != tc.opts.MaxEntries {
				t.Errorf("fetched %d in all, want --max-entries %d", total, tc.opts.MaxEntries)
			}
			if total != int64(len(archivetest.AllRows(archivetest.ReadDataset(t, root)))) {
				t.Errorf("fetched %d, but the dataset holds other rows", total)
			}
		})
	}
}

// A log whose head does not verify is skipped and makes Fill fail; the
// other log is filled all the same.
func TestBadHeadFails(t *testing.T) {
	f := newFixture(t, 100)
	root := t.TempDir()
	f.stream(t, root, f.rfc, rng(0, 50))
	f.stream(t, root, f.static, rng(0, 50))
	f.static.SetFaults(ctlogtest.Faults{BadSignature: true, CorruptTile: -1})
	opts := backfill.Options{Root: root, List: f.list, Client: fastClient}
	ds := openBackfill(t, root, "backfill")
	plans, err := backfill.Plan(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := backfill.Fill(t.Context(), ds, plans, opts)
	if cerr := ds.Close(); cerr != nil {
		t.Fatal(cerr)
	}
	if !errors.Is(err, ctlog.ErrVerification) {
		t.Fatalf("fill: %v, want the static log's verification failure", err)
	}
	for _, l := range sum.Logs {
		if bad := l.SourceURL == f.url(f.static); bad != l.Skipped || bad == (l.Rows == 90) {
			t.Errorf("%s: skipped %v, %d rows", l.SourceURL, l.Skipped, l.Rows)
		}
	}
}
