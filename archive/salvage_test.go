package archive

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certstream-arrow/certstream-arrow/archive/archivetest"
	"github.com/certstream-arrow/certstream-arrow/schema"
	"github.com/certstream-arrow/certstream-arrow/stream"
)

var crashHour = time.Date(2026, 11, 24, 13, 0, 0, 0, time.UTC)

func testOptions(root, collector string) Options {
	return Options{
		Root: root, Schema: schema.New("test"), Collector: collector, BatchRows: 10,
		FlushInterval: time.Hour, RotateAge: 0, FsyncBatch: true,
		Now: func() time.Time { return crashHour.Add(time.Minute) },
	}
}

func row(i int) *stream.Update {
	return &stream.Update{Kind: stream.KindCertificate, ReceivedAt: crashHour.Add(time.Second), CertIndex: int64(i), HasCertIndex: true,
		Domains: [][]byte{fmt.Appendf(nil, "h%d.example", i)}}
}

// crash runs a Dataset that writes rows in batches of 10 into one open file
// and then dies without publishing: it drops its lock, as the kernel does
// for a killed process. It returns the root and the temporary file's path.
func crash(t *testing.T, collector string, rows int) (root, tmp string) {
	t.Helper()
	root = t.TempDir()
	return root, crashInto(t, testOptions(root, collector), rows, row)
}

// crashInto is crash with the options and rows given: it writes n rows made
// by mk, lets the batch in flight reach the file, and dies.
func crashInto(tb testing.TB, opts Options, n int, mk func(int) *stream.Update) (tmp string) {
	tb.Helper()
	d, err := Open(opts)
	if err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		d.Append(mk(i))
	}
	d.settle(time.Now()) // the batch in flight reaches the file, then the "crash"
	_ = d.lock.release()
	_ = d.root.Close()
	tmps, _ := filepath.Glob(filepath.Join(opts.Root, "hour=*", ".*.feather.tmp"))
	if len(tmps) != 1 {
		tb.Fatalf("staging: temporary files %v", tmps)
	}
	return tmps[0]
}

func finalOf(tmp string) string {
	return filepath.Join(filepath.Dir(tmp), strings.TrimSuffix(filepath.Base(tmp)[1:], TmpSuffix))
}

