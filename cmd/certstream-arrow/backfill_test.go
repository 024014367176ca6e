package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/archive/archivetest"
	"github.com/certstream-arrow/certstream-arrow/ctlog"
	"github.com/certstream-arrow/certstream-arrow/ctlog/ctlogtest"
	"github.com/certstream-arrow/certstream-arrow/ctrow"
	"github.com/certstream-arrow/certstream-arrow/schema"
	"github.com/certstream-arrow/certstream-arrow/stream"
	"github.com/certstream-arrow/certstream-arrow/stream/streamtest"
)

// backfillFixture is an RFC 6962 and a static-CT fake log serving the same
// entries, a log list file naming both, and a dataset root.
type backfillFixture struct {
	entries     []ctlogtest.Entry
	rfc, static *ctlogtest.Log
	list, root  string
}

func newBackfillFixture(t *testing.T, generated int) *backfillFixture {
	t.Helper()
	_, real := ctlogtest.LoadSnapshot(t)
	entries := append(real, ctlogtest.Generate(t, generated)...)
	f := &backfillFixture{entries: entries, rfc: ctlogtest.NewRFC6962(t, entries), static: ctlogtest.NewStatic(t, entries)}
	f.list = filepath.Join(t.TempDir(), "log_list.json")
	if err := os.WriteFile(f.list, ctlogtest.ListJSON(f.rfc.Info, f.static.Info), 0o644); err != nil {
		t.Fatal(err)
	}
	f.root = filepath.Join(t.TempDir(), "data")
	return f
}

// stream archives, as a lossy feed would have, the indexes [from, to) of lg
// except those in skip, under collector "stream".
func (f *backfillFixture) stream(t *testing.T, lg *ctlogtest.Log, from, to int64, skip func(int64) bool) {
	t.Helper()
	ds, err := archive.Open(archive.Options{Root: f.root, Schema: schema.New("test"), Collector: "stream", BatchRows: 500})
	if err != nil {
		t.Fatal(err)
	}
	for i := from; i < to; i++ {
		if skip == nil || !skip(i) {
			u := f.update(t, lg, i)
			u.Provenance = stream.FromStream
			u.ReceivedAt = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
			ds.Append(u)
		}
	}
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
}

// update is ctrow's row of entry i of lg.
func (f *backfillFixture) update(t *testing.T, lg *ctlogtest.Log, i int64) *stream.Update {
	t.Helper()
	e := f.entries[i]
	re := ctrow.Entry{Index: i, Timestamp: uint64(e.Timestamp), Type: ctrow.X509, Cert: e.Cert, Chain: e.Chain}
	if e.Precert {
		re.Type = ctrow.Precert
	}
	if re.Chain == nil {
		re.Chain = [][]byte{}
	}
	info := ctrow.LogInfo{URL: lg.Info.URL, Name: lg.Info.Description, Link: ctrow.GetEntriesLink}
	if lg.Info.Tiled {
		info.Link = ctrow.TileLink
	}
	u, err := ctrow.Update(re, info)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (f *backfillFixture) cmd(out *bytes.Buffer, args ...string) *BackfillCmd {
	no := false
	c := &BackfillCmd{
		Dir: f.root, LogList: f.list, Grace: 0, Collector: "backfill-test",
		RequestsPerSecond: 1e4, MaxInFlight: 4, MaxRetries: 8, PageSize: 64, BufferSize: 200,
		FlushInterval: 100 * time.Millisecond, RotateRows: 500000, RotateAge: time.Minute, Fsync: "batch",
		ProgressInterval: time.Hour, out: out, terminal: &no,
	}
	return c
}

func (f *backfillFixture) run(t *testing.T, c *BackfillCmd) (string, error) {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	var log streamtest.LogBuffer
	err := c.Run(t.Context(), newLogger(&log, "debug", "json"))
	t.Logf("log:\n%s", log.String())
	return c.out.(*bytes.Buffer).String(), err
}

// checkOnce asserts that the dataset holds each index of [from, to) of lg
// exactly once, a backfilled one equal to ctrow's row of the log's entry.
func (f *backfillFixture) checkOnce(t *testing.T, lg *ctlogtest.Log, from, to int64) {
	t.Helper()
	got := map[int64]int{}
	for _, r := range archivetest.AllRows(archivetest.ReadDataset(t, f.root)) {
		if r["source_url"] != lg.Info.URL {
			continue
		}
		i := r["cert_index"].(int64)
		got[i]++
		if r["provenance"] == "backfill" {
			u := f.update(t, lg, i)
			u.Provenance = stream.FromBackfill
			archivetest.SameRows(t, []archivetest.Row{r}, []archivetest.Row{rowOf(u)}, "received_at")
		}
	}
	for i := from; i < to; i++ {
		if got[i] != 1 {
			t.Fatalf("%s index %d: %d rows, want 1", lg.Info.URL, i, got[i])
		}
	}
	if len(got) != int(to-from) {
		t.Fatalf("%s: %d indexes held, want %d", lg.Info.URL, len(got), to-from)
	}
}

func rowOf(u *stream.Update) archivetest.Row {
	b := schema.NewBuilder(memory.DefaultAllocator, schema.New("test"))
	defer b.Release()
	b.Append(u)
	rec := b.NewRecordBatch()
	defer rec.Release()
	return archivetest.Rows(rec)[0]
}

// every7th loses one entry in seven, and a run at the end.
func every7th(i int64) bool { return i%7 == 5 }

// The command: a dry run prints the plan and writes nothing; a run makes
// both logs whole and says so; a second run fetches nothing.
func TestBackfillCommand(t *testing.T) {
	f := newBackfillFixture(t, 600)
	f.stream(t, f.rfc, 10, 600, every7th)
	f.stream(t, f.static, 0, 300, every7th)
	before := listTree(t, f.root)

	var out bytes.Buffer
	c := f.cmd(&out)
	c.DryRun = true
	plan, err := f.run(t, c)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{f.rfc.Info.URL, f.static.Info.URL, "hole [12, 13)", "hole [600, 640)", "[10, 640)", "entries to fetch"} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan lacks %q:\n%s", want, plan)
		}
	}
	if after := listTree(t, f.root); after != before {
		t.Fatalf("dry run changed the dataset:\nbefore %s\nafter  %s", before, after)
	}
	t.Logf("dry run:\n%s", plan)

	out.Reset()
	sum, err := f.run(t, f.cmd(&out))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("summary:\n%s", sum)
	f.checkOnce(t, f.rfc, 10, 640)
	f.checkOnce(t, f.static, 0, 640)

	out.Reset()
	sum, err = f.run(t, f.cmd(&out))
	if err != nil || !strings.Contains(sum, "total        0") && !regexpTotalZero(sum) {
		t.Fatalf("rerun: %v\n%s", err, sum)
	}
	f.checkOnce(t, f.rfc, 10, 640)
}

