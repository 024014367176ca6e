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

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/certstream-arrow/certstream-arrow/schema"
	"github.com/certstream-arrow/certstream-arrow/stream"
)

var readHour = time.Date(2026, 11, 24, 13, 0, 0, 0, time.UTC)

// readRow is a certificate row with enough text that its buffers compress.
func readRow(i int) *stream.Update {
	return &stream.Update{Kind: stream.KindCertificate, ReceivedAt: readHour.Add(time.Second), Seen: readHour,
		CertIndex: int64(i), HasCertIndex: true, SourceURL: []byte("https://ct.example/log/"),
		Domains: [][]byte{fmt.Appendf(nil, "host-%d.example.com", i), fmt.Appendf(nil, "www.host-%d.example.com", i)}}
}

// writeDataset publishes one file of rows rows in batches of batch rows
// under a new root and returns the root and the file's path.
func writeDataset(tb testing.TB, rows, batch int) (root, file string) {
	tb.Helper()
	root = tb.TempDir()
	d, err := Open(Options{Root: root, Schema: schema.New("test"), Collector: "readers", BatchRows: batch,
		FlushInterval: time.Hour, Now: func() time.Time { return readHour.Add(time.Minute) }})
	if err != nil {
		tb.Fatal(err)
	}
	for i := range rows {
		d.Append(readRow(i))
	}
	if err := d.Close(); err != nil {
		tb.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(root, "hour=*", "*"+Ext))
	if len(files) != 1 {
		tb.Fatalf("published %v, want one file", files)
	}
	return root, files[0]
}

