package ctlog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certstream-arrow/certstream-arrow/ctlog"
	"github.com/certstream-arrow/certstream-arrow/ctlog/ctlogtest"
)

// kinds are the two protocols every behaviour is checked against.
var kinds = []struct {
	name string
	new  func(testing.TB, []ctlogtest.Entry) *ctlogtest.Log
}{
	{"rfc6962", ctlogtest.NewRFC6962},
	{"static", ctlogtest.NewStatic},
}

// fastOptions keeps the production limits' shape with no real waiting.
func fastOptions() ctlog.Options {
	return ctlog.Options{RequestsPerSecond: 1e6, MaxInFlight: 2, MaxRetries: 3, MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond}
}

// fakeClock records the waits a client asks for and lets time jump.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	waits []time.Duration
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	c.t = c.t.Add(d)
	return ctx.Err()
}

func newClient(t testing.TB, lg *ctlogtest.Log, opts ctlog.Options) (*ctlog.Client, *fakeClock) {
	t.Helper()
	c := ctlog.NewClient(lg.Info, opts)
	clk := &fakeClock{t: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)}
	ctlog.SetClock(c, clk.now, clk.sleep)
	return c, clk
}

// readAll returns the entries of [start, end) of the log's current head.
func readAll(t testing.TB, c *ctlog.Client, start, end int64) ([]ctlog.Entry, error) {
	t.Helper()
	tree, err := c.Head(t.Context())
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	if end < 0 {
		end = tree.Size
	}
	var got []ctlog.Entry
	err = c.Entries(t.Context(), tree, start, end, func(e ctlog.Entry) error {
		got = append(got, e)
		return nil
	})
	return got, err
}

// checkEntries compares what a client handed back with what the log holds.
func checkEntries(t testing.TB, got []ctlog.Entry, want []ctlogtest.Entry, first int64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d", len(got), len(want))
	}
	for i, g := range got {
		w := want[i]
		wantType := ctlog.X509Entry
		if w.Precert {
			wantType = ctlog.PrecertEntry
		}
		switch {
		case g.Index != first+int64(i):
			t.Fatalf("entry %d has index %d", first+int64(i), g.Index)
		case g.Timestamp != w.Timestamp || g.Type != wantType:
			t.Fatalf("entry %d: timestamp %d type %v, want %d %v", g.Index, g.Timestamp, g.Type, w.Timestamp, wantType)
		case !bytes.Equal(g.LeafDER, w.Cert):
			t.Fatalf("entry %d: LeafDER differs", g.Index)
		case !bytes.Equal(g.TBS, w.TBS) || g.IssuerKeyHash != w.IssuerKeyHash:
			t.Fatalf("entry %d: precert TBS or issuer key hash differs", g.Index)
		case len(g.LeafInput) == 0:
			t.Fatalf("entry %d: no LeafInput", g.Index)
		}
		if len(g.Chain) != len(w.Chain) {
			t.Fatalf("entry %d: chain of %d, want %d", g.Index, len(g.Chain), len(w.Chain))
		}
		for j := range g.Chain {
			if !bytes.Equal(g.Chain[j], w.Chain[j]) {
				t.Fatalf("entry %d: chain[%d] differs", g.Index, j)
			}
		}
	}
}

// Real entries come back byte for byte from both kinds of log; the RFC
// 6962 log hands back the recorded leaf_input and extra_data themselves.
func TestEntriesRealCertificates(t *testing.T) {
	snaps, entries := ctlogtest.LoadSnapshot(t)
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			lg := k.new(t, entries)
			c, _ := newClient(t, lg, fastOptions())
			got, err := readAll(t, c, 0, -1)
			if err != nil {
				t.Fatal(err)
			}
			checkEntries(t, got, entries, 0)
			if k.name != "rfc6962" {
				return
			}
			for i, g := range got {
				if !bytes.Equal(g.LeafInput, snaps[i].LeafInput) || !bytes.Equal(g.ExtraData, snaps[i].ExtraData) {
					t.Fatalf("%s: leaf_input or extra_data differs from the recording", snaps[i].Name)
				}
			}
		})
	}
}

// Ranges that start and end anywhere, across pages and tiles, partial
// tiles included.
func TestEntriesRanges(t *testing.T) {
	entries := ctlogtest.Generate(t, 700)
	for _, k := range kinds {
		lg := k.new(t, entries)
		for _, r := range [][2]int64{{0, 700}, {0, 1}, {255, 257}, {256, 512}, {300, 300}, {511, 700}, {699, 700}} {
			t.Run(fmt.Sprintf("%s/%d-%d", k.name, r[0], r[1]), func(t *testing.T) {
				c, _ := newClient(t, lg, fastOptions())
				got, err := readAll(t, c, r[0], r[1])
				if err != nil {
					t.Fatal(err)
				}
				checkEntries(t, got, entries[r[0]:r[1]], r[0])
			})
		}
	}
}

