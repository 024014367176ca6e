package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/schema"
	"github.com/certstream-arrow/certstream-arrow/stream"
)

// A dataset with planted holes, duplicates, damaged rows and an
// unreadable file gives exactly the numbers planted.
func TestInspect(t *testing.T) {
	root := t.TempDir()
	hour := time.Date(2026, 11, 24, 13, 0, 0, 0, time.UTC)
	ds, err := archive.Open(archive.Options{Root: root, Schema: schema.New("test"), BatchRows: 7, PartitionBy: archive.BySeen,
		Collector: "inspect", Now: func() time.Time { return hour.Add(3 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("a certificate"))
	add := func(url string, idx int64, seen time.Time) {
		sha := sum[:]
		if url == "https://a.example/" && idx >= 90 && idx < 94 { // certstream-server-go 1.9's static-CT precertificates
			sha = stream.EmptySHA256[:]
		}
		ds.Append(&stream.Update{Kind: stream.KindCertificate, ReceivedAt: hour.Add(2 * time.Hour), Seen: seen,
			SourceURL: []byte(url), SourceName: []byte("log " + url), CertIndex: idx, HasCertIndex: true, SHA256: sha})
	}
	n := 0
	for i := int64(1); i <= 100; i++ { // log A: holes 50..54 and 80; 10 twice, 20 three times
		if i >= 50 && i <= 54 || i == 80 {
			continue
		}
		add("https://a.example/", i, hour.Add(time.Duration(i)*time.Minute))
		n++
	}
	for _, dup := range []int64{10, 20, 20} {
		add("https://a.example/", dup, hour)
		n++
	}
	for i := int64(1009); i >= 1000; i-- { // log B: contiguous, arriving backwards
		add("https://b.example/", i, hour)
		n++
	}
	ds.Append(&stream.Update{Kind: stream.KindDomains, ReceivedAt: hour.Add(2 * time.Hour), Domains: [][]byte{[]byte("x.example")}})
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "hour=2026-11-24T13", "broken.feather"), []byte("not arrow"), 0o644); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	if err := (&InspectCmd{Dir: root, JSON: true, out: &out}).Run(); err != nil {
		t.Fatal(err)
	}
	var rep inspectReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if rep.Rows != int64(n+1) || rep.NoIndex != 1 || rep.Hours != 3 || rep.FirstHour != "2026-11-24T13" || rep.LastHour != "2026-11-24T15" {
		t.Errorf("rows %d (want %d), no index %d, hours %d %s..%s", rep.Rows, n+1, rep.NoIndex, rep.Hours, rep.FirstHour, rep.LastHour)
	}
	if len(rep.Unreadable) != 1 || rep.Unreadable[0].Path != "hour=2026-11-24T13/broken.feather" {
		t.Errorf("unreadable %v", rep.Unreadable)
	}
	got := map[string]string{}
	for _, l := range rep.Logs {
		got[l.SourceURL] = fmt.Sprintf("rows=%d min=%d max=%d holes=%d missing=%d dups=%d damaged=%d", l.Rows, l.MinIndex, l.MaxIndex, l.Holes, l.Missing, l.Duplicates, l.Damaged)
	}
	want := map[string]string{
		"https://a.example/": "rows=97 min=1 max=100 holes=2 missing=6 dups=3 damaged=4",
		"https://b.example/": "rows=10 min=1000 max=1009 holes=0 missing=0 dups=0 damaged=0",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("logs\n got %v\nwant %v", got, want)
	}
	if rep.Seen.Min == nil || !rep.Seen.Min.Equal(hour) || !rep.Seen.Max.Equal(hour.Add(100*time.Minute)) {
		t.Errorf("seen %v", rep.Seen)
	}

	out.Reset()
	if err := (&InspectCmd{Dir: root, out: &out}).Run(); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"hours        3", "97", "unreadable: hour=2026-11-24T13/broken.feather",
		"duplicates  damaged log", "3        4 log https://a.example/"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, out.String())
		}
	}
}

// A published file declaring a 1 TiB buffer is reported as unreadable,
// with the budget in the error, and the rest of the dataset is still
// summarised; a temporary file salvage set aside is counted. Before the
// read budget inspect died with "fatal error: runtime: out of memory".
func TestInspectHugeDeclarationAndSetAside(t *testing.T) {
	root := t.TempDir()
	publishRows(t, root, "good", 25)
	bad := publishRows(t, root, "bad", 25)
	declareTerabyte(t, bad)
	aside := filepath.Join(filepath.Dir(bad), ".20261124T120000Z-x-00000000-000001.feather.bad")
	if err := os.WriteFile(aside, []byte("torn"), 0o644); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	if err := (&InspectCmd{Dir: root, JSON: true, out: &out}).Run(); err != nil {
		t.Fatal(err)
	}
	var rep inspectReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	badRel, _ := filepath.Rel(root, bad)
	if rep.Rows != 25 || rep.Files != 1 {
		t.Errorf("rows %d in %d files, want the good file's 25 in 1", rep.Rows, rep.Files)
	}
	if len(rep.Unreadable) != 1 || rep.Unreadable[0].Path != badRel || !strings.Contains(rep.Unreadable[0].Error, "over the read budget") {
		t.Errorf("unreadable %+v", rep.Unreadable)
	}
	if len(rep.SetAside) != 1 || rep.SetAside[0].Path != "hour=2026-11-24T13/"+filepath.Base(aside) || rep.SetAside[0].Bytes != 4 {
		t.Errorf("set aside %+v", rep.SetAside)
	}

	out.Reset()
	if err := (&InspectCmd{Dir: root, out: &out}).Run(); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"unreadable   1", "set aside    1", "unreadable: " + badRel, "set aside: hour=2026-11-24T13/.2026"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, out.String())
		}
	}
}
