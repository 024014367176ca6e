package archive

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
)

// In-place salvage. A temporary file is an Arrow IPC file being written:
// the magic, then an IPC stream (schema, record batches) torn somewhere
// after a crash. What it lacks to be a complete file is a tail: the
// end-of-stream marker, the footer (the schema and the offset and lengths
// of every batch), the footer's length and the magic. arrow-go writes that
// footer only from an ipc.FileWriter, so salvage decodes each complete batch
// (one at a time) and writes it again through a FileWriter configured as
// createFile configures it, into a sink that compares every byte with the
// file's own bytes instead of storing them. If every byte matches (the same
// arrow-go and zstd wrote the file: a restart after a crash), the
// FileWriter's tail is exactly the tail the file needs: the file is cut
// after its last complete batch, the tail appended, the file fsynced,
// checked and renamed to its final name. Salvage then needs no space beyond
// the tail, however large the file. If any byte differs, the batches are
// copied into a new file instead (copyBatches).
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
	batches  int
	lastRows int64 // rows of the last complete batch
	good     int64 // bytes up to the end of the last complete batch
	size     int64 // bytes read from the file
	readErr  error // why the stream ended, if not at a clean end
	badMagic bool  // the file does not start as an Arrow file does
	zeros    bool  // every byte read is zero
	tail     []byte
	schema   *arrow.Schema
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

// scanFile reads dir/tmp, batch by batch, and re-encodes each batch to find
// the tail that completes the file in place (nil if the re-encoded bytes
// differ from the file's). An error means the file could not be opened.
func (s *salvager) scanFile(name string) (*scan, error) {
	fi, err := s.fsys.stat(name)
	if err != nil {
		return nil, err
	}
	a, err := s.fsys.open(name)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	b, err := s.fsys.open(name)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	sc := &scan{}
	br := bufio.NewReaderSize(a, 256<<10)
	head, _ := br.Peek(len(arrowMagic)) // shorter if the file is
	sc.badMagic = !bytes.HasPrefix(arrowMagic, head)
	in := &countingReader{r: br}
	sink := &compareWriter{r: bufio.NewReaderSize(b, 256<<10)}
	re := &reencoder{s: s, sink: sink}
	sc.readErr = readBatches(in, fi.Size(), s.mem, func(rec arrow.RecordBatch) error {
		re.write(rec)
		sc.rows += rec.NumRows()
		sc.batches++
		sc.lastRows = rec.NumRows()
		sc.good = in.n
		sc.schema = rec.Schema()
		return nil
	})
	sc.size = in.n + drain(in)
	sc.zeros = sc.badMagic && allZero(name, s.fsys)
	sc.tail = re.finish(sc.good)
	return sc, nil
}

// reencoder writes decoded batches again into a compareWriter.
type reencoder struct {
	s    *salvager
	sink *compareWriter
	w    *ipc.FileWriter
}

func (re *reencoder) write(rec arrow.RecordBatch) {
	if re.sink.differs {
		return
	}
	if re.w == nil {
		var err error
		re.w, err = ipc.NewFileWriter(re.sink, ipc.WithSchema(rec.Schema()), ipc.WithZstd(), ipc.WithAllocator(re.s.mem))
		if err != nil {
			re.sink.differs = true
			return
		}
	}
	if err := re.w.Write(rec); err != nil {
		re.sink.differs = true
	}
}

// finish returns the tail the FileWriter ends the file with, if everything
// it wrote before matched the file's bytes up to good.
func (re *reencoder) finish(good int64) []byte {
	if re.w == nil {
		return nil
	}
	same := !re.sink.differs && re.sink.n == good
	re.sink.capture = true
	err := re.w.Close()
	if !same || err != nil {
		return nil
	}
	return re.sink.tail.Bytes()
}

// compareWriter checks that the bytes written to it are the next bytes of
// r, without keeping them; once capture is set, it keeps what is written
// instead. After the first difference it only discards.
type compareWriter struct {
	r       io.Reader
	n       int64 // bytes compared, all equal
	buf     [32 << 10]byte
	differs bool
	capture bool
	tail    bytes.Buffer
}

func (c *compareWriter) Write(p []byte) (int, error) {
	switch {
	case c.capture:
		return c.tail.Write(p)
	case c.differs:
		return len(p), nil
	}
	for rest := p; len(rest) > 0; {
		chunk := c.buf[:min(len(rest), len(c.buf))]
		if _, err := io.ReadFull(c.r, chunk); err != nil || !bytes.Equal(chunk, rest[:len(chunk)]) {
			c.differs = true
			return len(p), nil
		}
		c.n += int64(len(chunk))
		rest = rest[len(chunk):]
	}
	return len(p), nil
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
// scan found, with their schema, the last of them decodes to its rows, and
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
	if fr.NumRecords() != sc.batches || !fr.Schema().Equal(sc.schema) {
		return fmt.Errorf("footer lists %d batches, want %d, or its schema differs", fr.NumRecords(), sc.batches)
	}
	last, err := fr.RecordBatch(sc.batches - 1)
	if err != nil {
		return err
	}
	if last.NumRows() != sc.lastRows {
		return fmt.Errorf("last batch has %d rows, want %d", last.NumRows(), sc.lastRows)
	}
	return nil
}
