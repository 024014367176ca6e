package archive

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// SalvageReport counts what a salvage pass did.
type SalvageReport struct {
	Salvaged       int   // temporary files whose batches were published
	InPlace        int   // ... of which finished where they lay, without a copy
	Rows           int64 // rows recovered
	BytesDiscarded int64 // torn tails and footers-to-be that were dropped
	Removed        int   // empty, torn in their first batch, or already published temporary files removed
	Quarantined    int   // unreadable temporary files set aside as .NAME.feather.bad
	Live           int   // temporary files of running collectors, left alone
}

// salvager publishes what crashed writers left behind. Salvaging one
// temporary file .NAME.feather.tmp is idempotent, and a crash at any step is
// repaired by the next pass. Its complete batches are published as
// NAME.feather (never replacing) in one of two ways:
//
//   - in place (see inplace.go): the file is cut after its last complete
//     batch, its footer appended, and the file renamed; it needs no space
//     beyond the footer;
//   - by copy, when the file is framed otherwise than our writer frames
//     it (dictionaries, no continuation markers: another writer): its
//     batches are copied into .NAME.feather.salvage.tmp, which is published,
//     and only then is the temporary file removed. A stale .salvage.tmp is
//     deleted and the copy redone, and a temporary file whose NAME.feather
//     exists is removed.
//
// A file with no complete batch whose bytes are what a crash during its
// first write leaves (a prefix of the magic, schema and first batch, or
// zeros) is removed. One whose bytes no crash of ours leaves (not an Arrow
// file, a stream that fails for another reason than ending early) is set
// aside as .NAME.feather.bad (see quarantine), after its complete batches,
// if any, are published by copy.
type salvager struct {
	fsys   fsys
	mem    memory.Allocator
	log    *slog.Logger
	report SalvageReport
	failed []*file // temporary files whose salvage failed, by name (see leftover)
}

