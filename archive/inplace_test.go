package archive

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/ipc"
)

// Salvage publishes the crashed file itself, not a copy of it: the
// published file is the temporary file's inode, so salvage needed no space
// for a second copy.
func TestSalvageInPlacePublishesTheFileItself(t *testing.T) {
	root, tmp := crash(t, "crashed", 30)
	before, err := os.Stat(tmp)
	if err != nil {
		t.Fatal(err)
	}
	rep := recoverRoot(t, root)
	after, err := os.Stat(finalOf(tmp))
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) || rep.InPlace != 1 {
		t.Fatalf("published a copy, not the temporary file itself (report %+v)", rep)
	}
	if got := cindexes(t, root); len(got) != 30 {
		t.Fatalf("%d rows, want 30", len(got))
	}
}

// finished returns the bytes tmp has once salvage finishes it in place (a
// copy is salvaged elsewhere), and the length of the tail salvage appends:
// end-of-stream marker, footer, footer length, magic.
func finished(t *testing.T, tmp string) (file []byte, tail int) {
	t.Helper()
	scratch := filepath.Join(t.TempDir(), filepath.Base(filepath.Dir(tmp)))
	if err := os.Mkdir(scratch, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(scratch, filepath.Base(tmp)), b, 0o644); err != nil {
		t.Fatal(err)
	}
	recoverRoot(t, filepath.Dir(scratch))
	file, err = os.ReadFile(finalOf(filepath.Join(scratch, filepath.Base(tmp))))
	if err != nil {
		t.Fatal(err)
	}
	footer := int(binary.LittleEndian.Uint32(file[len(file)-10:]))
	return file, 8 + footer + 10
}

// A crash at each step of finishing in place leaves a temporary file that
// the next pass finishes, publishing every row once, byte for byte the
// file an uninterrupted salvage publishes.
func TestSalvageInPlaceStagedCrashes(t *testing.T) {
	tests := []struct {
		name string
		keep func(tail int) int // bytes of the tail on disk at the crash
	}{
		{"cut after the last batch, no tail yet", func(int) int { return 0 }},
		{"part of the end-of-stream marker", func(int) int { return 3 }},
		{"end-of-stream marker only", func(int) int { return 8 }},
		{"part of the footer", func(tail int) int { return tail / 2 }},
		{"all but the last byte", func(tail int) int { return tail - 1 }},
		{"whole tail: complete but not renamed", func(tail int) int { return tail }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, tmp := crash(t, "crashed", 30)
			want, tail := finished(t, tmp)
			good := len(want) - tail
			if err := os.WriteFile(tmp, want[:good+tt.keep(tail)], 0o644); err != nil {
				t.Fatal(err)
			}
			rep := recoverRoot(t, root)
			if rep.Salvaged != 1 || rep.InPlace != 1 || rep.Rows != 30 {
				t.Fatalf("report %+v", rep)
			}
			got, err := os.ReadFile(finalOf(tmp))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("published %d bytes, not the %d an uninterrupted salvage publishes", len(got), len(want))
			}
			if rows := cindexes(t, root); len(rows) != 30 {
				t.Fatalf("%d rows, want 30", len(rows))
			}
			if left, _ := filepath.Glob(filepath.Join(root, "hour=*", ".*")); len(left) != 0 {
				t.Fatalf("left behind: %v", left)
			}
			if rep := recoverRoot(t, root); rep != (SalvageReport{}) {
				t.Fatalf("second pass: %+v", rep)
			}
		})
	}
}

// A temporary file framed otherwise than our writer frames it (here:
// without continuation markers, as Arrow before 0.15 wrote) cannot be
// finished in place; its batches are copied instead.
func TestSalvageCopiesWhatAnotherWriterFramed(t *testing.T) {
	root, tmp := crash(t, "other", 25)
	b, err := os.ReadFile(tmp)
	if err != nil {
		t.Fatal(err)
	}
	legacy := append([]byte(nil), b[:8]...)
	for _, m := range splitMessages(t, b) {
		legacy = append(legacy, m[4:]...) // drop the continuation marker
	}
	if err := os.WriteFile(tmp, legacy[:len(legacy)-100], 0o644); err != nil { // torn last batch
		t.Fatal(err)
	}
	rep := recoverRoot(t, root)
	if rep.Salvaged != 1 || rep.InPlace != 0 || rep.Rows != 10 {
		t.Fatalf("report %+v, want 10 rows salvaged by copy", rep)
	}
	assertRowsOnce(t, root, 10)
}

