package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/certstream-arrow/certstream-arrow/archive/archivetest"
	"github.com/certstream-arrow/certstream-arrow/ctlog/ctlogtest"
	"github.com/certstream-arrow/certstream-arrow/seal"
	"github.com/certstream-arrow/certstream-arrow/stream"
)

// damage makes msg what certstream-server-go sends for a static-CT
// precertificate: digests of empty input and no DER.
func damage(t *testing.T, msg []byte) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(msg, &m); err != nil {
		t.Fatal(err)
	}
	leaf := m["data"].(map[string]any)["leaf_cert"].(map[string]any)
	delete(leaf, "as_der")
	leaf["fingerprint"] = hex.EncodeToString(stream.EmptySHA1[:])
	leaf["sha1"] = hex.EncodeToString(stream.EmptySHA1[:])
	leaf["sha256"] = hex.EncodeToString(stream.EmptySHA256[:])
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSealRepairsFromTheLogs(t *testing.T) {
	f := newAutoFixture(t, 40)
	snaps, _ := ctlogtest.LoadSnapshot(t)
	var lines [][]byte
	damaged := 0
	for i := range f.size {
		msg := certstreamMessage(t, snaps[i%int64(len(snaps))], f.static, i)
		if i%3 == 0 {
			msg, damaged = damage(t, msg), damaged+1
		}
		lines = append(lines, msg)
	}
	capture := filepath.Join(t.TempDir(), "capture.jsonl")
	if err := os.WriteFile(capture, bytes.Join(lines, []byte("\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	log := newLogger(t.Output(), "warn", "text")
	imp := &ImportCmd{File: capture, Output: f.root, PartitionBy: "seen", BufferSize: 100, Collector: "import", MaxMessageBytes: 1 << 20, progress: &bytes.Buffer{}}
	captureStdout(t, func() {
		if err := imp.Run(t.Context(), log); err != nil {
			t.Fatal(err)
		}
	})
	before := archivetest.AllRows(archivetest.ReadDataset(t, f.root))
	if n := countNull(before, "sha256"); n != damaged {
		t.Fatalf("%d rows without a digest before sealing, want %d", n, damaged)
	}

	var out bytes.Buffer
	cmd := &SealCmd{Dir: f.root, Hour: []string{time.Now().UTC().Format("2006-01-02T15")}, Memory: 128 << 20, BatchRows: 65536,
		BatchBytes: 32 << 20, FileBytes: 2 << 30, Repair: true, LogList: f.list, RequestsPerSecond: 1e4, MaxInFlight: 4, MaxRetries: 2, JSON: true, out: &out}
	if err := cmd.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Run(t.Context(), log); err != nil {
		t.Fatal(err)
	}
	var res struct{ Hours []seal.Manifest }
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || len(res.Hours) != 1 {
		t.Fatalf("output %s: %v", out.String(), err)
	}
	if m := res.Hours[0]; m.Repaired != int64(damaged) || m.DamagedKept != 0 || m.Rows != f.size {
		t.Errorf("manifest: %d repaired, %d damaged kept, %d rows; want %d, 0, %d", m.Repaired, m.DamagedKept, m.Rows, damaged, f.size)
	}
	after := archivetest.AllRows(archivetest.ReadDataset(t, f.root))
	backfilled := 0
	for _, r := range after {
		if r["provenance"] == "backfill" {
			backfilled++
		}
	}
	if n := countNull(after, "sha256"); n != 0 || backfilled != damaged || len(after) != int(f.size) {
		t.Errorf("after sealing: %d rows, %d without a digest, %d from the log; want %d, 0, %d", len(after), n, backfilled, f.size, damaged)
	}
}

func countNull(rows []archivetest.Row, col string) int {
	n := 0
	for _, r := range rows {
		if r[col] == nil {
			n++
		}
	}
	return n
}
