package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kong"

	"github.com/certstream-arrow/certstream-arrow/archive/archivetest"
	"github.com/certstream-arrow/certstream-arrow/coverage"
	"github.com/certstream-arrow/certstream-arrow/ctlog/ctlogtest"
	"github.com/certstream-arrow/certstream-arrow/stream/streamtest"
)

// autoFixture is an RFC 6962 and a static-CT fake log serving the same
// entries, timestamped in the last hour, a log list file naming both, and a
// lossy CertStream server that sends the messages of both logs' entries
// except those lost.
type autoFixture struct {
	rfc, static *ctlogtest.Log
	size        int64
	list, root  string
	lost        map[*ctlogtest.Log]func(int64) bool
	delivered   int64
	srv         *streamtest.Server
	replay      *streamtest.Replay
}

func newAutoFixture(t *testing.T, generated int) *autoFixture {
	t.Helper()
	snaps, real := ctlogtest.LoadSnapshot(t)
	entries := append(real, ctlogtest.Generate(t, generated)...)
	base := time.Now().Add(-time.Hour).UnixMilli()
	for i := range entries {
		// Rebuilt by the fakes with a recent timestamp: the background
		// backfill looks at the last --backfill-lookback only.
		entries[i].LeafInput, entries[i].ExtraData = nil, nil
		entries[i].Timestamp = base + int64(i)*100
	}
	f := &autoFixture{rfc: ctlogtest.NewRFC6962(t, entries), static: ctlogtest.NewStatic(t, entries), size: int64(len(entries))}
	f.list = filepath.Join(t.TempDir(), "log_list.json")
	if err := os.WriteFile(f.list, ctlogtest.ListJSON(f.rfc.Info, f.static.Info), 0o644); err != nil {
		t.Fatal(err)
	}
	f.root = filepath.Join(t.TempDir(), "data")
	f.lost = map[*ctlogtest.Log]func(int64) bool{
		f.rfc:    func(i int64) bool { return i%7 == 5 || i >= f.size-30 },      // and the head, past the feed
		f.static: func(i int64) bool { return i%5 == 1 || i >= 200 && i < 260 }, // and a long outage
	}
	var msgs [][]byte
	for i := range f.size {
		for _, lg := range []*ctlogtest.Log{f.rfc, f.static} {
			if !f.lost[lg](i) {
				msgs = append(msgs, certstreamMessage(t, snaps[i%int64(len(snaps))], lg, i))
				f.delivered++
			}
		}
	}
	f.replay = streamtest.NewReplay(streamtest.Text(msgs...))
	f.srv = streamtest.NewServer(t, f.replay.Session)
	return f
}

// certstreamMessage is the full message a Rust server sent for a recorded
// entry, re-addressed to index i of lg.
func certstreamMessage(t *testing.T, snap ctlogtest.Snapshot, lg *ctlogtest.Log, i int64) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(ctlogtest.SharedDir(t, "certstream"), "reloading01-rust-parser-snapshot-live_ct.json"))
	if err != nil {
		t.Fatal(err)
	}
	var recs []struct {
		Name string `json:"name"`
		Full string `json:"expected_full"`
	}
	if err := json.Unmarshal(raw, &recs); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Name != snap.Name {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(r.Full), &m); err != nil {
			t.Fatal(err)
		}
		data := m["data"].(map[string]any)
		data["cert_index"] = i
		data["seen"] = float64(time.Now().UnixMilli()) / 1000
		data["source"] = map[string]any{"url": lg.Info.URL, "name": lg.Info.Description}
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	t.Fatalf("no recorded message named %s", snap.Name)
	return nil
}

// cmd is a RunCmd archiving the fixture's feed with --backfill every 100ms.
func (f *autoFixture) cmd() *RunCmd {
	r := testRunCmd(f.srv.URL, f.root)
	r.PartitionBy, r.RotateAge, r.Collector, r.MetricsAddr = "received", 100*time.Millisecond, "live", "127.0.0.1:0"
	r.backfillFlags = backfillFlags{
		Backfill: true, LogList: f.list, BackfillInterval: 100 * time.Millisecond, BackfillGrace: time.Second,
		BackfillLookback: 24 * time.Hour, BackfillRequestsPerSecond: 1e4, BackfillMaxInFlight: 4,
		BackfillMaxRetries: 2, BackfillPageSize: 64,
	}
	return r
}

