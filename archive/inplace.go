package archive

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// In-place salvage. A temporary file is an Arrow IPC file being written:
// the magic, then an IPC stream (schema, record batches) torn somewhere
// after a crash. What it lacks to be a complete file is a tail: the
// end-of-stream marker, the footer (the schema and the offset and lengths
// of every batch), the footer's length and the magic. Salvage decodes each
// complete batch (one at a time, which checks it) and notes where its
// message lies. arrow-go builds footers only inside an ipc.FileWriter, so
// the tail is taken from a FileWriter given the same schema and as many
// empty batches, and the blocks of its footer (fixed-size structs at fixed
// places, whatever their values) are overwritten with those of the file's
// batches. The file is then cut after its last complete batch, the tail
// appended, the file fsynced, checked and renamed to its final name: no
// space is needed beyond the tail, and no batch is encoded again. A file
// whose layout this does not cover (dictionaries, no continuation markers:
// another writer) is copied instead (copyBatches).
//
// A crash at any step leaves a temporary file that salvage handles again:
// cut but no tail, it is a torn stream ending at a batch boundary; with
// part of the tail, a torn stream whose tail is dropped; with the whole
// tail, a complete file whose stream ends at the end-of-stream marker. Each
// time the same batches are found, the same tail is written at the same
// offset, and the one rename publishes them once.

// scan is what reading a temporary file found.
type scan struct {
	rows     int64
	lastRows int64 // rows of the last complete batch
	good     int64 // bytes up to the end of the last complete batch
	size     int64 // bytes read from the file
	readErr  error // why the stream ended, if not at a clean end
	badMagic bool  // the file does not start as an Arrow file does
	zeros    bool  // every byte read is zero
	schema   *arrow.Schema
	blocks   []block // where each complete batch lies
	odd      bool    // a message framed otherwise than our writer frames it
	tail     []byte  // what completes the file in place; nil if it cannot be
}

// block is where one record batch message lies in a file, as a footer
// records it.
type block struct {
	offset, meta, body int64
}

// corrupt reports whether the file holds bytes that no crash of our writer
// leaves: not an Arrow file, or a stream that fails for another reason
// than ending early.
func (sc *scan) corrupt() bool {
	return sc.badMagic && !sc.zeros || sc.readErr != nil && !endedEarly(sc.readErr)
}

// endedEarly reports whether a read error only says that the bytes ran out
// mid-message: a torn tail. A message declaring a length beyond the end of
// the file (ErrDeclaredSize) is what a torn last message looks like.
func endedEarly(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, ErrDeclaredSize)
}

// arrowMagic is how every Arrow IPC file starts: "ARROW1" and two bytes of
// padding.
var arrowMagic = []byte("ARROW1\x00\x00")

