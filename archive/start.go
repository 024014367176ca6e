package archive

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
)

// start checks the root is writable and salvages orphaned temporary files.
//
// Only what no retry can mend fails it: a root that refuses writes
// (permission denied, read-only). A full or failing disk does not: an
// archiver that exits on it is restarted into the same failure while the
// stream goes unrecorded. Instead the Dataset starts as a failed write
// during the run leaves it: rows wait in memory within MaxPendingRows, the
// temporary files salvage could not finish wait with the abandoned files,
// and Tick retries both with backoff. A failure to list a partition is
// logged the same way; its files wait for the next start or Recover.
func (d *Dataset) start() error {
	now := d.opts.Now()
	probeErr := d.probe()
	if probeErr != nil && fatalAtStart(probeErr) {
		return probeErr
	}
	s := &salvager{fsys: d.fsys, mem: d.opts.Allocator, log: d.log}
	err := salvageAll(s, d.root, d.opts.Collector)
	if r := s.report; r.Salvaged+r.Removed+r.Quarantined+len(s.failed) > 0 {
		d.log.Info("salvaged temporary files left by a crash", "files", r.Salvaged, "in_place", r.InPlace, "rows", r.Rows,
			"bytes_discarded", r.BytesDiscarded, "removed", r.Removed, "set_aside", r.Quarantined,
			"left_to_running_collectors", r.Live, "failed", len(s.failed))
	}
	if err != nil && fatalAtStart(err) {
		return err
	}
	if err = errors.Join(probeErr, err); err != nil {
		d.fault.abandoned = append(d.fault.abandoned, s.failed...)
		d.failed(err, now)
	}
	return nil
}

// probe creates and removes an empty file in the root.
func (d *Dataset) probe() error {
	probe := "." + d.run + "-probe" + TmpSuffix
	f, err := d.fsys.create(probe)
	if err != nil {
		return fmt.Errorf("dataset root %s is not writable: %w", d.opts.Root, err)
	}
	if err := errors.Join(f.Close(), d.fsys.remove(probe)); err != nil {
		return fmt.Errorf("dataset root %s: %w", d.opts.Root, err)
	}
	return nil
}

// fatalAtStart reports whether err means the root cannot be written by this
// process at all, rather than not right now.
func fatalAtStart(err error) bool {
	return errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS)
}
