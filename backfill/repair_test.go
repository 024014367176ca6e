package backfill_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certstream-arrow/certstream-arrow/archive/archivetest"
	"github.com/certstream-arrow/certstream-arrow/backfill"
	"github.com/certstream-arrow/certstream-arrow/ctlog"
	"github.com/certstream-arrow/certstream-arrow/ctlog/ctlogtest"
	"github.com/certstream-arrow/certstream-arrow/seal"
	"github.com/certstream-arrow/certstream-arrow/stream"
)

// signed is the tree size both logs of a repair fixture sign: their last 40
// entries are served but not yet in the signed tree.
const signed = 1000

// unknownLog is a source_url no list names.
const unknownLog = "https://ct.unknown.example/2026/"

// repairFixture is a fixture of 1040 entries, 1000 of them signed.
func repairFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t, 1000)
	f.rfc.Publish(signed)
	f.static.Publish(signed)
	return f
}

// repairKeys are damaged rows spread over both logs of f and a log no list
// names, sorted as sealing sorts them: static-CT keys in one tile (3, 7,
// 200), in the next one (300), far apart (900) and beyond the signed tree
// (1010); RFC 6962 keys among the real entries (0, 1, 39), far from them
// (600, 601), at the end of the tree (999) and beyond it (1020).
func repairKeys(f *fixture) []seal.Key {
	var keys []seal.Key
	add := func(url string, idx ...int64) {
		for _, i := range idx {
			keys = append(keys, seal.Key{Log: url, Index: i})
		}
	}
	add(f.url(f.static), 3, 7, 200, 300, 900, 1010)
	add(f.url(f.rfc), 0, 1, 39, 600, 601, 999, 1020)
	add(unknownLog, 5)
	slices.SortFunc(keys, func(a, b seal.Key) int {
		return cmp.Or(strings.Compare(a.Log, b.Log), cmp.Compare(a.Index, b.Index))
	})
	return keys
}

// fetchable are the keys of keys a repair can serve: a known log's, within
// the signed tree, and not in skip.
func fetchable(f *fixture, keys []seal.Key, skip ...seal.Key) []seal.Key {
	var out []seal.Key
	for _, k := range keys {
		if f.log(k.Log) != nil && k.Index < signed && !slices.Contains(skip, k) {
			out = append(out, k)
		}
	}
	return out
}

// log is the fake log whose rows the dataset stores under url, or nil.
func (f *fixture) log(url string) *ctlogtest.Log {
	for _, lg := range []*ctlogtest.Log{f.rfc, f.static} {
		if f.url(lg) == url {
			return lg
		}
	}
	return nil
}

// emitted is what a Repair handed to emit, in order.
type emitted struct {
	keys    []seal.Key
	updates []*stream.Update
}

func (e *emitted) emit(k seal.Key, u *stream.Update) error {
	e.keys = append(e.keys, k)
	e.updates = append(e.updates, u)
	return nil
}

// check asserts that e holds exactly want, in order, each update the row
// ctrow makes of the log's entry, provenance backfill, received during the
// repair.
func (e *emitted) check(t *testing.T, f *fixture, want []seal.Key, from, to time.Time) {
	t.Helper()
	if !slices.Equal(e.keys, want) {
		t.Fatalf("emitted keys\n%v\nwant\n%v", e.keys, want)
	}
	for i, k := range e.keys {
		u := e.updates[i]
		if u.Provenance != stream.FromBackfill || u.ReceivedAt.Before(from) || u.ReceivedAt.After(to) {
			t.Errorf("%v: provenance %v, received at %v; want backfill, during the repair", k, u.Provenance, u.ReceivedAt)
		}
		want := expected(t, f.update(t, f.log(k.Log), k.Index, stream.FromBackfill))
		archivetest.SameRows(t, []archivetest.Row{expected(t, u)}, []archivetest.Row{want}, "received_at")
	}
}

// newRepairer returns a Repairer of f's logs logging to a buffer.
func newRepairer(list *ctlog.List) (*backfill.Repairer, *bytes.Buffer) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return backfill.NewRepairer(list, fastClient, log), &logs
}

// The scenario: damaged rows of two logs are refetched, each the row
// ctrow makes of the log's entry, in key order; nearby keys are fetched
// together (one data tile, one get-entries page per group) and nothing
// between far keys is; keys beyond the signed tree and of a log the list
// does not name are skipped, not errors.
func TestRepairEmitsRequestedKeys(t *testing.T) {
	f := repairFixture(t)
	keys := repairKeys(f)
	r, logs := newRepairer(f.list)
	var got emitted
	from := time.Now()
	if err := r.Repair(t.Context(), keys, got.emit); err != nil {
		t.Fatal(err)
	}
	got.check(t, f, fetchable(f, keys), from, time.Now())

	requests := map[string]int64{
		"ct/v1/get-sth": 1, "ct/v1/get-entries": 3, // [0, 40), [600, 602), [999, 1000)
		"checkpoint": 1, "tile/data/000": 1, "tile/data/001": 1, "tile/data/002": 0, "tile/data/003.p/232": 1,
	}
	for path, want := range requests {
		lg := f.static
		if strings.HasPrefix(path, "ct/") {
			lg = f.rfc
		}
		if n := lg.PathRequests(path); n != want {
			t.Errorf("%s: %d requests, want %d", path, n, want)
		}
	}
	if n := strings.Count(logs.String(), "the list does not name"); n != 1 {
		t.Errorf("%d warnings of the unknown log, want 1:\n%s", n, logs.String())
	}
}