func TestEntriesRefusesBadRanges(t *testing.T) {
	entries := ctlogtest.Generate(t, 10)
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			c, _ := newClient(t, k.new(t, entries), fastOptions())
			tree, err := c.Head(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range [][2]int64{{-1, 5}, {5, 4}, {0, 11}} {
				if err := c.Entries(t.Context(), tree, r[0], r[1], func(ctlog.Entry) error { return nil }); err == nil {
					t.Errorf("range %v accepted", r)
				}
			}
			// A tree from another log, or made by hand, is refused.
			other, _ := newClient(t, k.new(t, entries), fastOptions())
			if err := other.Entries(t.Context(), tree, 0, 1, func(ctlog.Entry) error { return nil }); !errors.Is(err, ctlog.ErrForeignTree) {
				t.Errorf("foreign tree: %v", err)
			}
			if err := c.Entries(t.Context(), ctlog.Tree{Size: 10}, 0, 1, func(ctlog.Entry) error { return nil }); !errors.Is(err, ctlog.ErrForeignTree) {
				t.Errorf("hand-made tree: %v", err)
			}
		})
	}
}

// An error from fn stops the walk and comes back as is.
func TestEntriesStopsOnCallbackError(t *testing.T) {
	stop := errors.New("stop")
	entries := ctlogtest.Generate(t, 600)
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			c, _ := newClient(t, k.new(t, entries), fastOptions())
			tree, err := c.Head(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			err = c.Entries(t.Context(), tree, 0, tree.Size, func(ctlog.Entry) error {
				if n++; n == 300 {
					return stop
				}
				return nil
			})
			if err != stop || n != 300 {
				t.Fatalf("err %v after %d entries", err, n)
			}
		})
	}
}

func TestHeadRefusesBadSignature(t *testing.T) {
	entries := ctlogtest.Generate(t, 10)
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			lg := k.new(t, entries)
			lg.SetFaults(ctlogtest.Faults{BadSignature: true, CorruptTile: -1})
			c, _ := newClient(t, lg, fastOptions())
			if _, err := c.Head(t.Context()); !errors.Is(err, ctlog.ErrVerification) {
				t.Fatalf("Head: %v, want ErrVerification", err)
			}
			if s := c.Stats(); s.VerifyFailures != 1 {
				t.Errorf("VerifyFailures = %d, want 1", s.VerifyFailures)
			}
			lg.SetFaults(ctlogtest.Faults{CorruptTile: -1})
			tree, err := c.Head(t.Context())
			if err != nil || tree.Size != 10 || tree.RootHash != lg.Root(10) {
				t.Fatalf("Head after repair: %+v, %v", tree, err)
			}
		})
	}
}

// A log that answers fewer entries than asked is asked again from where
// its answer stopped.
func TestRFC6962ShortPages(t *testing.T) {
	entries := ctlogtest.Generate(t, 100)
	for _, pageCap := range []int{1, 7, 32, 99, 1000} {
		t.Run(fmt.Sprint(pageCap), func(t *testing.T) {
			lg := ctlogtest.NewRFC6962(t, entries)
			lg.SetFaults(ctlogtest.Faults{PageCap: pageCap, CorruptTile: -1})
			opts := fastOptions()
			opts.PageSize = 64
			c, _ := newClient(t, lg, opts)
			got, err := readAll(t, c, 3, 100)
			if err != nil {
				t.Fatal(err)
			}
			checkEntries(t, got, entries[3:], 3)
			step := min(pageCap, 64)
			if n, want := lg.PathRequests("ct/v1/get-entries"), int64((97+step-1)/step); n != want {
				t.Errorf("%d get-entries requests, want %d", n, want)
			}
		})
	}
}

