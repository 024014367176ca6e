package archive

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"path"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// file is one open Feather file, written under its temporary name in dir.
// Each record batch is flushed to the operating system as soon as it is
// written (and fsynced with fsyncBatch), so the temporary file always holds
// every batch written so far: what crash salvage recovers.
type file struct {
	fsys       fsys
	dir        string
	tmp, final string // base names
	f          writeFile
	buf        *bufio.Writer
	count      countingWriter
	ipc        *ipc.FileWriter
	fsyncBatch bool
	rows       int64
	batches    int
}

func createFile(fsys fsys, dir, tmp, final string, s *arrow.Schema, mem memory.Allocator, fsyncBatch bool) (*file, error) {
	f, err := fsys.create(path.Join(dir, tmp))
	if err != nil {
		return nil, err
	}
	fl := &file{fsys: fsys, dir: dir, tmp: tmp, final: final, f: f, fsyncBatch: fsyncBatch}
	fl.count.w = f
	fl.buf = bufio.NewWriterSize(&fl.count, 256<<10)
	fl.ipc, err = ipc.NewFileWriter(fl.buf, ipc.WithSchema(s), ipc.WithZstd(), ipc.WithAllocator(mem))
	if err != nil {
		return nil, errors.Join(fmt.Errorf("start %s: %w", fl.path(), err), f.Close(), fsys.remove(fl.path()))
	}
	return fl, nil
}

func (fl *file) path() string { return path.Join(fl.dir, fl.tmp) }

// write appends one record batch and hands it to the operating system. A
// nil error means the whole batch is in the file; after an error the file's
// tail may be torn and the file must be abandoned.
func (fl *file) write(rec arrow.RecordBatch) error {
	if err := fl.ipc.Write(rec); err != nil {
		return fmt.Errorf("write batch to %s: %w", fl.path(), err)
	}
	if err := fl.buf.Flush(); err != nil {
		return fmt.Errorf("write batch to %s: %w", fl.path(), err)
	}
	fl.rows += rec.NumRows()
	fl.batches++
	return nil
}

// sync makes the written batches durable when fsyncing each batch.
func (fl *file) sync() error {
	if !fl.fsyncBatch {
		return nil
	}
	if err := fl.f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", fl.path(), err)
	}
	return nil
}

// size returns the bytes written to the file so far.
func (fl *file) size() int64 { return fl.count.n }

// publish is the one way a file becomes visible: end the IPC stream
// (end-of-stream marker, then footer), flush, fsync, close, rename to the
// final name without replacing anything, fsync the directory. On error the
// file is closed and its temporary name left for salvage.
func (fl *file) publish() error {
	if err := fl.ipc.Close(); err != nil {
		_ = fl.f.Close()
		return fmt.Errorf("finish %s: %w", fl.path(), err)
	}
	return commit(fl.fsys, fl.dir, fl.tmp, fl.final, fl.buf, fl.f)
}

// abandon closes the file after an error, leaving it for salvage.
func (fl *file) abandon() {
	_ = fl.f.Close()
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
