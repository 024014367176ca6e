package ctrow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/certstream-arrow/certstream-arrow/stream"
	"github.com/certstream-arrow/certstream-arrow/stream/streamtest"
)

// snapshot is one entry of the Rust server's parser snapshots: the raw CT
// entry (live) or certificate (synthetic), with the messages it produced.
type snapshot struct {
	Name         string  `json:"name"`
	LogName      string  `json:"log_name"`
	LogURL       string  `json:"log_url"`
	CertIndex    int64   `json:"cert_index"`
	LeafInput    []byte  `json:"leaf_input"`
	ExtraData    []byte  `json:"extra_data"`
	DER          []byte  `json:"der_b64"`
	SubmittedAt  float64 `json:"submission_timestamp"`
	ExpectedFull string  `json:"expected_full"`
	ExpectedLite string  `json:"expected_lite"`
}

// The synthetic snapshots were made with these fixed values.
const (
	synthIndex = 42
	synthLink  = "https://test.example/entry/42"
)

var synthLog = LogInfo{URL: "https://test.example/", Name: "Snapshot Test Log"}

func loadSnapshots(tb testing.TB, file string) []snapshot {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join(streamtest.SharedDir(tb, "certstream"), file))
	if err != nil {
		tb.Fatal(err)
	}
	var out []snapshot
	if err := json.Unmarshal(raw, &out); err != nil {
		tb.Fatalf("%s: %v", file, err)
	}
	return out
}

// row converts a snapshot's entry as backfill would.
func (s *snapshot) row(tb testing.TB) *stream.Update {
	tb.Helper()
	var e Entry
	log := LogInfo{URL: s.LogURL, Name: s.LogName, Link: GetEntriesLink}
	if s.DER != nil {
		ms := uint64(math.Round(s.SubmittedAt * 1000))
		e, log = Entry{Index: synthIndex, Timestamp: ms, Type: X509, Cert: s.DER}, synthLog
	} else {
		var err error
		if e, err = FromRFC6962(s.CertIndex, s.LeafInput, s.ExtraData); err != nil {
			tb.Fatalf("FromRFC6962: %v", err)
		}
	}
	u, err := Update(e, log)
	if err != nil {
		tb.Fatalf("Update: %v", err)
	}
	if s.DER != nil {
		u.CertLink = []byte(synthLink) // the fixture's fixed link, not a log's
	}
	return u
}

// decoded returns what stream.Decoder makes of a server's message, with
// the deliberate differences of the package doc applied.
func decoded(tb testing.TB, msg string) *stream.Update {
	tb.Helper()
	var d stream.Decoder
	u, err := d.Decode([]byte(msg))
	if err != nil {
		tb.Fatalf("decode server message: %v", err)
	}
	want := *u
	want.Seen = time.Time{}               // deliberate: no server saw a backfilled entry
	want.Provenance = stream.FromBackfill // what tells the two apart
	return &want
}

// TestSnapshots compares, field by field, the row made from each CT entry
// with the one stream.Decoder makes from the message a real server sent for
// it, on the full stream and on the lite stream.
func TestSnapshots(t *testing.T) {
	matched, total := 0, 0
	for _, file := range []string{
		"reloading01-rust-parser-snapshot-live_ct.json",
		"reloading01-rust-parser-snapshot-synthetic.json",
	} {
		for _, s := range loadSnapshots(t, file) {
			total++
			t.Run(s.Name, func(t *testing.T) {
				got := s.row(t)
				diffs := diff(got, decoded(t, s.ExpectedFull))
				lite := *got
				lite.DER, lite.ChainNames = nil, nil // the lite stream sends neither
				for _, d := range diff(&lite, decoded(t, s.ExpectedLite)) {
					diffs = append(diffs, "lite: "+d)
				}
				if len(diffs) > 0 {
					t.Errorf("row differs from the server's message:\n%s", strings.Join(diffs, "\n"))
					return
				}
				matched++
			})
		}
	}
	t.Logf("%d of %d entries equal the server's full and lite messages in every field", matched, total)
	if total != 51 {
		t.Errorf("%d snapshot entries, want 51", total)
	}
}

// diff lists the fields of stream.Update where got and want differ. It walks
// every field by reflection, so a field added to Update is compared too.
// A nil slice (null) differs from an empty one.
func diff(got, want *stream.Update) []string {
	var out []string
	g, w := reflect.ValueOf(got).Elem(), reflect.ValueOf(want).Elem()
	for i := range g.NumField() {
		name := g.Type().Field(i).Name
		if !sameValue(g.Field(i).Interface(), w.Field(i).Interface()) {
			out = append(out, fmt.Sprintf("%s: got %s, want %s", name, show(g.Field(i).Interface()), show(w.Field(i).Interface())))
		}
	}
	return out
}

func sameValue(a, b any) bool {
	switch a := a.(type) {
	case []byte:
		return sameBytes(a, b.([]byte))
	case [][]byte:
		b := b.([][]byte)
		if (a == nil) != (b == nil) || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !sameBytes(a[i], b[i]) {
				return false
			}
		}
		return true
	case time.Time:
		return a.Equal(b.(time.Time))
	}
	return reflect.DeepEqual(a, b)
}

func sameBytes(a, b []byte) bool {
	return (a == nil) == (b == nil) && bytes.Equal(a, b)
}

func show(v any) string {
	switch v := v.(type) {
	case []byte:
		if v == nil {
			return "null"
		}
		return fmt.Sprintf("%q", v)
	case [][]byte:
		if v == nil {
			return "null"
		}
		return fmt.Sprintf("%q", v)
	case time.Time:
		return v.Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}
