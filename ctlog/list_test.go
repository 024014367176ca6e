package ctlog_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certstream-arrow/certstream-arrow/ctlog"
	"github.com/certstream-arrow/certstream-arrow/ctlog/ctlogtest"
)

// testLogs returns three log descriptions with real keys, as a list would
// name them: the URLs need not serve anything for lookups.
func testLogs(t *testing.T) (rfc, tiled, other *ctlog.Log) {
	t.Helper()
	a := *ctlogtest.NewRFC6962(t, nil).Info
	b := *ctlogtest.NewStatic(t, nil).Info
	c := *ctlogtest.NewRFC6962(t, nil).Info
	a.URL = "https://ct.googleapis.com/logs/us1/argon2026h2/"
	b.URL, b.SubmissionURL = "https://mon.example.net/2026h1/", "https://log.example.net/2026h1/"
	c.URL = "https://ct.example.org/Log/"
	return &a, &b, &c
}

func TestListLookup(t *testing.T) {
	rfc, tiled, other := testLogs(t)
	l, err := ctlog.ParseList(ctlogtest.ListJSON(rfc, tiled, other))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(l.Logs()); n != 3 {
		t.Fatalf("%d logs, want 3", n)
	}
	for _, tc := range []struct {
		name, url string
		want      *ctlog.Log
	}{
		{"exact", "https://ct.googleapis.com/logs/us1/argon2026h2/", rfc},
		{"no trailing slash", "https://ct.googleapis.com/logs/us1/argon2026h2", rfc},
		{"http scheme", "http://ct.googleapis.com/logs/us1/argon2026h2/", rfc},
		{"no scheme", "ct.googleapis.com/logs/us1/argon2026h2", rfc},
		{"host case and port", "https://CT.googleapis.com:443/logs/us1/argon2026h2//", rfc},
		{"monitoring url", "https://mon.example.net/2026h1/", tiled},
		{"submission url", "https://log.example.net/2026h1", tiled},
		{"path case matters", "https://ct.example.org/log/", nil},
		{"path case kept", "https://ct.example.org/Log", other},
		{"other shard", "https://ct.googleapis.com/logs/us1/argon2026h1/", nil},
		{"prefix only", "https://ct.googleapis.com/logs/us1/", nil},
		{"empty", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := l.Lookup(tc.url)
			if ok != (tc.want != nil) || (ok && got.LogID != tc.want.LogID) {
				t.Fatalf("Lookup(%q) = %v, %v; want %v", tc.url, got, ok, tc.want)
			}
		})
	}
	if got, _ := l.Lookup(rfc.URL); got.State != "usable" || got.Tiled || got.Operator != "ctlogtest" {
		t.Errorf("RFC 6962 log parsed as %+v", got)
	}
	if got, _ := l.Lookup(tiled.URL); !got.Tiled || got.SubmissionURL != tiled.SubmissionURL {
		t.Errorf("tiled log parsed as %+v", got)
	}
}

// Two logs claiming one URL are never guessed between.
func TestListAmbiguousURL(t *testing.T) {
	rfc, _, other := testLogs(t)
	other.URL = strings.TrimSuffix(rfc.URL, "/")
	l, err := ctlog.ParseList(ctlogtest.ListJSON(rfc, other))
	if err != nil {
		t.Fatal(err)
	}
	if lg, ok := l.Lookup(rfc.URL); ok {
		t.Fatalf("ambiguous URL resolved to %s", lg.Description)
	}
}

func TestParseListRefuses(t *testing.T) {
	rfc, _, other := testLogs(t)
	liar := *rfc
	liar.LogID = other.LogID
	broken := *rfc
	broken.KeyDER = []byte{0x30, 0x00}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"log_id of another key", ctlogtest.ListJSON(&liar)},
		{"key not SPKI", ctlogtest.ListJSON(&broken)},
		{"not JSON", []byte("<html>")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ctlog.ParseList(tc.data); err == nil {
				t.Fatal("list accepted")
			}
		})
	}
}

func TestLoadList(t *testing.T) {
	rfc, tiled, _ := testLogs(t)
	data := ctlogtest.ListJSON(rfc, tiled)
	file := filepath.Join(t.TempDir(), "log_list.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var ua string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ua = r.Header.Get("User-Agent")
		_, _ = w.Write(data)
	}))
	t.Cleanup(srv.Close)
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(bytes.Repeat([]byte(" "), 17<<20))
	}))
	t.Cleanup(big.Close)

	for _, src := range []string{file, srv.URL + "/log_list.json"} {
		l, err := ctlog.LoadList(t.Context(), src, srv.Client())
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := l.Lookup(tiled.SubmissionURL); !ok {
			t.Errorf("%s: tiled log not found", src)
		}
	}
	if !strings.HasPrefix(ua, "certstream-arrow/") {
		t.Errorf("User-Agent %q does not name the program", ua)
	}
	if _, err := ctlog.LoadList(t.Context(), big.URL, big.Client()); err == nil {
		t.Error("a 17 MiB list was read")
	}
	if _, err := ctlog.LoadList(t.Context(), filepath.Join(t.TempDir(), "missing.json"), nil); err == nil {
		t.Error("a missing file loaded")
	}
}
