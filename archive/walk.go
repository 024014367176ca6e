package archive

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
)

// PublishedFile is one published file of a dataset.
type PublishedFile struct {
	Path string    // relative to the root: hour=.../NAME.feather
	Hour time.Time // of its partition
	Size int64
}

// FileError is a published file that could not be read.
type FileError struct {
	Path string
	Err  error
}

// Visitor receives what Walk reads. Either function may be nil.
type Visitor struct {
	File  func(PublishedFile)                          // each readable file, after its batches
	Batch func(PublishedFile, arrow.RecordBatch) error // each record batch; an error stops the walk
	// SetAside is told of each temporary file crash salvage could not read
	// and set aside (.NAME.feather.bad); Walk does not read them.
	SetAside func(PublishedFile)
	// Hour, when set, selects the hour directories to read: one for
	// whose hour it returns false is not even listed (a running
	// archiver's background backfill reads only its recent hours).
	Hour func(time.Time) bool
	// Skip, when set, is asked before each published file is read; one it
	// returns true for is not opened (Batch and File are not called).
	// Published files never change, so a caller that has read one before
	// may skip it.
	Skip func(PublishedFile) bool
}

// Walk reads every published file under root (temporary files are not
// published and are skipped), in chronological order, one record batch at a
// time, so memory stays bounded by one batch however large the dataset. A
// file that cannot be read is reported in the returned list and the walk
// goes on; an error from v.Batch stops it.
func Walk(root string, v Visitor) ([]FileError, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("dataset root: %w", err)
	}
	defer r.Close()
	hours, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("dataset root: %w", err)
	}
	var bad []FileError
	for _, h := range hours {
		if !h.IsDir() || !isHourDir(h.Name()) {
			continue
		}
		hour, _ := time.Parse(HourFormat, strings.TrimPrefix(h.Name(), HourPrefix))
		if v.Hour != nil && !v.Hour(hour) {
			continue
		}
		files, err := fs.ReadDir(r.FS(), h.Name()) // sorted by name: chronological
		if err != nil {
			bad = append(bad, FileError{h.Name(), err})
			continue
		}
		for _, f := range files {
			if v.SetAside != nil && isSetAside(f) {
				v.SetAside(setAside(r, h.Name(), f.Name(), hour))
				continue
			}
			if strings.HasPrefix(f.Name(), ".") || !strings.HasSuffix(f.Name(), Ext) || !f.Type().IsRegular() {
				continue
			}
			pf := PublishedFile{Path: path.Join(h.Name(), f.Name()), Hour: hour}
			if v.Skip != nil && v.Skip(pf) {
				continue
			}
			err := walkFile(r, &pf, v.Batch)
			var fnErr fnError
			switch {
			case errors.As(err, &fnErr):
				return bad, fnErr.err
			case err != nil:
				bad = append(bad, FileError{pf.Path, err})
			case v.File != nil:
				v.File(pf)
			}
		}
	}
	return bad, nil
}

// isSetAside reports whether f is a temporary file salvage set aside.
func isSetAside(f fs.DirEntry) bool {
	return f.Type().IsRegular() && strings.HasPrefix(f.Name(), ".") && strings.HasSuffix(f.Name(), Ext+badSuffix)
}

// setAside describes the set-aside file dir/name.
func setAside(r *os.Root, dir, name string, hour time.Time) PublishedFile {
	pf := PublishedFile{Path: path.Join(dir, name), Hour: hour}
	if fi, err := r.Stat(pf.Path); err == nil {
		pf.Size = fi.Size()
	}
	return pf
}

// fnError marks an error returned by Walk's callback.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

// walkFile reads the batches of the published file pf.Path, each at most
// ReadBudget bytes once decoded (a file declaring more is refused with
// ErrOverBudget before anything is allocated), one at a time: each batch is
// released before the next is read.
func walkFile(r *os.Root, pf *PublishedFile, fn func(PublishedFile, arrow.RecordBatch) error) error {
	return walkFileBudget(r, pf, newBudgetAllocator(nil, ReadBudget), fn)
}

// walkFileBudget is walkFile with the allocator, and so the budget, given.
func walkFileBudget(r *os.Root, pf *PublishedFile, mem *budgetAllocator, fn func(PublishedFile, arrow.RecordBatch) error) (err error) {
	defer func() {
		if p := recover(); p != nil { // corrupt bytes can panic inside the IPC reader
			err = recovered("corrupt file", p)
		}
	}()
	f, err := r.Open(pf.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	pf.Size = fi.Size()
	if err := checkFooter(f, pf.Size); err != nil {
		return err
	}
	// arrow-go's file reader checks the footer's size and each block's
	// offset and lengths against the file size before it reads them.
	rd, err := ipc.NewFileReader(f, ipc.WithAllocator(mem), ipc.WithMetadataSizeLimit(maxMetadataBytes))
	if err != nil {
		return err
	}
	defer rd.Close()
	for i := range rd.NumRecords() {
		if err := walkBatch(rd, i, *pf, fn); err != nil {
			return err
		}
	}
	return nil
}

// walkBatch reads batch i of rd, hands it to fn (if not nil) and releases
// it.
func walkBatch(rd *ipc.FileReader, i int, pf PublishedFile, fn func(PublishedFile, arrow.RecordBatch) error) error {
	rec, err := rd.RecordBatchAt(i)
	if err != nil {
		return fmt.Errorf("batch %d: %w", i, err)
	}
	defer rec.Release()
	if err := checkRows(rec); err != nil {
		return fmt.Errorf("batch %d: %w", i, err)
	}
	if fn == nil {
		return nil
	}
	if err := fn(pf, rec); err != nil {
		return fnError{err}
	}
	return nil
}
