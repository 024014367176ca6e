package main

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/archive/archivetest"
	"github.com/certstream-arrow/certstream-arrow/schema"
	"github.com/certstream-arrow/certstream-arrow/stream"
)

// publishRows writes a dataset of rows rows by collector under root and
// returns its one published file.
func publishRows(t *testing.T, root, collector string, rows int) string {
	t.Helper()
	hour := time.Date(2026, 11, 24, 13, 0, 0, 0, time.UTC)
	ds, err := archive.Open(archive.Options{Root: root, Schema: schema.New("test"), BatchRows: 10, Collector: collector,
		Now: func() time.Time { return hour.Add(time.Minute) }})
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		ds.Append(&stream.Update{Kind: stream.KindCertificate, ReceivedAt: hour, Seen: hour, CertIndex: int64(i), HasCertIndex: true,
			SourceURL: []byte("https://ct.example/"), Domains: [][]byte{[]byte("host.example.com")}})
	}
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(root, "hour=*", "*-"+collector+"-*.feather"))
	if len(files) != 1 {
		t.Fatalf("published %v", files)
	}
	return files[0]
}

// declareTerabyte makes the first compressed buffer of path declare 1 TiB
// uncompressed: its 8-byte length precedes the first zstd frame magic.
func declareTerabyte(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(data, []byte{0x28, 0xb5, 0x2f, 0xfd})
	if at < 16 {
		t.Fatal("no compressed buffer")
	}
	binary.LittleEndian.PutUint64(data[at-8:], 1<<40)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// asTemporary renames a published file to the temporary file a crashed
// archiver would have left.
func asTemporary(t *testing.T, path string) string {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+archive.TmpSuffix)
	if err := os.Rename(path, tmp); err != nil {
		t.Fatal(err)
	}
	return tmp
}

// A crashed temporary file declaring a 1 TiB buffer no longer kills
// recover with "fatal error: runtime: out of memory": it is counted as
// unreadable, and another crashed file in the same root is still salvaged.
func TestRecoverSurvivesHugeDeclaration(t *testing.T) {
	root := t.TempDir()
	good := publishRows(t, root, "good", 25)
	bad := publishRows(t, root, "bad", 25) // before the crash is staged: opening salvages
	asTemporary(t, good)
	bad = asTemporary(t, bad)
	declareTerabyte(t, bad)

	var err error
	out := captureStdout(t, func() { err = (&RecoverCmd{Dir: root}).Run(slog.New(slog.DiscardHandler)) })
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`salvaged (\d+) files \((\d+) rows.*removed (\d+) .*set aside (\d+) unreadable`).FindStringSubmatch(out)
	if m == nil || m[1] != "1" || m[2] != "25" || m[3]+m[4] != "10" && m[3]+m[4] != "01" {
		t.Fatalf("summary: %s", out)
	}
	rows := archivetest.AllRows(archivetest.ReadDataset(t, root))
	if len(rows) != 25 {
		t.Errorf("%d rows published, want the good file's 25", len(rows))
	}
	if _, err := os.Stat(bad); err == nil {
		t.Errorf("%s is still a temporary file to salvage", bad)
	}
}
