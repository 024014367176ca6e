package archive

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// ReadBudget is the most memory a reader of one file from disk (Walk,
// crash salvage) lets arrow-go hold at once. arrow-go allocates whatever a
// file declares (a message body, the uncompressed size in the 8-byte prefix
// of each compressed buffer) before it reads a byte of it, so a damaged
// file declaring 1 TiB would otherwise end the process with a fatal,
// unrecoverable "out of memory". With the budget such a file is refused,
// before anything is allocated, with an error that wraps ErrOverBudget.
//
// Why 1 GiB never refuses a file this program wrote: a record batch holds
// at most 100,000 rows (--buffer-size), and the archiver's own memory model
// counts at most 8 KiB per buffered row (the figure behind --memory-limit
// auto), so the largest batch it builds, and so the largest a reader has to
// decode, is about 800 MB; readers hold one batch at a time. Memory for the
// message metadata (at most maxMetadataBytes) comes on top.
const ReadBudget = 1 << 30

// MaxBatchRows is the most rows a record batch of this program holds
// (--buffer-size is at most 100,000). Readers refuse a batch declaring
// more with ErrOverBudget: a damaged row count over columns of nulls costs
// no memory, but would keep a reader that visits each row busy for hours.
const MaxBatchRows = 100_000

// checkRows refuses a batch of more than MaxBatchRows rows.
func checkRows(rec arrow.RecordBatch) error {
	if n := rec.NumRows(); n < 0 || n > MaxBatchRows {
		return fmt.Errorf("%w: batch declares %d rows, at most %d", ErrOverBudget, n, MaxBatchRows)
	}
	return nil
}

// ErrOverBudget reports a file that declares more memory than a reader may
// allocate for it (see ReadBudget).
var ErrOverBudget = errors.New("declared size over the read budget")

// maxMetadataBytes bounds the flatbuffer metadata of one IPC message. Ours
// take a few KiB (a schema, or per record batch 16 bytes per column node
// and per buffer, whatever the row count); 1 MiB is 100 times that.
const maxMetadataBytes = 1 << 20

// budgetAllocator is a memory.Allocator that refuses, by panicking with a
// *budgetError, any allocation that would take the bytes it has handed out
// and not had back above limit. It checks before it allocates, so a huge
// declared size never reaches the Go runtime. arrow-go allocates on the
// goroutine that asks it for a batch (decompression included), and both of
// its readers and ours recover panics there, so the panic turns into an
// error of that read. Safe for concurrent use.
type budgetAllocator struct {
	mem   memory.Allocator
	limit int64
	live  atomic.Int64
}

// newBudgetAllocator returns an allocator drawing from mem (the Go allocator
// if nil) at most limit bytes at a time.
func newBudgetAllocator(mem memory.Allocator, limit int64) *budgetAllocator {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	return &budgetAllocator{mem: mem, limit: limit}
}

// budgetError is the panic value, and then the error, of a refused
// allocation.
type budgetError struct {
	size, live, limit int64
}

func (e *budgetError) Error() string {
	return fmt.Sprintf("%v: %d bytes asked with %d in use, budget %d", ErrOverBudget, e.size, e.live, e.limit)
}

func (e *budgetError) Unwrap() error { return ErrOverBudget }

// reserve accounts for grow more bytes, or panics if they do not fit.
func (a *budgetAllocator) reserve(grow int64) {
	live := a.live.Add(grow)
	if grow > 0 && (grow > a.limit || live > a.limit) {
		a.live.Add(-grow)
		panic(&budgetError{size: grow, live: live - grow, limit: a.limit})
	}
}

// Allocate implements memory.Allocator.
func (a *budgetAllocator) Allocate(size int) []byte {
	if size < 0 {
		panic(fmt.Errorf("allocate %d bytes: negative size", size))
	}
	a.reserve(int64(size))
	return a.mem.Allocate(size)
}

// Reallocate implements memory.Allocator.
func (a *budgetAllocator) Reallocate(size int, b []byte) []byte {
	if size < 0 {
		panic(fmt.Errorf("reallocate %d bytes: negative size", size))
	}
	a.reserve(int64(size) - int64(len(b)))
	return a.mem.Reallocate(size, b)
}

// Free implements memory.Allocator.
func (a *budgetAllocator) Free(b []byte) {
	a.live.Add(-int64(len(b)))
	a.mem.Free(b)
}

// Live returns the bytes handed out and not freed.
func (a *budgetAllocator) Live() int64 { return a.live.Load() }