// scanFile reads the temporary file name batch by batch, noting where each
// complete batch lies, and works out the tail that completes it in place.
// An error means the file could not be opened.
func (s *salvager) scanFile(name string) (*scan, error) {
	fi, err := s.fsys.stat(name)
	if err != nil {
		return nil, err
	}
	r, err := s.fsys.open(name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	at, ok := r.(io.ReaderAt)
	if !ok {
		return nil, fmt.Errorf("open %s: cannot read at offsets", name)
	}
	sc := &scan{}
	br := bufio.NewReaderSize(io.NewSectionReader(at, 0, fi.Size()), 256<<10)
	head, _ := br.Peek(len(arrowMagic)) // shorter if the file is
	sc.badMagic = !bytes.HasPrefix(arrowMagic, head)
	in := &countingReader{r: br}
	sc.readErr = readBatches(in, fi.Size(), s.mem, func(rec arrow.RecordBatch) error {
		sc.note(at, rec, in.n)
		return nil
	})
	read := in.n // before drain, which adds to in.n
	sc.size = read + drain(in)
	sc.zeros = sc.badMagic && allZero(name, s.fsys)
	if sc.rows > 0 && !sc.odd {
		sc.tail = tailFor(sc.schema, sc.blocks, s.mem)
	}
	return sc, nil
}

// note records a complete batch whose message ends at end. Its message
// starts where the previous one ended (the first, after the schema's); the
// split between metadata and body is read from its length prefix.
func (sc *scan) note(at io.ReaderAt, rec arrow.RecordBatch, end int64) {
	start := sc.good
	if len(sc.blocks) == 0 {
		sc.schema = rec.Schema()
		schemaMeta, ok := metaLength(at, int64(len(arrowMagic)))
		start = int64(len(arrowMagic)) + schemaMeta // a schema message has no body
		sc.odd = !ok || hasDictionaries(sc.schema.Fields())
	}
	meta, ok := metaLength(at, start)
	b := block{offset: start, meta: meta, body: end - start - meta}
	sc.odd = sc.odd || !ok || b.body < 0
	sc.blocks = append(sc.blocks, b)
	sc.rows += rec.NumRows()
	sc.lastRows = rec.NumRows()
	sc.good = end
}

// metaLength returns the length of the metadata of the message at off,
// prefix included, as a footer block counts it. ok is false unless the
// message starts with the continuation marker our writer always writes.
func metaLength(at io.ReaderAt, off int64) (int64, bool) {
	var prefix [8]byte
	if _, err := at.ReadAt(prefix[:], off); err != nil || binary.LittleEndian.Uint32(prefix[:4]) != 0xFFFFFFFF {
		return 0, false
	}
	n := int64(int32(binary.LittleEndian.Uint32(prefix[4:])))
	return 8 + n, n > 0
}

// hasDictionaries reports whether any field, at any depth, is dictionary
// encoded: dictionary messages would need blocks of their own.
func hasDictionaries(fields []arrow.Field) bool {
	for _, f := range fields {
		if f.Type.ID() == arrow.DICTIONARY {
			return true
		}
		if n, ok := f.Type.(arrow.NestedType); ok && hasDictionaries(n.Fields()) {
			return true
		}
	}
	return false
}

// tailFor returns the end-of-stream marker, footer, footer length and magic
// that complete a file of schema whose batches lie at blocks, or nil if
// they cannot be made. An ipc.FileWriter given the schema and one empty
// batch per block writes such a tail with the same layout; only the values
// of its blocks differ, and they are overwritten.
func tailFor(schema *arrow.Schema, blocks []block, mem memory.Allocator) []byte {
	w := &tailWriter{}
	fw, err := ipc.NewFileWriter(w, ipc.WithSchema(schema), ipc.WithAllocator(mem))
	if err != nil {
		return nil
	}
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	empty := b.NewRecordBatch()
	defer empty.Release()
	for range blocks {
		if err := fw.Write(empty); err != nil {
			_ = fw.Close()
			return nil
		}
	}
	w.capture = true
	if err := fw.Close(); err != nil || w.tail.Len() < 8+10 {
		return nil
	}
	tail := w.tail.Bytes()
	if !patchBlocks(tail[8:len(tail)-10], blocks) {
		return nil
	}
	return tail
}

// tailWriter discards what is written to it until capture is set, then
// keeps it.
type tailWriter struct {
	capture bool
	tail    bytes.Buffer
}

func (w *tailWriter) Write(p []byte) (int, error) {
	if !w.capture {
		return len(p), nil
	}
	return w.tail.Write(p)
}

// patchBlocks overwrites the record batch blocks of the Footer flatbuffer
// fb with blocks, checking every offset it follows. A Footer is a table
// whose field 3 is a vector of Block structs of 24 bytes: offset int64,
// metaDataLength int32, 4 bytes of padding, bodyLength int64.
func patchBlocks(fb []byte, blocks []block) bool {
	u32 := func(at int) (int, bool) {
		if at < 0 || at+4 > len(fb) {
			return 0, false
		}
		return int(binary.LittleEndian.Uint32(fb[at:])), true
	}
	table, ok1 := u32(0)
	soff, ok2 := u32(table)
	vtable := table - int(int32(soff))
	vlen, ok3 := u32(vtable)
	const slot = 4 + 2*3 // recordBatches, field 3
	if !ok1 || !ok2 || !ok3 || vlen&0xFFFF < slot+2 {
		return false
	}
	field := int(binary.LittleEndian.Uint16(fb[vtable+slot:]))
	rel, ok := u32(table + field)
	vec := table + field + rel
	n, ok4 := u32(vec)
	if field == 0 || !ok || !ok4 || n != len(blocks) || vec+4+24*n > len(fb) {
		return false
	}
	for i, b := range blocks {
		at := fb[vec+4+24*i:]
		binary.LittleEndian.PutUint64(at[0:], uint64(b.offset))
		binary.LittleEndian.PutUint32(at[8:], uint32(b.meta))
		binary.LittleEndian.PutUint64(at[16:], uint64(b.body))
	}
	return true
}

// allZero reports whether the file holds only zero bytes, as a file whose
// size reached the disk but whose first write did not may after a power
// cut.
func allZero(name string, fsys fsys) bool {
	r, err := fsys.open(name)
	if err != nil {
		return false
	}
	defer r.Close()
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		c, err := br.ReadByte()
		if err != nil {
			return errors.Is(err, io.EOF)
		}
		if c != 0 {
			return false
		}
	}
}

