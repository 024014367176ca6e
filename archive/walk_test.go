package archive

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

// walkRows walks root and returns the rows read from each readable file and
// the unreadable ones.
func walkRows(tb testing.TB, root string) (map[string]int64, []FileError) {
	tb.Helper()
	rows := map[string]int64{}
	bad, err := Walk(root, Visitor{Batch: func(f PublishedFile, rec arrow.RecordBatch) error {
		rows[f.Path] += rec.NumRows()
		return nil
	}})
	if err != nil {
		tb.Fatal(err)
	}
	return rows, bad
}

// A published file declaring sizes it cannot hold is reported, by name and
// with ErrOverBudget or arrow-go's own size checks, while the other files of
// the dataset are still read in full. Before the budget, the 1 TiB case
// ended the process with "fatal error: runtime: out of memory".
func TestWalkReportsHugeDeclarations(t *testing.T) {
	root, good := writeDataset(t, 30, 10)
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	prefix := largestCompressed(t, data)
	footerLen := len(data) - 10 // int32 before the closing "ARROW1"
	cases := []struct {
		name string
		data []byte
		want error  // nil: any error
		text string // in the error
	}{
		{"uncompressed size 1 TiB", patched(data, prefix, uint64(1)<<40), ErrOverBudget, "1099511627776 bytes asked"},
		{"uncompressed size 2 GiB", patched(data, prefix, uint64(2)<<30), ErrOverBudget, "budget 1073741824"},
		{"uncompressed size negative", patched(data, prefix, uint64(1)<<63), nil, "negative size"},
		{"footer length 2 GiB-1", patched(data, footerLen, uint32(1<<31-1)), nil, "footer"},
		{"footer length negative", patched(data, footerLen, uint32(0x80000000)), nil, "footer"},
		{"truncated", data[:len(data)/2], nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bad := filepath.Join(filepath.Dir(good), "20261124T130000Z-bad-00000000-000001"+Ext)
			if err := os.WriteFile(bad, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			rows, unreadable := walkRows(t, root)
			rel, _ := filepath.Rel(root, good)
			if rows[rel] != 30 {
				t.Errorf("rows of the sound file: %v", rows)
			}
			badRel, _ := filepath.Rel(root, bad)
			if len(unreadable) != 1 || unreadable[0].Path != badRel {
				t.Fatalf("unreadable %v, want %s", unreadable, badRel)
			}
			err := unreadable[0].Err
			t.Log(err)
			if tc.want != nil && !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("err = %v, want %v containing %q", err, tc.want, tc.text)
			}
		})
	}
}

// Walk holds one batch at a time: a file of many batches reads within a
// budget of little more than one batch.
func TestWalkOneBatchAtATime(t *testing.T) {
	root, file := writeDataset(t, 200, 10)
	r, err := os.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rel, _ := filepath.Rel(root, file)
	pf := PublishedFile{Path: rel}
	var peak, rows int64
	mem := newBudgetAllocator(nil, 1<<30)
	err = walkFileBudget(r, &pf, mem, func(_ PublishedFile, rec arrow.RecordBatch) error {
		peak = max(peak, mem.Live())
		rows += rec.NumRows()
		return nil
	})
	if err != nil || rows != 200 {
		t.Fatalf("rows %d, err %v", rows, err)
	}
	// Again with a budget of twice the largest batch seen: the 20 batches
	// together need ten times more.
	pf = PublishedFile{Path: rel}
	if err := walkFileBudget(r, &pf, newBudgetAllocator(nil, 2*peak), nil); err != nil {
		t.Errorf("budget %d, one batch at a time: %v", 2*peak, err)
	}
	if mem.Live() != 0 {
		t.Errorf("%d bytes not released", mem.Live())
	}
}

// The footer offset used above is where arrow-go's file writer puts it.
func TestFooterLayout(t *testing.T) {
	data := fileBytes(t, 10, 10)
	if string(data[len(data)-6:]) != "ARROW1" || int(binary.LittleEndian.Uint32(data[len(data)-10:])) >= len(data) {
		t.Fatalf("unexpected file tail %q", data[len(data)-10:])
	}
}