// dir salvages the temporary files in one partition directory for which
// owned returns true. Files whose salvage fails are listed in s.failed.
func (s *salvager) dir(dir string, owned func(collector string) bool) error {
	entries, err := s.fsys.readDir(dir)
	if err != nil {
		return fmt.Errorf("salvage %s: %w", dir, err)
	}
	var errs []error
	for _, e := range entries {
		final, collector, ok := parseTmp(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		if !owned(collector) {
			s.report.Live++
			continue
		}
		if err := s.file(dir, e.Name(), final); err != nil {
			errs = append(errs, err)
			s.failed = append(s.failed, leftover(dir, e.Name(), final))
		}
	}
	return errors.Join(errs...)
}

// file salvages dir/tmp, meant to become dir/final. A tmp that no longer
// exists (its rename went through, only the directory fsync failed) needs
// nothing. An error leaves tmp to be salvaged again.
func (s *salvager) file(dir, tmp, final string) error {
	tmpPath := path.Join(dir, tmp)
	if _, err := s.fsys.stat(tmpPath); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if _, err := s.fsys.stat(path.Join(dir, final)); err == nil {
		s.log.Info("temporary file already published; removing it", "file", tmpPath)
		s.report.Removed++
		return s.fsys.remove(tmpPath)
	}
	if err := s.fsys.remove(path.Join(dir, salvageName(final))); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	sc, err := s.scanFile(tmpPath)
	if err != nil {
		return fmt.Errorf("salvage %s: %w", tmpPath, err)
	}
	if err := s.settle(dir, tmp, final, sc); err != nil {
		return fmt.Errorf("salvage %s: %w", tmpPath, err)
	}
	return nil
}

// settle publishes, removes or sets aside dir/tmp as its scan says.
func (s *salvager) settle(dir, tmp, final string, sc *scan) error {
	switch {
	case sc.corrupt() && sc.rows == 0:
		return s.quarantine(dir, tmp, final, sc.reason(), sc)
	case sc.rows == 0:
		s.log.Warn("temporary file held no complete batch; removing it", "file", path.Join(dir, tmp), "bytes_discarded", sc.size)
		s.report.Removed++
		s.report.BytesDiscarded += sc.size
		return s.fsys.remove(path.Join(dir, tmp))
	case sc.corrupt():
		if err := s.byCopy(dir, tmp, final, false); err != nil {
			return err
		}
		return s.quarantine(dir, tmp, final, sc.reason(), sc)
	case sc.tail != nil:
		err := s.finishInPlace(dir, tmp, final, sc)
		if !errors.Is(err, errVerify) {
			return s.counted(err, sc.rows, sc.size-sc.good, true, path.Join(dir, final))
		}
		s.log.Error("temporary file finished in place does not read back; copying its batches instead", "err", err)
	}
	return s.byCopy(dir, tmp, final, true)
}

// byCopy publishes the complete batches of dir/tmp through a copy, and
// removes tmp afterwards if remove is set.
func (s *salvager) byCopy(dir, tmp, final string, remove bool) error {
	rows, discarded, err := s.copyBatches(dir, tmp, final)
	if err == nil && remove {
		err = s.fsys.remove(path.Join(dir, tmp))
	}
	return s.counted(err, rows, discarded, false, path.Join(dir, final))
}

// counted adds a file salvaged without error to the report.
func (s *salvager) counted(err error, rows, discarded int64, inPlace bool, final string) error {
	if err != nil {
		return err
	}
	s.log.Warn("temporary file salvaged", "file", final, "rows", rows, "bytes_discarded", discarded, "in_place", inPlace)
	s.report.Salvaged++
	s.report.Rows += rows
	s.report.BytesDiscarded += discarded
	if inPlace {
		s.report.InPlace++
	}
	return nil
}

// copyBatches reads the complete batches of dir/tmp (an IPC stream from
// byte 8; a torn last batch ends it) and publishes them as dir/final. It
// returns the rows copied and the bytes of tmp that were not.
func (s *salvager) copyBatches(dir, tmp, final string) (rows, discarded int64, err error) {
	r, err := s.fsys.open(path.Join(dir, tmp))
	if err != nil {
		return 0, 0, err
	}
	defer r.Close()
	fi, err := s.fsys.stat(path.Join(dir, tmp))
	if err != nil {
		return 0, 0, err
	}
	in := &countingReader{r: bufio.NewReaderSize(r, 256<<10)}
	var out *file
	var good int64 // bytes of tmp up to the end of the last complete batch
	readErr := readBatches(in, fi.Size(), s.mem, func(rec arrow.RecordBatch) error {
		if out == nil {
			if out, err = createFile(s.fsys, dir, salvageName(final), final, rec.Schema(), s.mem, false); err != nil {
				return err
			}
		}
		if err := out.write(rec); err != nil {
			return err
		}
		rows += rec.NumRows()
		good = in.n // includes the 8 bytes of magic
		return nil
	})
	read := in.n // before drain, which adds to in.n
	total := read + drain(in)
	if readErr != nil && !isTorn(readErr) {
		if out != nil {
			out.abandon()
		}
		return 0, 0, readErr // writing the copy failed: keep tmp, retry later
	}
	if out == nil {
		return 0, total, nil
	}
	if err := out.publish(); err != nil {
		return 0, 0, err
	}
	return rows, total - good, nil
}

// Recover salvages, under the dataset root dir, every temporary file left by
// a collector that is not running (its lock is free), as the archiver does
// at start. Temporary files of running collectors are left alone. It is safe
// to run while archivers write to the same root.
func Recover(dir string, log *slog.Logger) (SalvageReport, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return SalvageReport{}, fmt.Errorf("dataset root: %w", err)
	}
	defer root.Close()
	s := &salvager{fsys: rootFS{root}, mem: memory.DefaultAllocator, log: log}
	err = salvageAll(s, root, "")
	return s.report, err
}

// salvageAll salvages every partition of root, owning the temporary files of
// self (whose lock the caller holds) and of every collector whose lock it
// can take.
func salvageAll(s *salvager, root *os.Root, self string) error {
	entries, err := s.fsys.readDir(".")
	if err != nil {
		return fmt.Errorf("list dataset root: %w", err)
	}
	locks := map[string]*collectorLock{}
	defer func() {
		for _, l := range locks {
			_ = l.release()
		}
	}()
	owned := func(collector string) bool {
		if collector == self {
			return true
		}
		if _, ok := locks[collector]; !ok {
			l, err := lockCollector(root, collector)
			if err != nil {
				return false // running, or its lock unreadable: leave its files alone
			}
			locks[collector] = l
		}
		return true
	}
	var errs []error
	for _, e := range entries {
		if e.IsDir() && isHourDir(e.Name()) {
			errs = append(errs, s.dir(e.Name(), owned))
		}
	}
	return errors.Join(errs...)
}
