package seal

import (
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/certstream-arrow/certstream-arrow/archive"
)

// output writes the kept rows into the sealed files: record batches of
// batchRows rows or batchBytes bytes, whichever comes first, and a new
// file once one reaches maxFileBytes. Each file is published through the
// tree's durable helper in the work directory. A dry run counts rows and
// writes nothing.
type output struct {
	tree                  *archive.Tree
	dir                   string // work directory
	hour                  time.Time
	id                    string
	schema                *arrow.Schema
	mem                   memory.Allocator
	rb                    *array.RecordBuilder
	batchRows             int
	batchBytes, fileBytes int64
	dryRun                bool

	rows, total int64 // in the batch being built, and in all
	bytes       int64 // the batch's estimated size
	file        *archive.Pending
	w           *ipc.FileWriter
	fileRows    int64
	files       []File
}

// add appends c's row.
func (o *output) add(c candidate) error {
	c.v.emit(c.row)
	o.rows++
	o.total++
	o.bytes += c.v.rowBytes
	if o.rows >= int64(o.batchRows) || o.bytes >= o.batchBytes {
		return o.flush()
	}
	return nil
}

// flush writes the batch being built.
func (o *output) flush() error {
	if o.rows == 0 {
		return nil
	}
	rec := o.rb.NewRecordBatch()
	defer rec.Release()
	o.rows, o.bytes = 0, 0
	if o.dryRun {
		return nil
	}
	if o.file == nil {
		if err := o.open(); err != nil {
			return err
		}
	}
	if err := o.w.Write(rec); err != nil {
		return fmt.Errorf("write %s: %w", o.file.Name(), err)
	}
	o.fileRows += rec.NumRows()
	if o.file.Size() >= o.fileBytes {
		return o.publish()
	}
	return nil
}

func (o *output) open() error {
	p, err := o.tree.Create(o.dir, sealedName(o.hour, o.id, len(o.files)+1))
	if err != nil {
		return err
	}
	w, err := ipc.NewFileWriter(p, ipc.WithSchema(o.schema), ipc.WithZstd(), ipc.WithAllocator(o.mem))
	if err != nil {
		return errors.Join(fmt.Errorf("start %s: %w", p.Name(), err), p.Abort())
	}
	o.file, o.w, o.fileRows = p, w, 0
	return nil
}

// publish ends the open file and publishes it.
func (o *output) publish() error {
	p := o.file
	o.file = nil
	if err := o.w.Close(); err != nil {
		return errors.Join(fmt.Errorf("finish %s: %w", p.Name(), err), p.Abort())
	}
	sum := hex.EncodeToString(p.SHA256())
	if err := p.Publish(); err != nil {
		return err
	}
	o.files = append(o.files, File{Name: p.Name(), Rows: o.fileRows, Bytes: p.Size(), SHA256: sum})
	return nil
}

// close writes what is left and publishes the last file.
func (o *output) close() error {
	if err := o.flush(); err != nil {
		return err
	}
	if o.file != nil {
		return o.publish()
	}
	return nil
}

// abort drops the open file, if any.
func (o *output) abort() {
	if o.file != nil {
		_ = o.file.Abort()
		o.file = nil
	}
}
