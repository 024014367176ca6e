package archive

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// errUnlinked says an open file is no longer where it will be published:
// its hour directory was deleted (by hand, or by a retention script run
// with the wrong cutoff) or the file itself was removed or replaced. Rows
// written to it would vanish with the last descriptor, so they are rescued
// into a new file instead (see rescueOrphan).
var errUnlinked = errors.New("open file is no longer linked in its partition directory")

// linked checks that the file this descriptor writes is still the one at
// its temporary path. It costs two stat calls, once per batch.
func (fl *file) linked() error {
	st, ok := fl.f.(interface{ Stat() (fs.FileInfo, error) })
	if !ok {
		return nil // a test double without a descriptor
	}
	open, err := st.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", fl.path(), err)
	}
	named, err := fl.fsys.stat(fl.path())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("stat %s: %w", fl.path(), err)
	}
	if err != nil || !os.SameFile(open, named) {
		return fmt.Errorf("%s: %w", fl.path(), errUnlinked)
	}
	return nil
}

// reopen returns a reader of everything written to the file so far, even
// when it is no longer linked anywhere: the kernel keeps an unlinked file
// for as long as a descriptor is open, and /proc/self/fd reaches it.
func (fl *file) reopen() (io.ReadCloser, error) {
	fd, ok := fl.f.(interface{ Fd() uintptr })
	if !ok {
		return nil, fmt.Errorf("reopen %s: no descriptor", fl.path())
	}
	r, err := os.Open(fmt.Sprintf("/proc/self/fd/%d", fd.Fd()))
	if err != nil {
		return nil, fmt.Errorf("reopen unlinked %s: %w", fl.path(), err)
	}
	return r, nil
}

// orphan sets p's open file aside as unlinked and tries to rescue it.
func (d *Dataset) orphan(p *partition, now time.Time) {
	d.log.Error("partition file vanished while open (its hour directory was deleted?); rescuing its rows into a new file",
		"file", p.file.path(), "rows", p.file.rows)
	p.orphan, p.file = p.file, nil
	d.counters.OpenFiles.Add(-1)
	d.rescueOrphan(p, now)
}

// rescueOrphan copies every batch of p's unlinked file into a new
// temporary file in its (recreated) partition directory, which becomes
// p's open file and is published as usual. Until that succeeds, the rows
// stay in the unlinked file, reachable through its descriptor, and the
// rescue is retried like any failed write.
func (d *Dataset) rescueOrphan(p *partition, now time.Time) bool {
	o := p.orphan
	if !d.openFile(p, now) {
		return false
	}
	r, err := o.reopen()
	if err == nil {
		err = readBatches(r, o.size(), d.opts.Allocator, func(rec arrow.RecordBatch) error { return p.file.write(rec) })
		r.Close()
	}
	if err == nil || isTorn(err) && p.file.rows == o.rows {
		err = p.file.sync()
	}
	if err == nil && p.file.rows != o.rows {
		err = fmt.Errorf("rescue %s: read back %d of its %d rows", o.path(), p.file.rows, o.rows)
	}
	if err != nil {
		d.discardFile(p)
		d.failed(err, now)
		return false
	}
	o.abandon()
	p.orphan = nil
	d.counters.OrphansRescued.Add(1)
	d.recovered(now)
	d.log.Warn("rows of a vanished file rescued", "file", p.file.path(), "rows", p.file.rows)
	return true
}

// discardFile closes and removes p's open file, which holds nothing that
// is not also somewhere else.
func (d *Dataset) discardFile(p *partition) {
	p.file.abandon()
	_ = d.fsys.remove(p.file.path())
	p.file = nil
	d.counters.OpenFiles.Add(-1)
}