func recoverRoot(t *testing.T, root string) SalvageReport {
	t.Helper()
	rep, err := Recover(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func cindexes(t *testing.T, root string) []int64 {
	t.Helper()
	var out []int64
	for _, r := range archivetest.AllRows(archivetest.ReadDataset(t, root)) {
		out = append(out, r["cert_index"].(int64))
	}
	return out
}

func truncate(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

func TestSalvageStagedCrashes(t *testing.T) {
	tests := []struct {
		name     string
		stage    func(t *testing.T, tmp string)
		wantRows int
		wantRep  SalvageReport
	}{
		{"three whole batches", func(*testing.T, string) {}, 30, SalvageReport{Salvaged: 1, InPlace: 1, Rows: 30}},
		{"torn last batch", func(t *testing.T, tmp string) {
			fi, _ := os.Stat(tmp)
			truncate(t, tmp, fi.Size()-10)
		}, 20, SalvageReport{Salvaged: 1, InPlace: 1, Rows: 20}},
		{"zero-length", func(t *testing.T, tmp string) { truncate(t, tmp, 0) }, 0, SalvageReport{Removed: 1}},
		{"torn inside the first batch", func(t *testing.T, tmp string) {
			truncate(t, tmp, messageEnds(t, tmp)[1]-10)
		}, 0, SalvageReport{Removed: 1}},
		{"torn inside the magic", func(t *testing.T, tmp string) { truncate(t, tmp, 5) }, 0, SalvageReport{Removed: 1}},
		{"zeros where the first write went (power cut)", func(t *testing.T, tmp string) {
			fi, _ := os.Stat(tmp)
			if err := os.WriteFile(tmp, make([]byte, fi.Size()), 0o644); err != nil {
				t.Fatal(err)
			}
		}, 0, SalvageReport{Removed: 1}},
		{"only the schema", func(t *testing.T, tmp string) {
			b, _ := os.ReadFile(tmp)
			metaLen := int64(binary.LittleEndian.Uint32(b[12:16]))
			truncate(t, tmp, 16+metaLen)
		}, 0, SalvageReport{Removed: 1}},
		{"torn inside the schema", func(t *testing.T, tmp string) { truncate(t, tmp, 20) }, 0, SalvageReport{Removed: 1}},
		{"stale salvage output from a crashed salvage", func(t *testing.T, tmp string) {
			stale := filepath.Join(filepath.Dir(tmp), "."+filepath.Base(finalOf(tmp))+salvageTmp)
			if err := os.WriteFile(stale, []byte("half a salvage"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, 30, SalvageReport{Salvaged: 1, InPlace: 1, Rows: 30}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, tmp := crash(t, "crashed", 30)
			tt.stage(t, tmp)
			rep := recoverRoot(t, root)
			rep.BytesDiscarded = 0
			if rep != tt.wantRep {
				t.Errorf("report %+v, want %+v", rep, tt.wantRep)
			}
			if got := cindexes(t, root); len(got) != tt.wantRows {
				t.Fatalf("%d rows published, want %d", len(got), tt.wantRows)
			}
			left, _ := filepath.Glob(filepath.Join(root, "hour=*", ".*"))
			if len(left) != 0 {
				t.Fatalf("left behind: %v", left)
			}
			// Salvage is idempotent: a second pass changes nothing.
			if rep := recoverRoot(t, root); rep != (SalvageReport{}) {
				t.Fatalf("second pass: %+v", rep)
			}
			if got := cindexes(t, root); len(got) != tt.wantRows {
				t.Fatalf("second pass: %d rows", len(got))
			}
		})
	}
}

// A crash after the salvaged copy was published but before the temporary
// file was removed: the next pass removes it and publishes nothing twice.
func TestSalvageCrashAfterPublishBeforeRemove(t *testing.T) {
	root, tmp := crash(t, "crashed", 25)
	saved, err := os.ReadFile(tmp)
	if err != nil {
		t.Fatal(err)
	}
	recoverRoot(t, root)
	if err := os.WriteFile(tmp, saved, 0o644); err != nil {
		t.Fatal(err)
	}
	if rep := recoverRoot(t, root); rep != (SalvageReport{Removed: 1}) {
		t.Fatalf("report %+v", rep)
	}
	// 20 rows: the last 5 were still in memory, not a full batch, when the
	// process died (the documented loss bound).
	if got := cindexes(t, root); len(got) != 20 {
		t.Fatalf("%d rows, want the 20 written, exactly once", len(got))
	}
}

// A crash between finishing a file and renaming it: the temporary file is a
// complete Feather file, and salvage keeps every row.
func TestSalvageCompleteButNotRenamed(t *testing.T) {
	root := t.TempDir()
	d, err := Open(testOptions(root, "crashed"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 15 {
		d.Append(row(i))
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	files := archivetest.Published(t, root)
	written, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(filepath.Dir(files[0]), "."+filepath.Base(files[0])+TmpSuffix)
	if err := os.Rename(files[0], tmp); err != nil {
		t.Fatal(err)
	}
	rep := recoverRoot(t, root)
	if rep.Salvaged != 1 || rep.InPlace != 1 || rep.Rows != 15 || rep.BytesDiscarded == 0 {
		t.Fatalf("report %+v (the footer is what is discarded, and written again)", rep)
	}
	// The footer salvage writes is byte for byte the one the writer wrote.
	if salvaged, err := os.ReadFile(files[0]); err != nil || !bytes.Equal(salvaged, written) {
		t.Fatalf("salvaged file differs from the one the writer finished (%v)", err)
	}
	if got := cindexes(t, root); len(got) != 15 {
		t.Fatalf("%d rows", len(got))
	}
}

// The temporary files of a running collector are never touched, by Recover
// or by another collector's start.
func TestSalvageLeavesLiveCollectorsAlone(t *testing.T) {
	root := t.TempDir()
	live, err := Open(testOptions(root, "live"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		live.Append(row(i))
	}
	if rep := recoverRoot(t, root); rep != (SalvageReport{Live: 1}) {
		t.Fatalf("report %+v", rep)
	}
	other, err := Open(testOptions(root, "other"))
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	if err := live.Close(); err != nil {
		t.Fatal(err)
	}
	if got := cindexes(t, root); len(got) != 20 {
		t.Fatalf("%d rows, want the live collector's 20", len(got))
	}
}

// A restart with the same collector salvages its own crash before writing.
func TestOpenSalvagesOwnCrash(t *testing.T) {
	root, _ := crash(t, "web1", 30)
	d, err := Open(testOptions(root, "web1"))
	if err != nil {
		t.Fatal(err)
	}
	d.Append(row(100))
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if got := cindexes(t, root); len(got) != 31 {
		t.Fatalf("%d rows, want 30 salvaged + 1 new", len(got))
	}
}

// A second archiver with the same collector name is refused with a message
// naming the collector and the process holding it.
func TestSecondInstanceRefused(t *testing.T) {
	root := t.TempDir()
	first, err := Open(testOptions(root, "web1"))
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	_, err = Open(testOptions(root, "web1"))
	if err == nil || !errors.Is(err, ErrCollectorRunning) || !strings.Contains(err.Error(), `collector "web1" is already running`) ||
		!strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("second Open: %v", err)
	}
}