// holdUntilStreamed holds the first cycle until every delivered message is
// published, as --backfill-grace does for a live feed whose entries are
// young: the fixture's entries are an hour old however late they stream.
func (f *autoFixture) holdUntilStreamed(ctx context.Context) {
	select {
	case <-f.replay.Synced():
	case <-ctx.Done():
		return
	}
	for ctx.Err() == nil {
		if cov, _, err := coverage.Scan(f.root); err == nil && cov.Rows >= f.delivered {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// start runs r until the test ends or the returned stop is called; cycles
// receives each cycle; the metrics URL is returned.
func (f *autoFixture) start(t *testing.T, r *RunCmd) (cycles <-chan backfillCycle, metricsURL string, stop func() error) {
	t.Helper()
	ch := make(chan backfillCycle, 1000)
	addr := make(chan string, 1)
	r.metricsBound = func(a string) { addr <- a }
	first := true
	r.before = func(ctx context.Context) {
		if first {
			first = false
			f.holdUntilStreamed(ctx)
		}
	}
	r.cycled = func(c backfillCycle) { ch <- c }
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, newLogger(t.Output(), "info", "text")) }()
	t.Cleanup(cancel)
	select {
	case a := <-addr:
		metricsURL = "http://" + a + "/metrics"
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	return ch, metricsURL, func() error { cancel(); return <-done }
}

// waitCycle returns the first cycle for which ok holds.
func waitCycle(t *testing.T, cycles <-chan backfillCycle, ok func(backfillCycle) bool) backfillCycle {
	t.Helper()
	deadline := time.After(2 * time.Minute) // a hang, not a speed requirement
	for {
		select {
		case c := <-cycles:
			if ok(c) {
				return c
			}
		case <-deadline:
			t.Fatal("no such backfill cycle")
		}
	}
}

func logMetric(name string, lg *ctlogtest.Log) string {
	return fmt.Sprintf("certstream_arrow_%s{log=%q}", name, lg.Info.URL)
}

// checkArchive asserts that the dataset holds each index of lg in [0,
// size) exactly once, with provenance stream if the feed delivered it and
// backfill if not.
func (f *autoFixture) checkArchive(t *testing.T, lg *ctlogtest.Log, wantBackfill bool) {
	t.Helper()
	got := map[int64][]string{}
	for _, r := range archivetest.AllRows(archivetest.ReadDataset(t, f.root)) {
		if r["source_url"] == lg.Info.URL {
			got[r["cert_index"].(int64)] = append(got[r["cert_index"].(int64)], r["provenance"].(string))
		}
	}
	for i := range f.size {
		want := []string{"stream"}
		switch {
		case f.lost[lg](i) && wantBackfill:
			want = []string{"backfill"}
		case f.lost[lg](i):
			want = nil
		}
		if fmt.Sprint(got[i]) != fmt.Sprint(want) {
			t.Fatalf("%s index %d: provenance %v, want %v", lg.Info.URL, i, got[i], want)
		}
	}
	for i := range got {
		if i < 0 || i >= f.size {
			t.Fatalf("%s: index %d beyond the log", lg.Info.URL, i)
		}
	}
}

func (f *autoFixture) lostCount(lg *ctlogtest.Log) int64 {
	var n int64
	for i := range f.size {
		if f.lost[lg](i) {
			n++
		}
	}
	return n
}

// run --backfill against a lossy feed: the background backfill fills both
// logs' holes (and the head the feed never sent) from the logs, each index
// exactly once, and /metrics says so; stopping publishes everything.
func TestRunBackfill(t *testing.T) {
	f := newAutoFixture(t, 360)
	cycles, metricsURL, stop := f.start(t, f.cmd())
	want := f.lostCount(f.rfc) + f.lostCount(f.static)
	var done int64
	waitCycle(t, cycles, func(c backfillCycle) bool {
		if c.Err != nil {
			t.Errorf("cycle %d: %v", c.N, c.Err)
		}
		for _, l := range c.Logs {
			done += l.Rows
		}
		return done >= want
	})
	// The next cycle finds nothing to do.
	waitCycle(t, cycles, func(c backfillCycle) bool {
		for i, p := range c.Plans {
			if p.Missing != 0 || c.Logs[i].Rows != 0 {
				t.Fatalf("cycle %d after the fill: %s missing %d, wrote %d", c.N, p.SourceURL, p.Missing, c.Logs[i].Rows)
			}
		}
		return true
	})
	m := scrape(t, metricsURL)
	for _, lg := range []*ctlogtest.Log{f.rfc, f.static} {
		for name, want := range map[string]float64{
			"log_holes": 0, "log_entries_held": float64(f.size), "log_entries_backfilled_total": float64(f.lostCount(lg)), "log_fetch_errors_total": 0,
		} {
			if got, ok := m[logMetric(name, lg)]; !ok || got != want {
				t.Errorf("%s = %v (shown %v), want %v", logMetric(name, lg), got, ok, want)
			}
		}
	}
	if m["certstream_arrow_backfill_cycles_total"] < 2 || m["certstream_arrow_backfill_last_cycle_timestamp_seconds"] <= 0 {
		t.Errorf("cycles %v, last at %v", m["certstream_arrow_backfill_cycles_total"], m["certstream_arrow_backfill_last_cycle_timestamp_seconds"])
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	f.checkArchive(t, f.rfc, true)
	f.checkArchive(t, f.static, true)
	f.checkInspect(t)
}

// checkInspect asserts that inspect shows both logs whole: every index of
// the log, no hole, no duplicate.
func (f *autoFixture) checkInspect(t *testing.T) {
	t.Helper()
	var out bytes.Buffer
	if err := (&InspectCmd{Dir: f.root, JSON: true, out: &out}).Run(); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Logs []coverage.LogSummary `json:"logs"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Logs) != 2 {
		t.Fatalf("inspect shows %d logs, want 2", len(rep.Logs))
	}
	for _, l := range rep.Logs {
		if l.Holes != 0 || l.Missing != 0 || l.Duplicates != 0 || l.Distinct != f.size || l.MinIndex != 0 {
			t.Errorf("inspect: %+v, want [0, %d) whole", l, f.size)
		}
	}
}

// A log that answers 503: its fetch errors are counted on /metrics, the
// other log is filled, and the live stream archives every row it got.
func TestRunBackfillLogUnavailable(t *testing.T) {
	f := newAutoFixture(t, 160)
	f.rfc.SetFaults(ctlogtest.Faults{Unavailable: 1 << 30, CorruptTile: -1})
	r := f.cmd()
	r.BackfillMaxRetries = 1
	cycles, metricsURL, stop := f.start(t, r)
	waitCycle(t, cycles, func(c backfillCycle) bool {
		var failed, filled bool
		for i, p := range c.Plans {
			failed = failed || p.SourceURL == f.rfc.Info.URL && c.Logs[i].Err != nil
			filled = filled || p.SourceURL == f.static.Info.URL && c.Logs[i].Rows == f.lostCount(f.static)
		}
		return failed && filled
	})
	m := scrape(t, metricsURL)
	if got := m[logMetric("log_fetch_errors_total", f.rfc)]; got < 1 {
		t.Errorf("%s = %v, want at least 1", logMetric("log_fetch_errors_total", f.rfc), got)
	}
	if got := m[logMetric("log_fetch_errors_total", f.static)]; got != 0 {
		t.Errorf("%s = %v, want 0", logMetric("log_fetch_errors_total", f.static), got)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	f.checkArchive(t, f.rfc, false)
	f.checkArchive(t, f.static, true)
}

// The --backfill flags are checked only with --backfill, against the
// archiver's publish delay and each other.
func TestRunBackfillValidate(t *testing.T) {
	list := filepath.Join(t.TempDir(), "log_list.json")
	if err := os.WriteFile(list, []byte(`{"operators":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		set  func(r *RunCmd)
		want string // "" for accepted
	}{
		{"defaults", func(r *RunCmd) {}, ""},
		{"off: not checked", func(r *RunCmd) { r.Backfill, r.BackfillGrace = false, 0 }, ""},
		{"grace within the publish delay", func(r *RunCmd) { r.BackfillGrace = r.RotateAge + r.FlushInterval }, "--backfill-grace"},
		{"grace with rotate-age 0", func(r *RunCmd) { r.RotateAge = 0 }, "--backfill-grace"},
		{"grace above an hour with rotate-age 0", func(r *RunCmd) { r.RotateAge, r.BackfillGrace = 0, 61*time.Minute }, ""},
		{"lookback within grace", func(r *RunCmd) { r.BackfillLookback = r.BackfillGrace }, "--backfill-lookback"},
		{"interval", func(r *RunCmd) { r.BackfillInterval = time.Millisecond }, "--backfill-interval"},
		{"rate", func(r *RunCmd) { r.BackfillRequestsPerSecond = 0 }, "--backfill-requests-per-second"},
		{"in flight", func(r *RunCmd) { r.BackfillMaxInFlight = 0 }, "--backfill-max-in-flight"},
		{"retries", func(r *RunCmd) { r.BackfillMaxRetries = 0 }, "--backfill-max-retries"},
		{"page", func(r *RunCmd) { r.BackfillPageSize = 0 }, "--backfill-page-size"},
		{"missing list file", func(r *RunCmd) { r.LogList = list + ".missing" }, "--log-list"},
		{"list URL not fetched", func(r *RunCmd) { r.LogList = "https://ct.example/log_list.json" }, ""},
		{"collector too long for -backfill", func(r *RunCmd) { r.Collector = "abcdefghijklmnopqrstuvwxyz012345" }, "collector"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testRunCmd("ws://127.0.0.1:1/", t.TempDir())
			r.RotateAge = 5 * time.Minute
			r.FlushInterval = 10 * time.Second
			r.backfillFlags = backfillFlags{Backfill: true, LogList: list, BackfillInterval: 10 * time.Minute,
				BackfillGrace: 15 * time.Minute, BackfillLookback: 24 * time.Hour,
				BackfillRequestsPerSecond: 4, BackfillMaxInFlight: 2, BackfillMaxRetries: 8, BackfillPageSize: 256}
			tt.set(r)
			err := r.Validate()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

// run's --log-list and rate limits default to the backfill command's.
func TestRunBackfillDefaultsMatchBackfill(t *testing.T) {
	var cli CLI
	parser, err := kong.New(&cli, cli.options()...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parser.Parse([]string{"run"}); err != nil {
		t.Fatal(err)
	}
	run := cli.Run
	if _, err := parser.Parse([]string{"backfill", t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	bf := cli.Backfill
	got := fmt.Sprint(run.LogList, run.BackfillRequestsPerSecond, run.BackfillMaxInFlight, run.BackfillMaxRetries, run.BackfillPageSize)
	want := fmt.Sprint(bf.LogList, bf.RequestsPerSecond, bf.MaxInFlight, bf.MaxRetries, bf.PageSize)
	if got != want || run.Backfill {
		t.Fatalf("run --backfill defaults %s (on: %v), backfill's %s", got, run.Backfill, want)
	}
	if run.BackfillGrace <= run.publishDelay() {
		t.Fatalf("default --backfill-grace %s within the default publish delay %s", run.BackfillGrace, run.publishDelay())
	}
}

// A stop in the middle of a cycle against slow logs: Run returns, the rows
// the cycle had written are published (no temporary file of it remains),
// and no index is held twice.
func TestRunBackfillStopMidCycle(t *testing.T) {
	f := newAutoFixture(t, 360)
	for _, lg := range []*ctlogtest.Log{f.rfc, f.static} {
		lg.SetFaults(ctlogtest.Faults{Delay: 20 * time.Millisecond, CorruptTile: -1})
	}
	r := f.cmd()
	r.BufferSize, r.BackfillPageSize, r.BackfillMaxInFlight = 8, 8, 1
	_, _, stop := f.start(t, r)
	tmp := filepath.Join(f.root, "*", ".*-live-backfill-*.tmp")
	deadline := time.Now().Add(2 * time.Minute) // a hang, not a speed requirement
	for {
		if m, _ := filepath.Glob(tmp); len(m) > 0 {
			if fi, err := os.Stat(m[0]); err == nil && fi.Size() > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the cycle wrote nothing")
		}
		time.Sleep(5 * time.Millisecond)
	}
	began := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("stopped %s after the cancel", time.Since(began))
	if m, _ := filepath.Glob(tmp); len(m) > 0 {
		t.Fatalf("temporary files left: %v", m)
	}
	var backfilled int
	for _, lg := range []*ctlogtest.Log{f.rfc, f.static} {
		got := map[int64]int{}
		for _, row := range archivetest.AllRows(archivetest.ReadDataset(t, f.root)) {
			if row["source_url"] != lg.Info.URL {
				continue
			}
			i := row["cert_index"].(int64)
			if got[i]++; got[i] > 1 {
				t.Fatalf("%s index %d held twice", lg.Info.URL, i)
			}
			if row["provenance"] == "backfill" {
				backfilled++
			}
		}
	}
	if backfilled == 0 {
		t.Fatal("nothing the cycle wrote was published")
	}
	t.Logf("%d backfilled rows published", backfilled)
}