// splitMessages returns the messages of the IPC file b, each with its
// framing.
func splitMessages(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var msgs [][]byte
	start := int64(8)
	for _, end := range messageEnds(t, writeTemp(t, b)) {
		msgs = append(msgs, b[start:end])
		start = end
	}
	return msgs
}

func writeTemp(t *testing.T, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// messageEnds returns where each message of the IPC file at path ends.
func messageEnds(t *testing.T, path string) []int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	in := &countingReader{r: bufio.NewReader(f)}
	if _, err := io.CopyN(io.Discard, in, 8); err != nil {
		t.Fatal(err)
	}
	mr := ipc.NewMessageReader(in)
	defer mr.Release()
	var ends []int64
	for {
		if _, err := mr.Message(); err != nil {
			return ends
		}
		ends = append(ends, in.n)
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// A temporary file whose bytes no crash of ours leaves is set aside as
// .NAME.feather.bad, byte for byte, after its complete batches are
// published; it is reported, not retried, and start goes on.
func TestSalvageSetsAsideUnreadable(t *testing.T) {
	tests := []struct {
		name     string
		stage    func(t *testing.T, tmp string)
		wantRows int
	}{
		{"not an Arrow file", func(t *testing.T, tmp string) {
			if err := os.WriteFile(tmp, randomBytes(4096), 0o644); err != nil {
				t.Fatal(err)
			}
		}, 0},
		{"unreadable message after the schema", func(t *testing.T, tmp string) {
			schemaEnd := messageEnds(t, tmp)[0]
			garbage := append([]byte{0xff, 0xff, 0xff, 0xff, 16, 0, 0, 0}, bytes.Repeat([]byte{0xee}, 16)...)
			overwrite(t, tmp, schemaEnd, garbage)
			truncate(t, tmp, schemaEnd+int64(len(garbage)))
		}, 0},
		{"corrupt third batch after two good ones", func(t *testing.T, tmp string) {
			secondEnd := messageEnds(t, tmp)[2] // schema, batch 1, batch 2
			overwrite(t, tmp, secondEnd+8, bytes.Repeat([]byte{0xee}, 16))
		}, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, tmp := crash(t, "crashed", 30)
			tt.stage(t, tmp)
			staged, err := os.ReadFile(tmp)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Recover(root, nil)
			if err != nil {
				t.Fatalf("Recover: %v", err)
			}
			bad := filepath.Join(filepath.Dir(tmp), "."+filepath.Base(finalOf(tmp))+".bad")
			kept, err := os.ReadFile(bad)
			if err != nil || !bytes.Equal(kept, staged) {
				t.Fatalf("not set aside intact as %s: %v (report %+v)", filepath.Base(bad), err, rep)
			}
			if rep.Quarantined != 1 || rep.Rows != int64(tt.wantRows) {
				t.Fatalf("report %+v", rep)
			}
			if got := cindexes(t, root); len(got) != tt.wantRows {
				t.Fatalf("%d rows published, want %d", len(got), tt.wantRows)
			}
			if tmps, _ := filepath.Glob(filepath.Join(root, "hour=*", "*.tmp")); len(tmps) != 0 {
				t.Fatalf("left behind: %v", tmps)
			}
			if rep := recoverRoot(t, root); rep != (SalvageReport{}) {
				t.Fatalf("second pass picked it up again: %+v", rep)
			}
			bad2, err := Walk(root, Visitor{})
			if err != nil || len(bad2) != 0 {
				t.Fatalf("Walk read the set-aside file: %v %v", bad2, err)
			}
			d, err := Open(testOptions(root, "crashed"))
			if err != nil {
				t.Fatalf("Open after setting aside: %v", err)
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func overwrite(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}