func regexpTotalZero(s string) bool {
	for _, l := range strings.Split(s, "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[0] == "total" {
			return f[1] == "0" && f[2] == "0"
		}
	}
	return false
}

// listTree lists every file under root with its size, lock and temporary
// files included.
func listTree(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s:%d ", strings.TrimPrefix(p, root), fi.Size())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// A second backfill with the same collector on the same root is refused
// while the first holds the lock; one with another collector runs beside it.
func TestBackfillSecondRefused(t *testing.T) {
	f := newBackfillFixture(t, 100)
	f.stream(t, f.rfc, 0, 140, every7th)
	held, err := archive.Open(archive.Options{Root: f.root, Schema: schema.New("test"), Collector: "backfill-test", BatchRows: 10})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := f.run(t, f.cmd(&out)); !errors.Is(err, archive.ErrCollectorRunning) {
		t.Fatalf("second backfill: %v, want refused", err)
	}
	c := f.cmd(&out)
	c.Collector = "backfill-other"
	if _, err := f.run(t, c); err != nil {
		t.Fatal(err)
	}
	if err := held.Close(); err != nil {
		t.Fatal(err)
	}
	f.checkOnce(t, f.rfc, 0, 140)
}

// A static-CT tile that does not verify: nothing from it is published, the
// run says so and fails, what verified is kept; once the log serves the
// tile right, a rerun fetches only what is still missing.
func TestBackfillCorruptTile(t *testing.T) {
	f := newBackfillFixture(t, 600)
	f.stream(t, f.static, 0, 100, nil)
	f.stream(t, f.static, 639, 640, nil)
	f.static.SetFaults(ctlogtest.Faults{CorruptTile: 1})
	var out bytes.Buffer
	sum, err := f.run(t, f.cmd(&out))
	if !errors.Is(err, errVerification()) {
		t.Fatalf("err %v, want a verification failure\n%s", err, sum)
	}
	if !strings.Contains(sum, "verification") {
		t.Errorf("summary does not report the failure:\n%s", sum)
	}
	got := map[int64]bool{}
	for _, r := range archivetest.AllRows(archivetest.ReadDataset(t, f.root)) {
		got[r["cert_index"].(int64)] = true
	}
	for i := int64(0); i < 640; i++ {
		if want := i < 256; got[i] != want && i != 639 {
			t.Fatalf("index %d held %v, want %v (tile 1 refused, and the walk of its hole stops there)", i, got[i], want)
		}
	}
	f.static.SetFaults(ctlogtest.Faults{CorruptTile: -1})
	out.Reset()
	if sum, err = f.run(t, f.cmd(&out)); err != nil {
		t.Fatalf("rerun: %v\n%s", err, sum)
	}
	f.checkOnce(t, f.static, 0, 640)
}

func errVerification() error { return ctlog.ErrVerification }