// fileBytes returns the bytes of a real published file of rows rows.
func fileBytes(tb testing.TB, rows, batch int) []byte {
	tb.Helper()
	_, file := writeDataset(tb, rows, batch)
	data, err := os.ReadFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// ipcMessage is where one message of the IPC stream inside a file lies.
type ipcMessage struct {
	start   int      // of its framing (continuation marker)
	meta    int      // of its flatbuffer metadata
	metaLen int      // as declared in the framing
	body    int      // of its body
	bodyLen int64    // as declared in the metadata
	buffers [][2]int // of a record batch: each buffer's offset and length in the file
	zstd    bool     // its buffers are compressed, each after an 8-byte uncompressed length
}

// messages parses the IPC stream of a well-formed file from byte 8 up to
// its end-of-stream marker.
func messages(tb testing.TB, data []byte) []ipcMessage {
	tb.Helper()
	var out []ipcMessage
	for at := 8; ; {
		metaLen := int(binary.LittleEndian.Uint32(data[at+4:]))
		if metaLen == 0 {
			return out
		}
		m := ipcMessage{start: at, meta: at + 8, metaLen: metaLen, body: at + 8 + metaLen}
		fb := data[m.meta:m.body]
		msg := fbRoot(fb)
		m.bodyLen = msg.int64(3)
		if msg.uint8(1) == 3 { // header_type RecordBatch
			batch := msg.table(2)
			m.zstd = batch.table(3).pos != 0
			start, n := batch.vector(2)
			for i := range n {
				e := start + 16*i
				off, length := binary.LittleEndian.Uint64(fb[e:]), binary.LittleEndian.Uint64(fb[e+8:])
				m.buffers = append(m.buffers, [2]int{m.body + int(off), int(length)})
			}
		}
		out = append(out, m)
		at = m.body + int(m.bodyLen)
	}
}

// fbTable is a flatbuffer table at pos of b, read without checks: tests
// only parse files this program wrote.
type fbTable struct {
	b   []byte
	pos int
}

func fbRoot(b []byte) fbTable { return fbTable{b, int(binary.LittleEndian.Uint32(b))} }

// field returns the position of field i, 0 if absent.
func (t fbTable) field(i int) int {
	if t.pos == 0 {
		return 0
	}
	vt := t.pos - int(int32(binary.LittleEndian.Uint32(t.b[t.pos:])))
	if 4+2*i >= int(binary.LittleEndian.Uint16(t.b[vt:])) {
		return 0
	}
	if off := int(binary.LittleEndian.Uint16(t.b[vt+4+2*i:])); off != 0 {
		return t.pos + off
	}
	return 0
}

func (t fbTable) int64(i int) int64 {
	if at := t.field(i); at != 0 {
		return int64(binary.LittleEndian.Uint64(t.b[at:]))
	}
	return 0
}

func (t fbTable) uint8(i int) uint8 {
	if at := t.field(i); at != 0 {
		return t.b[at]
	}
	return 0
}

func (t fbTable) table(i int) fbTable {
	if at := t.field(i); at != 0 {
		return fbTable{t.b, at + int(binary.LittleEndian.Uint32(t.b[at:]))}
	}
	return fbTable{t.b, 0}
}

// vector returns where the elements of vector field i start, and how many.
func (t fbTable) vector(i int) (start, n int) {
	at := t.field(i)
	if at == 0 {
		return 0, 0
	}
	v := at + int(binary.LittleEndian.Uint32(t.b[at:]))
	return v + 4, int(binary.LittleEndian.Uint32(t.b[v:]))
}

// largestCompressed returns the position in data of the 8-byte
// uncompressed-length prefix of the largest compressed buffer of the first
// record batch.
func largestCompressed(tb testing.TB, data []byte) int {
	tb.Helper()
	best, at := -1, -1
	for _, m := range messages(tb, data) {
		if m.buffers == nil {
			continue
		}
		if !m.zstd {
			tb.Fatal("record batch is not compressed")
		}
		for _, b := range m.buffers {
			if b[1] >= 8 && int64(binary.LittleEndian.Uint64(data[b[0]:])) != -1 && b[1] > best {
				best, at = b[1], b[0]
			}
		}
		return at
	}
	tb.Fatal("no record batch")
	return 0
}

// patched returns a copy of data with v written little-endian at at.
func patched[T uint32 | uint64](data []byte, at int, v T) []byte {
	out := bytes.Clone(data)
	if _, err := binary.Encode(out[at:], binary.LittleEndian, v); err != nil {
		panic(err)
	}
	return out
}

// hugeDeclarations are real files with one declared size made huge or
// negative, and what reading them as a stream from byte 8 must report.
func hugeDeclarations(tb testing.TB) []struct {
	name string
	data []byte
	want error
} {
	tb.Helper()
	data := fileBytes(tb, 40, 10)
	ms := messages(tb, data)
	batch := ms[1] // ms[0] is the schema
	prefix := largestCompressed(tb, data)
	return []struct {
		name string
		data []byte
		want error
	}{
		{"uncompressed size 1 TiB", patched(data, prefix, uint64(1)<<40), ErrOverBudget},
		{"uncompressed size 2 GiB", patched(data, prefix, uint64(2)<<30), ErrOverBudget},
		{"uncompressed size negative", patched(data, prefix, uint64(1)<<63), nil},
		{"metadata length 2 GiB-1", patched(data, batch.start+4, uint32(1<<31-1)), ErrDeclaredSize},
		{"metadata length negative", patched(data, batch.start+4, uint32(0x80000000)), ErrDeclaredSize},
		{"body length 1 TiB", patched(data, batch.meta+fieldPos(tb, data, batch, 3), uint64(1)<<40), ErrDeclaredSize},
		{"body length negative", patched(data, batch.meta+fieldPos(tb, data, batch, 3), uint64(1)<<63), ErrDeclaredSize},
	}
}

// fieldPos returns where field i of message m's root table lies, relative
// to its metadata.
func fieldPos(tb testing.TB, data []byte, m ipcMessage, i int) int {
	tb.Helper()
	at := fbRoot(data[m.meta : m.meta+m.metaLen]).field(i)
	if at == 0 {
		tb.Fatalf("message at %d has no field %d", m.start, i)
	}
	return at
}

// A file declaring sizes it cannot hold is refused with a clear error, the
// batches before the damage still read, and nothing like the declared size
// is ever allocated.
func TestReadBatchesRefusesHugeDeclarations(t *testing.T) {
	for _, tc := range hugeDeclarations(t) {
		t.Run(tc.name, func(t *testing.T) {
			checked := memory.NewCheckedAllocator(memory.NewGoAllocator())
			mem := newBudgetAllocator(checked, 64<<20)
			rows := int64(0)
			err := readBatchesBudget(bytes.NewReader(tc.data), int64(len(tc.data)), mem, func(rec arrow.RecordBatch) error {
				rows += rec.NumRows()
				return nil
			})
			if !isTorn(err) {
				t.Fatalf("err = %v, want a torn stream", err)
			}
			t.Log(err)
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
			if rows != 0 { // the damage is in the first batch
				t.Errorf("read %d rows from a damaged first batch", rows)
			}
			if mem.Live() > 64<<20 {
				t.Errorf("%d bytes still allocated", mem.Live())
			}
		})
	}
}

// The guard changes nothing for a sound file, and tells a torn tail (a
// crash mid-batch) from a complete stream.
func TestReadBatchesSoundAndTorn(t *testing.T) {
	data := fileBytes(t, 45, 10)
	ms := messages(t, data)
	eos := ms[len(ms)-1].body + int(ms[len(ms)-1].bodyLen)
	cases := []struct {
		name string
		data []byte
		rows int64
		torn bool
	}{
		{"published file", data, 45, false},
		{"stream without footer", data[:eos+8], 45, false},
		{"torn in last body", data[:ms[len(ms)-1].body+5], 40, true},
		{"torn in last metadata", data[:ms[len(ms)-1].meta+3], 40, true},
		{"torn in last framing", data[:ms[len(ms)-1].start+6], 40, true},
		{"magic only", data[:8], 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checked := memory.NewCheckedAllocator(memory.NewGoAllocator())
			var rows int64
			err := readBatches(bytes.NewReader(tc.data), int64(len(tc.data)), checked, func(rec arrow.RecordBatch) error {
				rows += rec.NumRows()
				return nil
			})
			if rows != tc.rows || isTorn(err) != tc.torn || err != nil && !tc.torn {
				t.Errorf("rows %d torn %v (err %v), want rows %d torn %v", rows, isTorn(err), err, tc.rows, tc.torn)
			}
			if !tc.torn {
				checked.AssertSize(t, 0)
			}
		})
	}
}

