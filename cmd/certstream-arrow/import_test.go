package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/certstream-arrow/certstream-arrow/archive/archivetest"
	"github.com/certstream-arrow/certstream-arrow/stream/streamgen"
	"github.com/certstream-arrow/certstream-arrow/stream/streamtest"
)

// An import of a zstd capture holding every recorded dialect, generated
// messages, heartbeats and bad lines archives exactly the good messages,
// and reports the bad ones with their line numbers.
func TestImport(t *testing.T) {
	var lines [][]byte
	for _, rec := range streamtest.LoadRecorded(t) {
		lines = append(lines, rec.Data)
	}
	lines = append(lines, generated(streamgen.Full, 300)...)
	lines = append(lines, []byte(`{"message_type":"heartbeat"}`))
	bad := map[int]string{len(lines) + 1: "not json at all", len(lines) + 3: `{"message_type":"certificate_update"}`}
	lines = append(lines, []byte(bad[len(lines)+1]), generated(streamgen.Lite, 1)[0], []byte(bad[len(lines)+3]))
	lines = append(lines, []byte(`{"message_type":"certificate_update","data":{"leaf_cert":{"all_domains":["`+strings.Repeat("a", 300<<10)+`"]}}}`))

	var raw bytes.Buffer
	w, _ := zstd.NewWriter(&raw)
	w.Write(bytes.Join(lines, []byte("\n")))
	w.Close()
	path := filepath.Join(t.TempDir(), "capture.jsonl.zst")
	if err := os.WriteFile(path, raw.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	var progress bytes.Buffer
	cmd := &ImportCmd{File: path, Output: root, PartitionBy: "seen", BufferSize: 100, Collector: "import", MaxMessageBytes: 200 << 10, progress: &progress}
	if err := cmd.Validate(); err != nil {
		t.Fatal(err)
	}
	out := captureStdout(t, func() {
		if err := cmd.Run(t.Context(), newLogger(t.Output(), "warn", "text")); err != nil {
			t.Fatal(err)
		}
	})
	good := lines[:len(lines)-1]
	rows := archivetest.AllRows(archivetest.ReadDataset(t, root))
	archivetest.SameRows(t, rows, expectRows(t, good), "received_at")
	checkHours(t, archivetest.ReadDataset(t, root))
	for _, want := range []string{
		"imported " + strconv.Itoa(len(lines)) + " lines",
		"skipped not_json 1 (lines " + strconv.Itoa(len(lines)-3) + ")",
		"skipped missing_data 1 (lines " + strconv.Itoa(len(lines)-1) + ")",
		"skipped oversize 1 (lines " + strconv.Itoa(len(lines)) + ")",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

// captureStdout runs fn with os.Stdout redirected and returns what it wrote.
func captureStdout(t *testing.T, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		var b bytes.Buffer
		b.ReadFrom(r)
		done <- b.String()
	}()
	defer func() { os.Stdout = old }()
	fn()
	w.Close()
	return <-done
}
