package coverage_test

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/coverage"
	"github.com/certstream-arrow/certstream-arrow/schema"
	"github.com/certstream-arrow/certstream-arrow/stream"
)

var hour = time.Date(2026, 11, 24, 13, 0, 0, 0, time.UTC)

const (
	logA = "https://a.example/"
	logB = "https://b.example/"
)

// row is a certificate row of log url at index i, lite (digests, no DER)
// unless changed by the caller.
func row(url string, i int64) *stream.Update {
	der := fmt.Appendf(nil, "cert %s %d", url, i)
	s1, s2 := sha1.Sum(der), sha256.Sum256(der)
	return &stream.Update{Kind: stream.KindCertificate, ReceivedAt: hour, Seen: hour.Add(time.Duration(i%60) * time.Minute),
		SourceURL: []byte(url), SourceName: []byte("log " + url), CertIndex: i, HasCertIndex: true,
		UpdateType: []byte("X509LogEntry"), SHA1: s1[:], SHA256: s2[:]}
}

// planted returns the rows of a dataset with holes, duplicates, damaged
// rows and an invalid index in two logs; the numbers are in TestScan.
func planted() []*stream.Update {
	var rows []*stream.Update
	for i := int64(100); i < 200; i++ { // log A: holes 150..154 and 180
		if i >= 150 && i <= 154 || i == 180 {
			continue
		}
		u := row(logA, i)
		switch {
		case i >= 160 && i < 170: // certstream-server-go 1.9: digests of empty input, no DER
			u.SHA1, u.SHA256 = stream.EmptySHA1[:], stream.EmptySHA256[:]
		case i >= 170 && i < 173: // the same, once the decoder stores them as null
			u.SHA1, u.SHA256 = nil, nil
		}
		rows = append(rows, u)
	}
	for _, i := range []int64{110, 110, 120} {
		rows = append(rows, row(logA, i))
	}
	bad := row(logA, 0)
	bad.CertIndex = -5
	rows = append(rows, bad)
	for i := int64(1049); i >= 1000; i-- { // log B, backwards: hole 1010..1019
		if i >= 1010 && i < 1020 {
			continue
		}
		u := row(logB, i)
		switch {
		case i < 1005: // full feed without digests: DER only, whole
			u.DER, u.SHA1, u.SHA256 = []byte("der"), nil, nil
		case i == 1005: // one empty digest is enough to be damaged
			u.SHA256 = stream.EmptySHA256[:]
		}
		rows = append(rows, u)
	}
	rows = append(rows, row(logB, 1049))
	rows = append(rows, &stream.Update{Kind: stream.KindDomains, ReceivedAt: hour, Domains: [][]byte{[]byte("x.example")}})
	return rows
}

// publish writes rows into a dataset under root through the archive.
func publish(t testing.TB, root, collector string, rows []*stream.Update) {
	t.Helper()
	ds, err := archive.Open(archive.Options{Root: root, Schema: schema.New("test"), BatchRows: 16, Collector: collector,
		Now: func() time.Time { return hour.Add(time.Minute) }})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range rows {
		ds.Append(u)
	}
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
}

var wantLogs = map[string]string{
	logA: "rows=98 distinct=94 min=100 max=199 holes=2 missing=6 dups=3 sample=[110 110 120] damaged=13 invalid=1 seen=13:00..13:59",
	logB: "rows=41 distinct=40 min=1000 max=1049 holes=1 missing=10 dups=1 sample=[1049] damaged=1 invalid=0 seen=13:00..13:49",
}

// describe is a log's summary on one line, its sample sorted: a merge
// finds duplicates in another order than Add.
func describe(s coverage.LogSummary) string {
	return fmt.Sprintf("rows=%d distinct=%d min=%d max=%d holes=%d missing=%d dups=%d sample=%v damaged=%d invalid=%d seen=%s..%s",
		s.Rows, s.Distinct, s.MinIndex, s.MaxIndex, s.Holes, s.Missing, s.Duplicates, slices.Sorted(slices.Values(s.DuplicateSample)),
		s.Damaged, s.InvalidIndex, s.FirstSeen.Format("15:04"), s.LastSeen.Format("15:04"))
}

func checkSummary(t testing.TB, sum coverage.Summary, rows int64) {
	t.Helper()
	if sum.Rows != rows || sum.Unattributed != 1 {
		t.Errorf("rows %d unattributed %d, want %d and 1", sum.Rows, sum.Unattributed, rows)
	}
	got := map[string]string{}
	for _, l := range sum.Logs {
		got[l.SourceURL] = describe(l)
	}
	if fmt.Sprint(got) != fmt.Sprint(wantLogs) {
		t.Errorf("logs\n got %v\nwant %v", got, wantLogs)
	}
}