// A source_url the list does not know, or that two of its logs claim, is
// never guessed at: its keys are skipped with one warning per log, and the
// log is not asked anything.
func TestRepairSkipsUnknownLogs(t *testing.T) {
	f := repairFixture(t)
	impostor := *f.static.Info // another log claiming the RFC 6962 log's URL
	impostor.Tiled, impostor.URL, impostor.SubmissionURL = false, f.rfc.Info.URL, ""
	list, err := ctlog.ParseList(ctlogtest.ListJSON(f.rfc.Info, &impostor))
	if err != nil {
		t.Fatal(err)
	}
	r, logs := newRepairer(list)
	var got emitted
	if err := r.Repair(t.Context(), repairKeys(f), got.emit); err != nil {
		t.Fatal(err)
	}
	if len(got.keys) != 0 || requests(f) != 0 {
		t.Errorf("emitted %v after %d requests; want nothing asked", got.keys, requests(f))
	}
	if n := strings.Count(logs.String(), "the list does not name"); n != 3 {
		t.Errorf("%d warnings, want one per log (3):\n%s", n, logs.String())
	}
}

// Data that does not verify loses only the keys of its range: the other
// ranges of the log and the other log are repaired, and Repair returns the
// failure naming the log and the range.
func TestRepairFetchFailure(t *testing.T) {
	cases := []struct {
		name   string
		faults func(f *fixture)
		lost   []int64 // indexes of the failing log not emitted
		log    func(f *fixture) *ctlogtest.Log
		inErr  string
	}{
		{
			"corrupted tile",
			func(f *fixture) { f.static.SetFaults(ctlogtest.Faults{CorruptTile: 0}) },
			[]int64{3, 7, 200, 300}, func(f *fixture) *ctlogtest.Log { return f.static }, "[3, 301)",
		},
		{
			"tampered page",
			func(f *fixture) {
				f.rfc.SetFaults(ctlogtest.Faults{CorruptTile: -1, Tamper: ctlogtest.TamperLeaf, TamperAt: 600})
			},
			[]int64{600, 601}, func(f *fixture) *ctlogtest.Log { return f.rfc }, "[600, 602)",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := repairFixture(t)
			tc.faults(f)
			keys := repairKeys(f)
			url := f.url(tc.log(f))
			var lost []seal.Key
			for _, i := range tc.lost {
				lost = append(lost, seal.Key{Log: url, Index: i})
			}
			r, _ := newRepairer(f.list)
			var got emitted
			from := time.Now()
			err := r.Repair(t.Context(), keys, got.emit)
			if !errors.Is(err, ctlog.ErrVerification) || !strings.Contains(err.Error(), url+" "+tc.inErr) {
				t.Errorf("repair: %v; want a verification failure of %s %s", err, url, tc.inErr)
			}
			got.check(t, f, fetchable(f, keys, lost...), from, time.Now())
		})
	}
}

// An error from emit stops Repair at once and is returned; so does a
// cancelled context, whether it is cancelled between two emits or while a
// log is slow to answer.
func TestRepairStops(t *testing.T) {
	errFull := errors.New("sorter full")
	const slow = time.Minute
	cases := []struct {
		name    string
		delay   time.Duration
		stopAt  int // emit call that stops: returns errFull or cancels ctx (0: none)
		cancel  bool
		want    error
		emitted int
	}{
		{"emit error", 0, 2, false, errFull, 2},
		{"cancelled in emit", 0, 1, true, context.Canceled, 1},
		{"cancelled while a log is slow", slow, 0, true, context.Canceled, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := repairFixture(t)
			faults := ctlogtest.Faults{CorruptTile: -1, Delay: tc.delay}
			f.rfc.SetFaults(faults)
			f.static.SetFaults(faults)
			keys := repairKeys(f)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tc.delay > 0 {
				time.AfterFunc(50*time.Millisecond, cancel)
			}
			calls := 0
			emit := func(seal.Key, *stream.Update) error {
				if calls++; calls != tc.stopAt {
					return nil
				}
				if tc.cancel {
					cancel()
					return nil
				}
				return errFull
			}
			r, _ := newRepairer(f.list)
			start := time.Now()
			err := r.Repair(ctx, keys, emit)
			if !errors.Is(err, tc.want) || calls != tc.emitted {
				t.Errorf("repair: %v after %d emits; want %v after %d", err, calls, tc.want, tc.emitted)
			}
			if took := time.Since(start); took >= slow {
				t.Errorf("repair took %v: it waited for the slow log", took)
			}
			// The unknown log sorts last ("http:" < "https"); the known log
			// before it comes after the one whose emits stopped the repair.
			if last := f.log(keys[len(keys)-2].Log); tc.delay == 0 {
				if n, _ := last.Requests(); n != 0 {
					t.Errorf("the log after the stop was asked %d requests, want none", n)
				}
			}
		})
	}
}
