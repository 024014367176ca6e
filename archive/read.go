package archive

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Every reader of a file from disk bounds what the file can make it
// allocate, since arrow-go allocates whatever a file declares:
//
//   - message lengths: metadata and body must fit in the bytes left in the
//     file (streamGuard here; arrow-go's file reader checks its footer's
//     blocks against the file size itself), and metadata in maxMetadataBytes;
//   - everything else, chiefly the uncompressed size each compressed buffer
//     declares: a budgetAllocator refuses it beyond ReadBudget.
//
// Both turn a bad file into an error wrapping ErrDeclaredSize or
// ErrOverBudget before the runtime allocates anything.

// ErrDeclaredSize reports a message whose declared length does not fit in
// the file (or is negative, or over the metadata limit).
var ErrDeclaredSize = errors.New("declared length beyond the file")

// tornError marks where the readable stream ended.
type tornError struct{ err error }

func (e tornError) Error() string { return "torn: " + e.err.Error() }

func (e tornError) Unwrap() error { return e.err }

func isTorn(err error) bool {
	var t tornError
	return errors.As(err, &t)
}

// readBatches skips the 8-byte file magic of a file of size bytes and calls
// fn for each complete batch of the IPC stream that follows. A read or
// decode failure, including a panic inside the IPC reader on corrupt bytes,
// a length declared beyond the end of the file (ErrDeclaredSize) and a
// batch needing more than ReadBudget (ErrOverBudget), ends the stream with
// a tornError; an error from fn is returned as is. mem (nil: the Go
// allocator) is drawn from through a ReadBudget budget.
func readBatches(r io.Reader, size int64, mem memory.Allocator, fn func(arrow.RecordBatch) error) error {
	return readBatchesBudget(r, size, newBudgetAllocator(mem, ReadBudget), fn)
}

// readBatchesBudget is readBatches with the allocator, and so the budget,
// given.
func readBatchesBudget(r io.Reader, size int64, mem *budgetAllocator, fn func(arrow.RecordBatch) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = tornError{recovered("corrupt batch", p)}
		}
	}()
	if _, err := io.CopyN(io.Discard, r, 8); err != nil {
		return tornError{err}
	}
	g := &streamGuard{r: r, left: size - 8, off: 8}
	rd, err := ipc.NewReader(g, ipc.WithAllocator(mem), ipc.WithMetadataSizeLimit(maxMetadataBytes))
	if err != nil {
		return tornError{err}
	}
	defer rd.Release()
	for rd.Next() {
		if err := checkRows(rd.RecordBatch()); err != nil {
			return tornError{err}
		}
		if err := fn(rd.RecordBatch()); err != nil {
			return err
		}
	}
	if err := rd.Err(); err != nil {
		return tornError{err}
	}
	return nil
}