// fn's error comes back as is, not as a torn stream.
func TestReadBatchesCallbackError(t *testing.T) {
	data := fileBytes(t, 20, 10)
	stop := errors.New("stop")
	err := readBatches(bytes.NewReader(data), int64(len(data)), nil, func(arrow.RecordBatch) error { return stop })
	if err != stop {
		t.Errorf("err = %v, want %v", err, stop)
	}
}

func TestBudgetAllocator(t *testing.T) {
	mem := newBudgetAllocator(nil, 1000)
	a := mem.Allocate(600)
	if got := refused(func() { mem.Allocate(500) }); !errors.Is(got, ErrOverBudget) || !strings.Contains(got.Error(), "500 bytes asked with 600 in use, budget 1000") {
		t.Errorf("over budget: %v", got)
	}
	a = mem.Reallocate(900, a)
	if got := refused(func() { mem.Reallocate(1001, a) }); !errors.Is(got, ErrOverBudget) {
		t.Errorf("reallocate over budget: %v", got)
	}
	mem.Free(a)
	if got := refused(func() { mem.Free(mem.Allocate(1000)) }); got != nil || mem.Live() != 0 {
		t.Errorf("within budget after free: %v, live %d", got, mem.Live())
	}
	if got := refused(func() { mem.Allocate(-1) }); got == nil {
		t.Error("negative size allowed")
	}
}

// refused runs fn and returns what it panicked with, as an error.
func refused(fn func()) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = recovered("allocate", p)
		}
	}()
	fn()
	return nil
}