func TestRetries(t *testing.T) {
	entries := ctlogtest.Generate(t, 300)
	for _, k := range kinds {
		for _, tc := range []struct {
			name      string
			faults    ctlogtest.Faults
			wantWaits []time.Duration // exact waits; nil: jittered backoff
		}{
			{"429 Retry-After", ctlogtest.Faults{Throttle: 2, RetryAfter: "7"}, []time.Duration{7 * time.Second, 7 * time.Second}},
			{"503 Retry-After", ctlogtest.Faults{Unavailable: 1, RetryAfter: "3"}, []time.Duration{3 * time.Second}},
			{"429 capped Retry-After", ctlogtest.Faults{Throttle: 1, RetryAfter: "86400"}, []time.Duration{10 * time.Minute}},
			{"503 backoff", ctlogtest.Faults{Unavailable: 3}, nil},
		} {
			t.Run(k.name+"/"+tc.name, func(t *testing.T) {
				lg := k.new(t, entries)
				tc.faults.CorruptTile = -1
				lg.SetFaults(tc.faults)
				c, clk := newClient(t, lg, fastOptions())
				got, err := readAll(t, c, 0, -1)
				if err != nil {
					t.Fatal(err)
				}
				checkEntries(t, got, entries, 0)
				s := c.Stats()
				faults := int64(tc.faults.Throttle + tc.faults.Unavailable)
				if s.Throttled != faults || s.Retries != faults {
					t.Errorf("stats %+v, want %d throttled and retried", s, faults)
				}
				if tc.wantWaits != nil && fmt.Sprint(clk.waits) != fmt.Sprint(tc.wantWaits) {
					t.Errorf("waits %v, want %v", clk.waits, tc.wantWaits)
				}
				for i, w := range clk.waits {
					if tc.wantWaits == nil && (w < time.Millisecond<<i/2 || w > 4*time.Millisecond) {
						t.Errorf("backoff %d = %v, outside [%v, 4ms]", i, w, time.Millisecond<<i/2)
					}
				}
			})
		}
	}
}

// After MaxRetries the status comes back to the caller.
func TestRetriesGiveUp(t *testing.T) {
	lg := ctlogtest.NewStatic(t, ctlogtest.Generate(t, 5))
	lg.SetFaults(ctlogtest.Faults{Unavailable: 100, CorruptTile: -1})
	c, _ := newClient(t, lg, fastOptions())
	_, err := c.Head(t.Context())
	var se *ctlog.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusServiceUnavailable {
		t.Fatalf("Head: %v", err)
	}
	if total, _ := lg.Requests(); total != 4 {
		t.Errorf("%d requests, want 1 + 3 retries", total)
	}
}

// A log that never answers is left when the context ends.
func TestSlowLogHonoursContext(t *testing.T) {
	entries := ctlogtest.Generate(t, 5)
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			lg := k.new(t, entries)
			lg.SetFaults(ctlogtest.Faults{Delay: time.Hour, CorruptTile: -1})
			c, _ := newClient(t, lg, fastOptions())
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error)
			go func() { _, err := c.Head(ctx); done <- err }()
			for total, _ := lg.Requests(); total == 0; total, _ = lg.Requests() {
				time.Sleep(time.Millisecond)
			}
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Fatalf("Head: %v, want context.Canceled", err)
			}
		})
	}
}

// However many tiles are fetched ahead, no more than MaxInFlight requests
// reach the log at once.
func TestMaxInFlight(t *testing.T) {
	entries := ctlogtest.Generate(t, 256*6)
	for _, limit := range []int{1, 2, 3} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			lg := ctlogtest.NewStatic(t, entries)
			lg.SetFaults(ctlogtest.Faults{Delay: time.Millisecond, CorruptTile: -1})
			opts := fastOptions()
			opts.MaxInFlight = limit
			c, _ := newClient(t, lg, opts)
			if _, err := readAll(t, c, 0, -1); err != nil {
				t.Fatal(err)
			}
			if _, peak := lg.Requests(); peak > int64(limit) {
				t.Errorf("%d requests in flight, limit %d", peak, limit)
			}
		})
	}
}

// Answers beyond an endpoint's cap are refused without retrying, and
// without reading past the cap.
func TestResponseCap(t *testing.T) {
	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent.Add(1)
		_, _ = w.Write(bytes.Repeat([]byte(" "), 1<<20))
	}))
	t.Cleanup(srv.Close)
	info := *ctlogtest.NewRFC6962(t, nil).Info
	info.URL = srv.URL + "/"
	c := ctlog.NewClient(&info, fastOptions())
	if _, err := c.Head(t.Context()); !errors.Is(err, ctlog.ErrTooLarge) {
		t.Fatalf("Head: %v, want ErrTooLarge", err)
	}
	if n := sent.Load(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
	if s := c.Stats(); s.Bytes > 64<<10+1 {
		t.Errorf("read %d bytes of a 64 KiB-capped answer", s.Bytes)
	}
}