// Published files with planted holes, duplicates, damaged rows and an
// unreadable file give exactly the numbers planted, and the plan backfill
// needs.
func TestScan(t *testing.T) {
	root := t.TempDir()
	rows := planted()
	publish(t, root, "one", rows[:70])
	publish(t, root, "two", rows[70:])
	if err := os.WriteFile(filepath.Join(root, "hour=2026-11-24T13", "broken.feather"), []byte("not arrow"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, bad, err := coverage.Scan(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) != 1 || bad[0].Path != "hour=2026-11-24T13/broken.feather" {
		t.Errorf("unreadable %v", bad)
	}
	checkSummary(t, d.Summary(), int64(len(rows)))
	if l := d.Log(logA); l.Name != "log "+logA || l.Rows != l.Indexes.Held()+l.Indexes.Duplicates()+l.InvalidIndex {
		t.Errorf("log A: name %q, rows %d", l.Name, l.Rows)
	}
	if _, err := json.Marshal(d.Summary()); err != nil {
		t.Fatal(err)
	}
}

func TestPlan(t *testing.T) {
	d := coverage.New()
	addRows(t, d, planted())
	for _, tc := range []struct {
		name        string
		url         string
		since, size int64
		want        string
	}{
		{"from first held to size", logA, coverage.NoSince, 250, "[100,250) held=94 missing=56 holes=[{150 155} {180 181} {200 250}] beyond=0"},
		{"since before first held", logA, 90, 250, "[90,250) held=94 missing=66 holes=[{90 100} {150 155} {180 181} {200 250}] beyond=0"},
		{"since inside a hole", logA, 152, 200, "[152,200) held=44 missing=4 holes=[{152 155} {180 181}] beyond=0"},
		{"size below what is held", logA, coverage.NoSince, 150, "[100,150) held=50 missing=0 holes=[] beyond=44"},
		{"size at max+1: only inner holes", logB, coverage.NoSince, 1050, "[1000,1050) held=40 missing=10 holes=[{1010 1020}] beyond=0"},
		{"since past size", logB, 2000, 1050, "[2000,2000) held=0 missing=0 holes=[] beyond=0"},
		{"unknown log, no since: owes nothing", "https://c.example/", coverage.NoSince, 500, "[0,0) held=0 missing=0 holes=[] beyond=0"},
		{"unknown log with since", "https://c.example/", 5, 10, "[5,10) held=0 missing=5 holes=[{5 10}] beyond=0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := d.Plan(tc.url, tc.since, tc.size)
			got := fmt.Sprintf("[%d,%d) held=%d missing=%d holes=%v beyond=%d",
				p.Responsible.Start, p.Responsible.End, p.Held, p.Missing, p.Holes, p.Beyond)
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if p.SourceURL != tc.url || d.Responsible(tc.url, tc.since, tc.size) != p.Responsible {
				t.Errorf("url %q, responsible %v", p.SourceURL, d.Responsible(tc.url, tc.since, tc.size))
			}
		})
	}
	p := d.Plan(logA, coverage.NoSince, 250)
	for n, want := range map[int64]string{
		0: "0 []", 3: "3 [{150 153}]", 7: "7 [{150 155} {180 181} {200 201}]", 56: "56 [{150 155} {180 181} {200 250}]", 1000: "56 [{150 155} {180 181} {200 250}]",
	} {
		if l := p.Limit(n); fmt.Sprint(l.Missing, " ", l.Holes) != want {
			t.Errorf("Limit(%d): %d %v, want %s", n, l.Missing, l.Holes, want)
		}
	}
}

// addRows builds record batches of rows with a checked allocator and adds
// them to d: Add keeps no reference to a batch.
func addRows(t testing.TB, d *coverage.Dataset, rows []*stream.Update) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := schema.NewBuilder(mem, schema.New("test"))
	defer b.Release()
	for chunk := range slices.Chunk(rows, 23) {
		for _, u := range chunk {
			b.Append(u)
		}
		rec := b.NewRecordBatch()
		err := d.Add(rec)
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// The coverage of two halves, merged, is the coverage of the whole.
func TestDatasetMerge(t *testing.T) {
	rows := planted()
	for _, cut := range []int{0, 1, 57, 100, len(rows)} {
		a, b := coverage.New(), coverage.New()
		addRows(t, a, rows[:cut])
		addRows(t, b, rows[cut:])
		a.Merge(b)
		checkSummary(t, a.Summary(), int64(len(rows)))
	}
}

func TestAddRefusesOtherSchema(t *testing.T) {
	s := arrow.NewSchema([]arrow.Field{{Name: "cert_index", Type: arrow.PrimitiveTypes.Int64}}, nil)
	b := array.NewRecordBuilder(memory.NewGoAllocator(), s)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).Append(1)
	rec := b.NewRecordBatch()
	defer rec.Release()
	d := coverage.New()
	if err := d.Add(rec); err == nil || d.Rows != 0 {
		t.Errorf("err %v, rows %d", err, d.Rows)
	}
}

func TestDamaged(t *testing.T) {
	real1, real2 := sha1.Sum([]byte("x")), sha256.Sum256([]byte("x"))
	for _, tc := range []struct {
		name            string
		sha1, sha2, der []byte
		want            bool
	}{
		{"lite: digests, no DER", real1[:], real2[:], nil, false},
		{"full", real1[:], real2[:], []byte("der"), false},
		{"DER only", nil, nil, []byte("der"), false},
		{"one digest only", real1[:], nil, nil, false},
		{"empty digests (go 1.9 static-CT precert)", stream.EmptySHA1[:], stream.EmptySHA256[:], nil, true},
		{"empty SHA-1 beside a real SHA-256", stream.EmptySHA1[:], real2[:], nil, true},
		{"empty SHA-256 beside DER", real1[:], stream.EmptySHA256[:], []byte("der"), true},
		{"nothing", nil, nil, nil, true},
		{"empty DER", nil, nil, []byte{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := coverage.Damaged(tc.sha1, tc.sha2, tc.der); got != tc.want {
				t.Errorf("Damaged = %v, want %v", got, tc.want)
			}
		})
	}
}
