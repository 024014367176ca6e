package archive

import (
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// tornError marks where the readable stream ended.
type tornError struct{ err error }

func (e tornError) Error() string { return "torn: " + e.err.Error() }

func isTorn(err error) bool {
	var t tornError
	return errors.As(err, &t)
}

// readBatches skips the 8-byte file magic and calls fn for each complete
// batch of the IPC stream that follows. A read or decode failure, including
// a panic inside the IPC reader on corrupt bytes, ends the stream with a
// tornError; an error from fn is returned as is.
func readBatches(r io.Reader, mem memory.Allocator, fn func(arrow.RecordBatch) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = tornError{fmt.Errorf("corrupt batch: %v", p)}
		}
	}()
	if _, err := io.CopyN(io.Discard, r, 8); err != nil {
		return tornError{err}
	}
	rd, err := ipc.NewReader(r, ipc.WithAllocator(mem))
	if err != nil {
		return tornError{err}
	}
	defer rd.Release()
	for rd.Next() {
		if err := fn(rd.RecordBatch()); err != nil {
			return err
		}
	}
	if err := rd.Err(); err != nil {
		return tornError{err}
	}
	return nil
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