// recovered turns a recovered panic into an error, keeping an error's
// chain (a *budgetError stays an ErrOverBudget).
func recovered(what string, p any) error {
	if err, ok := p.(error); ok {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %v", what, p)
}

// streamGuard passes an IPC stream through unchanged, and checks each
// message's framing before its reader sees it: the 4-byte continuation
// marker and 4-byte metadata length, then the metadata, whose flatbuffer
// declares the body length. A metadata length that is negative, over
// maxMetadataBytes or beyond the end of the file, or a body length beyond
// the end of the file, fails the read with ErrDeclaredSize, so arrow-go
// never allocates for it. Past the end-of-stream marker it passes bytes
// through unchecked (a published file's footer follows; readers stop).
type streamGuard struct {
	r       io.Reader
	left    int64  // bytes of the file after off
	off     int64  // of the next byte read from r
	pending []byte // framing and metadata read and checked, not yet handed on
	body    int64  // body bytes of the current message not yet handed on
	done    bool   // end-of-stream marker seen
}

// Read implements io.Reader.
func (g *streamGuard) Read(p []byte) (int, error) {
	if len(g.pending) == 0 && g.body == 0 && !g.done {
		if err := g.nextMessage(); err != nil {
			return 0, err
		}
	}
	if len(g.pending) > 0 {
		n := copy(p, g.pending)
		g.pending = g.pending[n:]
		return n, nil
	}
	if !g.done && int64(len(p)) > g.body {
		p = p[:g.body]
	}
	n, err := g.r.Read(p)
	g.off += int64(n)
	g.left -= int64(n)
	if !g.done {
		g.body -= int64(n)
	}
	return n, err
}

// nextMessage reads and checks the framing and metadata of the next
// message into pending.
func (g *streamGuard) nextMessage() error {
	start := g.off
	head, err := g.take(4)
	if err != nil {
		return err
	}
	metaLen := int64(int32(binary.LittleEndian.Uint32(head)))
	if uint32(metaLen) == 0xFFFFFFFF { // continuation marker, then the length
		if head, err = g.take(4); err != nil {
			return err
		}
		metaLen = int64(int32(binary.LittleEndian.Uint32(head)))
	}
	if metaLen == 0 { // end of stream
		g.done = true
		return nil
	}
	if metaLen < 0 || metaLen > maxMetadataBytes || metaLen > g.left {
		return fmt.Errorf("message at byte %d declares %d bytes of metadata, %d left in the file (limit %d): %w",
			start, metaLen, g.left, maxMetadataBytes, ErrDeclaredSize)
	}
	meta, err := g.take(int(metaLen))
	if err != nil {
		return err
	}
	body, ok := messageBodyLength(meta)
	if !ok {
		return fmt.Errorf("message at byte %d: unreadable metadata", start)
	}
	if err := checkMessageVectors(meta); err != nil {
		return fmt.Errorf("message at byte %d: %w: %w", start, err, ErrDeclaredSize)
	}
	if body < 0 || body > g.left {
		return fmt.Errorf("message at byte %d declares a body of %d bytes, %d left in the file: %w", start, body, g.left, ErrDeclaredSize)
	}
	g.body = body
	return nil
}

// take reads n more bytes of framing into pending and returns them.
func (g *streamGuard) take(n int) ([]byte, error) {
	at := len(g.pending)
	g.pending = append(g.pending, make([]byte, n)...)
	got, err := io.ReadFull(g.r, g.pending[at:])
	g.off += int64(got)
	g.left -= int64(got)
	if err != nil {
		return nil, fmt.Errorf("message framing at byte %d: %w", g.off, err)
	}
	return g.pending[at:], nil
}

// messageBodyLength reads bodyLength (field 3, an int64) from the root
// table of a flatbuffer-encoded Arrow Message, checking every offset it
// follows against the buffer. An absent field means 0.
func messageBodyLength(fb []byte) (int64, bool) {
	u32 := func(at int) (int, bool) {
		if at < 0 || at+4 > len(fb) {
			return 0, false
		}
		return int(binary.LittleEndian.Uint32(fb[at:])), true
	}
	table, ok := u32(0)
	if !ok {
		return 0, false
	}
	soff, ok := u32(table)
	if !ok {
		return 0, false
	}
	vtable := table - int(int32(soff))
	if vtable < 0 || vtable+4 > len(fb) {
		return 0, false
	}
	const slot = 4 + 2*3 // the vtable's entry for field 3, bodyLength
	if int(binary.LittleEndian.Uint16(fb[vtable:])) < slot+2 {
		return 0, true
	}
	if vtable+slot+2 > len(fb) {
		return 0, false
	}
	field := int(binary.LittleEndian.Uint16(fb[vtable+slot:]))
	if field == 0 {
		return 0, true
	}
	if at := table + field; at+8 <= len(fb) {
		return int64(binary.LittleEndian.Uint64(fb[at:])), true
	}
	return 0, false
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func drain(r io.Reader) int64 {
	n, _ := io.Copy(io.Discard, r)
	return n
}
