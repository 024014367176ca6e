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
	"github.com/certstream-arrow/certstream-arrow/stream"
)

// fastClient lets the fake logs be read without the public logs' limits.
var fastClient = ctlog.Options{RequestsPerSecond: 1e4, MaxInFlight: 4, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond, MaxRetryAfter: time.Second}

// holed is a dataset streamed with holes from both logs of f.
func holed(t *testing.T, f *fixture) string {
	t.Helper()
	root := t.TempDir()
	f.stream(t, root, f.rfc, rng(5, 100), rng(130, 300), rng(301, 600))
	f.stream(t, root, f.static, rng(0, 200), rng(500, 520))
	return root
}

// wantHoles is what holed leaves missing of each log of f (640 entries).
func wantHoles(f *fixture) map[string][]coverage.Range {
	return map[string][]coverage.Range{
		f.url(f.rfc):    {rng(100, 130), rng(300, 301), rng(600, 640)},
		f.url(f.static): {rng(200, 500), rng(520, 640)},
	}
}

// The scenario: a dataset streamed with holes in an RFC 6962 and a
// static-CT log is made whole, each backfilled row equal to the log's entry
// as ctrow makes it, under the source_url the dataset already uses; a rerun
// fetches nothing.
func TestFillMakesWhole(t *testing.T) {
	f := newFixture(t, 600)
	root := holed(t, f)
	opts := backfill.Options{Root: root, List: f.list, Client: fastClient}

	sum := fill(t, root, "backfill", opts, func(plans []backfill.LogPlan) {
		for _, p := range plans {
			if want := holesString(wantHoles(f)[p.SourceURL]); holesString(p.Holes) != want || p.Err != nil {
				t.Errorf("plan of %s: holes %v err %v, want %s", p.SourceURL, p.Holes, p.Err, want)
			}
		}
	})
	if sum.Rows != 30+1+40+300+120 {
		t.Errorf("%d rows backfilled, want 491: %+v", sum.Rows, sum)
	}
	checkWhole(t, f, root, map[*ctlogtest.Log]coverage.Range{f.rfc: rng(5, 640), f.static: rng(0, 640)})

	before := requests(f)
	again := fill(t, root, "backfill", opts, func(plans []backfill.LogPlan) {
		for _, p := range plans {
			if p.Missing != 0 || p.Err != nil {
				t.Errorf("rerun plans %s: %+v", p.SourceURL, p)
			}
		}
	})
	if again.Fetched != 0 || requests(f)-before != 2 {
		t.Errorf("rerun fetched %d entries in %d requests; want 0 entries, 2 heads", again.Fetched, requests(f)-before)
	}
	checkWhole(t, f, root, map[*ctlogtest.Log]coverage.Range{f.rfc: rng(5, 640), f.static: rng(0, 640)})
}

// fill opens root as collector, plans (showing the plans to check), fills
// and closes, failing the test on any error.
func fill(t *testing.T, root, collector string, opts backfill.Options, check func([]backfill.LogPlan)) backfill.Summary {
	t.Helper()
	ds := openBackfill(t, root, collector)
	plans, err := backfill.Plan(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if check != nil {
		check(plans)
	}
	sum, err := backfill.Fill(t.Context(), ds, plans, opts)
	if cerr := ds.Close(); err != nil || cerr != nil {
		t.Fatalf("fill: %v; close: %v", err, cerr)
	}
	return sum
}

func requests(f *fixture) int64 {
	a, _ := f.rfc.Requests()
	b, _ := f.static.Requests()
	return a + b
}

// checkWhole asserts that the dataset holds every index of each log's range
// exactly once and nothing outside it, and that a backfilled row is the row
// ctrow makes of the log's entry.
func checkWhole(t *testing.T, f *fixture, root string, ranges map[*ctlogtest.Log]coverage.Range) {
	t.Helper()
	got := byLog(t, root)
	for lg, r := range ranges {
		rows := got[f.url(lg)]
		if int64(len(rows)) != r.Len() {
			t.Errorf("%s: %d indexes held, want %d", f.url(lg), len(rows), r.Len())
		}
		for i := r.Start; i < r.End; i++ {
			switch rs := rows[i]; {
			case len(rs) != 1:
				t.Fatalf("%s index %d: %d rows, want 1", f.url(lg), i, len(rs))
			case rs[0]["provenance"] == "backfill":
				archivetest.SameRows(t, rs, []archivetest.Row{expected(t, f.update(t, lg, i, stream.FromBackfill))}, "received_at")
			case rs[0]["provenance"] != "stream":
				t.Fatalf("%s index %d: provenance %v", f.url(lg), i, rs[0]["provenance"])
			}
		}
	}
}

// A log --log names that the dataset does not hold is filled from --since,
// its rows named as given; one the list does not know is reported, not
// guessed at, and so is a dataset source_url the list does not know.
func TestPlanSelection(t *testing.T) {
	f := newFixture(t, 100)
	root := t.TempDir()
	f.stream(t, root, f.rfc, rng(10, 20))
	unknown := "https://ct.unknown.example/2026/"
	f.streamAs(t, root, unknown, rng(0, 3))

	cases := []struct {
		name  string
		logs  []string
		since backfill.Since
		want  map[string]int64 // source_url: missing; -1: unknown
	}{
		{"default: every log the dataset holds", nil, backfill.Since{}, map[string]int64{f.url(f.rfc): 120, unknown: -1}},
		{"since an index", nil, backfill.SinceIndex(0), map[string]int64{f.url(f.rfc): 130, unknown: -1}},
		{"--log by list URL, not held, no since: nothing owed", []string{f.static.Info.URL}, backfill.Since{}, map[string]int64{f.static.Info.URL: 0}},
		{"--log not held, since", []string{f.static.Info.URL}, backfill.SinceIndex(100), map[string]int64{f.static.Info.URL: 40}},
		{"--log unknown", []string{"https://nowhere.example/"}, backfill.Since{}, map[string]int64{"https://nowhere.example/": -1}},
		{"--log by another spelling of a held log", []string{"HTTP://" + f.rfc.Info.URL[len("http://"):]}, backfill.Since{}, map[string]int64{f.url(f.rfc): 120}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plans, err := backfill.Plan(t.Context(), backfill.Options{Root: root, List: f.list, Logs: tc.logs, Since: tc.since, Client: fastClient})
			if err != nil {
				t.Fatal(err)
			}
			if len(plans) != len(tc.want) {
				t.Fatalf("%d plans, want %d: %+v", len(plans), len(tc.want), plans)
			}
			for _, p := range plans {
				want, ok := tc.want[p.SourceURL]
				switch {
				case !ok:
					t.Errorf("unexpected plan %s", p.SourceURL)
				case want < 0 && !errors.Is(p.Err, backfill.ErrUnknownLog):
					t.Errorf("%s: err %v, want unknown", p.SourceURL, p.Err)
				case want >= 0 && (p.Err != nil || p.Missing != want):
					t.Errorf("%s: missing %d err %v, want %d", p.SourceURL, p.Missing, p.Err, want)
				}
			}
		})
	}
}
