package backfill_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/archive/archivetest"
	"github.com/certstream-arrow/certstream-arrow/coverage"
	"github.com/certstream-arrow/certstream-arrow/ctlog"
	"github.com/certstream-arrow/certstream-arrow/ctlog/ctlogtest"
	"github.com/certstream-arrow/certstream-arrow/ctrow"
	"github.com/certstream-arrow/certstream-arrow/schema"
	"github.com/certstream-arrow/certstream-arrow/stream"
)

// fixture is two fake logs, one RFC 6962 and one static-CT, serving the same
// entries (the 40 real ones of the parser snapshot, then generated ones), a
// list naming both, and the source_url each is stored under in the dataset
// (the static-CT one under its submission URL, as some feeds send it).
type fixture struct {
	entries []ctlogtest.Entry
	rfc     *ctlogtest.Log
	static  *ctlogtest.Log
	list    *ctlog.List
	listRaw []byte
}

func newFixture(tb testing.TB, generated int) *fixture {
	tb.Helper()
	_, real := ctlogtest.LoadSnapshot(tb)
	return newFixtureOf(tb, append(real, ctlogtest.Generate(tb, generated)...))
}

// newFixtureOf serves entries (generated ones have timestamps base+i ms).
func newFixtureOf(tb testing.TB, entries []ctlogtest.Entry) *fixture {
	tb.Helper()
	f := &fixture{entries: entries, rfc: ctlogtest.NewRFC6962(tb, entries), static: ctlogtest.NewStatic(tb, entries)}
	f.listRaw = ctlogtest.ListJSON(f.rfc.Info, f.static.Info)
	var err error
	if f.list, err = ctlog.ParseList(f.listRaw); err != nil {
		tb.Fatal(err)
	}
	return f
}

// url is the source_url the dataset stores lg's rows under.
func (f *fixture) url(lg *ctlogtest.Log) string {
	if lg.Info.Tiled {
		return lg.Info.SubmissionURL
	}
	return lg.Info.URL
}

func (f *fixture) info(lg *ctlogtest.Log) ctrow.LogInfo {
	link := ctrow.GetEntriesLink
	if lg.Info.Tiled {
		link = ctrow.TileLink
	}
	return ctrow.LogInfo{URL: f.url(lg), Name: lg.Info.Description, Link: link}
}

// update is the row ctrow makes of entry i of lg, as the feed or a backfill
// would archive it.
func (f *fixture) update(tb testing.TB, lg *ctlogtest.Log, i int64, prov stream.Provenance) *stream.Update {
	tb.Helper()
	e := f.entries[i]
	var re ctrow.Entry
	var err error
	if e.LeafInput != nil {
		re, err = ctrow.FromRFC6962(i, e.LeafInput, e.ExtraData)
		if err != nil {
			tb.Fatal(err)
		}
	} else {
		re = ctrow.Entry{Index: i, Timestamp: uint64(e.Timestamp), Type: ctrow.X509, Cert: e.Cert, Chain: e.Chain}
		if e.Precert {
			re.Type = ctrow.Precert
		}
	}
	u, err := ctrow.Update(re, f.info(lg))
	if err != nil {
		tb.Fatal(err)
	}
	u.Provenance = prov
	u.ReceivedAt = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	return u
}

// stream writes the rows a lossy feed delivered of lg: every index of held,
// with provenance stream, through the archive under collector "stream".
func (f *fixture) stream(tb testing.TB, root string, lg *ctlogtest.Log, held ...coverage.Range) {
	tb.Helper()
	ds, err := archive.Open(archive.Options{Root: root, Schema: schema.New("test"), Collector: "stream-" + kind(lg), BatchRows: 100})
	if err != nil {
		tb.Fatal(err)
	}
	for _, r := range held {
		for i := r.Start; i < r.End; i++ {
			ds.Append(f.update(tb, lg, i, stream.FromStream))
		}
	}
	if err := ds.Close(); err != nil {
		tb.Fatal(err)
	}
}

func kind(lg *ctlogtest.Log) string {
	if lg.Info.Tiled {
		return "static"
	}
	return "rfc"
}

// expected is the row of one update, as read back from a file.
func expected(tb testing.TB, u *stream.Update) archivetest.Row {
	tb.Helper()
	b := schema.NewBuilder(memory.DefaultAllocator, schema.New("test"))
	defer b.Release()
	b.Append(u)
	rec := b.NewRecordBatch()
	defer rec.Release()
	return archivetest.Rows(rec)[0]
}

// openBackfill opens root as the backfill collector.
func openBackfill(tb testing.TB, root, collector string) *archive.Dataset {
	tb.Helper()
	ds, err := archive.Open(archive.Options{
		Root: root, Schema: schema.New("test"), Collector: collector, BatchRows: 1000,
		FlushInterval: time.Second, PartitionBy: archive.ByEntry,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return ds
}

// byLog reads the dataset back: per source_url, per cert_index, the rows.
func byLog(tb testing.TB, root string) map[string]map[int64][]archivetest.Row {
	tb.Helper()
	out := map[string]map[int64][]archivetest.Row{}
	for _, r := range archivetest.AllRows(archivetest.ReadDataset(tb, root)) {
		url, _ := r["source_url"].(string)
		idx, ok := r["cert_index"].(int64)
		if !ok {
			tb.Fatalf("row without cert_index: %v", r)
		}
		if out[url] == nil {
			out[url] = map[int64][]archivetest.Row{}
		}
		out[url][idx] = append(out[url][idx], r)
	}
	return out
}

func rng(a, b int64) coverage.Range { return coverage.Range{Start: a, End: b} }

func holesString(p []coverage.Range) string { return fmt.Sprint(p) }

// streamAs writes rows for indexes of held under any source_url, with the
// RFC 6962 log's certificates.
func (f *fixture) streamAs(tb testing.TB, root, url string, held ...coverage.Range) {
	tb.Helper()
	ds, err := archive.Open(archive.Options{Root: root, Schema: schema.New("test"), Collector: "stream-other", BatchRows: 100})
	if err != nil {
		tb.Fatal(err)
	}
	for _, r := range held {
		for i := r.Start; i < r.End; i++ {
			u := f.update(tb, f.rfc, i, stream.FromStream)
			u.SourceURL = []byte(url)
			ds.Append(u)
		}
	}
	if err := ds.Close(); err != nil {
		tb.Fatal(err)
	}
}