// errVerify reports a file finished in place that does not read back as
// expected.
var errVerify = errors.New("finished file does not read back")

// finishInPlace cuts dir/tmp after its last complete batch, appends the
// tail sc found, fsyncs, checks the result and renames it to dir/final.
func (s *salvager) finishInPlace(dir, tmp, final string, sc *scan) error {
	name := path.Join(dir, tmp)
	f, err := s.fsys.edit(name)
	if err != nil {
		return err
	}
	err = f.Truncate(sc.good)
	if err == nil {
		_, err = f.WriteAt(sc.tail, sc.good)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("finish %s in place: %w", name, err)
	}
	if err := s.verify(name, sc); err != nil {
		return fmt.Errorf("%w: %s: %w", errVerify, name, err)
	}
	return s.fsys.rename(dir, tmp, final)
}

// verify checks a file finished in place: its footer lists the batches the
// scan found, with their schema, the first and last of them decode (the
// last to its rows), and
// the stream that the scan read up to good ends there with the
// end-of-stream marker. The stream before good is not read again: the
// scan just read it, and finishing only wrote after it.
func (s *salvager) verify(name string, sc *scan) (err error) {
	defer func() {
		if p := recover(); p != nil { // corrupt bytes can panic inside the IPC reader
			err = fmt.Errorf("corrupt file: %v", p)
		}
	}()
	r, err := s.fsys.open(name)
	if err != nil {
		return err
	}
	defer r.Close()
	f, ok := r.(ipc.ReadAtSeeker)
	if !ok {
		return errors.New("file cannot be read at offsets")
	}
	eos := make([]byte, 8)
	if _, err := f.ReadAt(eos, sc.good); err != nil || !bytes.Equal(eos, []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}) {
		return fmt.Errorf("no end-of-stream marker at %d (%v)", sc.good, err)
	}
	fr, err := ipc.NewFileReader(f, ipc.WithAllocator(s.mem))
	if err != nil {
		return err
	}
	defer fr.Close()
	if fr.NumRecords() != len(sc.blocks) || !fr.Schema().Equal(sc.schema) {
		return fmt.Errorf("footer lists %d batches, want %d, or its schema differs", fr.NumRecords(), len(sc.blocks))
	}
	if _, err := fr.RecordBatch(0); err != nil {
		return fmt.Errorf("first batch: %w", err)
	}
	last, err := fr.RecordBatch(len(sc.blocks) - 1)
	if err != nil {
		return fmt.Errorf("last batch: %w", err)
	}
	if last.NumRows() != sc.lastRows {
		return fmt.Errorf("last batch has %d rows, want %d", last.NumRows(), sc.lastRows)
	}
	return nil
}
