package archive

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// file is one open Feather file, written under its temporary name.
// Each record batch is flushed to the operating system as soon as it is
// written, so that the temporary file always holds every batch but the one
// being written.
type file struct {
	tmp, final string
	f          *os.File
	buf        *bufio.Writer
	count      countingWriter
	ipc        *ipc.FileWriter
	rows       int64
	batches    int
}

func createFile(tmp, final string, s *arrow.Schema, mem memory.Allocator) (*file, error) {
	f, err := createTemp(tmp)
	if err != nil {
		return nil, err
	}
	fl := &file{tmp: tmp, final: final, f: f}
	fl.count.w = f
	fl.buf = bufio.NewWriterSize(&fl.count, 256<<10)
	fl.ipc, err = ipc.NewFileWriter(fl.buf, ipc.WithSchema(s), ipc.WithZstd(), ipc.WithAllocator(mem))
	if err != nil {
		return nil, errors.Join(fmt.Errorf("start %s: %w", tmp, err), f.Close(), os.Remove(tmp))
	}
	return fl, nil
}

// write appends one record batch and hands it to the operating system.
func (fl *file) write(rec arrow.RecordBatch) error {
	if err := fl.ipc.Write(rec); err != nil {
		return fmt.Errorf("write batch to %s: %w", fl.tmp, err)
	}
	if err := fl.buf.Flush(); err != nil {
		return fmt.Errorf("write batch to %s: %w", fl.tmp, err)
	}
	fl.rows += rec.NumRows()
	fl.batches++
	return nil
}

// size returns the bytes written to the file so far.
func (fl *file) size() int64 { return fl.count.n }

// publish ends the IPC stream (end-of-stream marker, then footer) and
// publishes the file under its final name.
func (fl *file) publish() error {
	if err := fl.ipc.Close(); err != nil {
		return errors.Join(fmt.Errorf("finish %s: %w", fl.tmp, err), fl.f.Close())
	}
	if err := fl.buf.Flush(); err != nil {
		return errors.Join(fmt.Errorf("finish %s: %w", fl.tmp, err), fl.f.Close())
	}
	return publish(fl.f, fl.tmp, fl.final)
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
