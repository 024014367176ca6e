// Package archivetest reads a certstream-arrow dataset back for tests: every
// published file, as an Arrow IPC file and again as an IPC stream from byte
// 8 (DuckDB's path), into plain Go values that tests compare with what the
// server sent.
package archivetest

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Row is one row: column name to value. Null is nil; otherwise string,
// []byte, int64, bool, time.Time (UTC) or []string.
type Row map[string]any

// File is one published file read back.
type File struct {
	Path    string // relative to the dataset root
	Schema  *arrow.Schema
	Batches int
	Rows    []Row
}

// Published lists the published files under root (root/*/*.feather), sorted.
func Published(tb testing.TB, root string) []string {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join(root, "*", "*.feather"))
	if err != nil {
		tb.Fatal(err)
	}
	sort.Strings(paths)
	return paths
}

// ReadDataset reads every published file under root. It fails the test if a
// file does not read identically as an IPC file and as a stream from byte 8,
// or if its batches do not use zstd.
func ReadDataset(tb testing.TB, root string) []File {
	tb.Helper()
	var files []File
	for _, p := range Published(tb, root) {
		f, err := ReadFile(p)
		if err != nil {
			tb.Fatalf("read %s: %v", p, err)
		}
		f.Path, _ = filepath.Rel(root, p)
		files = append(files, f)
	}
	return files
}

// AllRows concatenates the rows of files.
func AllRows(files []File) []Row {
	var rows []Row
	for _, f := range files {
		rows = append(rows, f.Rows...)
	}
	return rows
}

// ReadFile reads one Feather file both ways and checks they agree.
func ReadFile(path string) (File, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return File{}, err
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	fileRows, sch, batches, err := readIPCFile(raw, mem)
	if err != nil {
		return File{}, fmt.Errorf("as IPC file: %w", err)
	}
	if len(raw) < 8 {
		return File{}, fmt.Errorf("file of %d bytes", len(raw))
	}
	streamRows, err := readIPCStream(raw[8:], mem)
	if err != nil {
		return File{}, fmt.Errorf("as IPC stream from byte 8: %w", err)
	}
	if !reflect.DeepEqual(fileRows, streamRows) {
		return File{}, fmt.Errorf("file and stream-from-byte-8 readings differ (%d vs %d rows)", len(fileRows), len(streamRows))
	}
	if n := mem.CurrentAlloc(); n != 0 {
		return File{}, fmt.Errorf("reader leaked %d bytes", n)
	}
	if !bytes.Contains(raw, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		return File{}, fmt.Errorf("no zstd frame in file")
	}
	return File{Schema: sch, Batches: batches, Rows: fileRows}, nil
}

func readIPCFile(raw []byte, mem memory.Allocator) ([]Row, *arrow.Schema, int, error) {
	r, err := ipc.NewFileReader(bytes.NewReader(raw), ipc.WithAllocator(mem))
	if err != nil {
		return nil, nil, 0, err
	}
	defer r.Close()
	var rows []Row
	for i := 0; i < r.NumRecords(); i++ {
		rec, err := r.RecordBatch(i)
		if err != nil {
			return nil, nil, 0, err
		}
		rows = append(rows, Rows(rec)...)
	}
	return rows, r.Schema(), r.NumRecords(), nil
}

func readIPCStream(raw []byte, mem memory.Allocator) ([]Row, error) {
	r, err := ipc.NewReader(bytes.NewReader(raw), ipc.WithAllocator(mem))
	if err != nil {
		return nil, err
	}
	defer r.Release()
	var rows []Row
	for r.Next() {
		rows = append(rows, Rows(r.RecordBatch())...)
	}
	return rows, r.Err()
}

// Rows converts a record batch to rows.
func Rows(rec arrow.RecordBatch) []Row {
	rows := make([]Row, rec.NumRows())
	for i := range rows {
		rows[i] = Row{}
	}
	for c, col := range rec.Columns() {
		name := rec.ColumnName(c)
		for i := range rows {
			rows[i][name] = value(col, i)
		}
	}
	return rows
}

// value returns row i of col as a plain Go value: string, []byte, int64,
// bool, time.Time or []string. Digests (fixed-size binary) are returned as
// uppercase hex, as DuckDB's hex() shows them.
func value(col arrow.Array, i int) any {
	if col.IsNull(i) {
		return nil
	}
	switch a := col.(type) {
	case *array.String:
		return strings.Clone(a.Value(i))
	case *array.LargeString:
		return strings.Clone(a.Value(i))
	case *array.Binary:
		return bytes.Clone(a.Value(i))
	case *array.LargeBinary:
		return bytes.Clone(a.Value(i))
	case *array.FixedSizeBinary:
		return strings.ToUpper(hex.EncodeToString(a.Value(i)))
	case *array.Int64:
		return a.Value(i)
	case *array.Boolean:
		return a.Value(i)
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return a.Value(i).ToTime(unit).UTC()
	case array.ListLike:
		start, end := a.ValueOffsets(i)
		vals, ok := a.ListValues().(interface{ Value(int) string })
		if !ok {
			break
		}
		out := make([]string, 0, end-start)
		for j := start; j < end; j++ {
			out = append(out, vals.Value(int(j)))
		}
		return out
	}
	return fmt.Sprintf("unsupported type %s", col.DataType())
}

// Time converts seconds since the epoch (with fraction), as CertStream
// sends them, to a UTC time truncated to unit.
func Time(sec float64, unit time.Duration) time.Time {
	return time.UnixMicro(int64(math.Round(sec * 1e6))).UTC().Truncate(unit)
}

// ReadPartialStream reads the complete batches of a file that may still be
// open or torn (a temporary file), as an IPC stream from byte 8.
func ReadPartialStream(path string) ([]Row, error) {
	raw, err := os.ReadFile(path)
	if err != nil || len(raw) < 8 {
		return nil, fmt.Errorf("read %s: %d bytes, %v", path, len(raw), err)
	}
	return readIPCStream(raw[8:], memory.NewGoAllocator())
}
