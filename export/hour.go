package export

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/seal"
)

// Hour exports one hour of the dataset, if it is sealed and not exported
// from its current manifest yet (see the package comment).
func (e *Exporter) Hour(ctx context.Context, hour time.Time) HourResult {
	start := time.Now()
	hour = hour.UTC().Truncate(time.Hour)
	r := HourResult{Hour: hour}
	dir := seal.HourDir(hour)
	m, err := seal.ReadManifest(e.src.FS(), dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		r.Status = NotSealed
		return r
	case err == nil:
		err = checkManifest(m, hour)
	}
	if err != nil {
		return failed(r, err)
	}
	r.ManifestID, r.Rows = m.ID, m.Rows
	if rec, ok := current(e.outFS, dir, m.ID); ok && !e.opts.Force {
		r.Status, r.Files = UpToDate, rec.Files
		return r
	}
	if e.opts.DryRun {
		r.Status = WouldExport
		return r
	}
	if err := e.checkSources(dir, m); err != nil {
		return failed(r, err)
	}
	rec, err := e.export(ctx, hour, m)
	if err != nil {
		return failed(r, err)
	}
	r.Status, r.Files, r.Took = Exported, rec.Files, time.Since(start)
	return r
}

func failed(r HourResult, err error) HourResult {
	r.Status, r.Err = Failed, err
	return r
}

// checkManifest refuses a manifest of another hour, or one that names
// anything but plain sealed file names (a path could reach outside the
// hour's directory).
func checkManifest(m *seal.Manifest, hour time.Time) error {
	if m.Hour != seal.HourName(hour) {
		return fmt.Errorf("manifest is of hour %q, found in %s", m.Hour, seal.HourDir(hour))
	}
	var rows int64
	for _, f := range m.Files {
		if !seal.Sealed(f.Name) || strings.ContainsAny(f.Name, `/\`) || f.Rows < 0 {
			return fmt.Errorf("manifest of %s lists %q: not a sealed file name", seal.HourDir(hour), f.Name)
		}
		rows += f.Rows
	}
	if rows != m.Rows {
		return fmt.Errorf("manifest of %s: its files hold %d rows, it says %d in all", seal.HourDir(hour), rows, m.Rows)
	}
	return nil
}

// checkSources compares each sealed file with its manifest entry: size,
// then SHA-256 of the whole file.
func (e *Exporter) checkSources(dir string, m *seal.Manifest) error {
	var errs []error
	for _, f := range m.Files {
		if err := seal.CheckFile(e.src.FS(), path.Join(dir, f.Name), f); err != nil {
			errs = append(errs, fmt.Errorf("%w (run certstream-arrow verify)", err))
		}
	}
	return errors.Join(errs...)
}

// export writes the hour's Parquet files and record into its work
// directory and switches them in. On an error (not a staged crash) the
// work directory is removed and hour=H is left as it was.
func (e *Exporter) export(ctx context.Context, hour time.Time, m *seal.Manifest) (*Record, error) {
	tmp := work(hour, tmpExt)
	rec, err := e.build(ctx, hour, m, tmp)
	if err == nil {
		err = e.switchIn(hour, tmp)
	}
	if err != nil && !errors.Is(err, errCrash) {
		err = errors.Join(err, e.tree.RemoveAll(tmp), e.tree.RemoveAll(work(hour, readyExt)))
	}
	return rec, err
}

// work returns the work directory of hour with the suffix ext.
func work(hour time.Time, ext string) string { return path.Join(workDir, seal.HourDir(hour)+ext) }

// build writes the Parquet file of each sealed file the manifest lists,
// then the record, into the work directory tmp.
func (e *Exporter) build(ctx context.Context, hour time.Time, m *seal.Manifest, tmp string) (rec *Record, err error) {
	if err := e.tree.RemoveAll(tmp); err != nil {
		return nil, err
	}
	if err := e.tree.Mkdir(tmp); err != nil {
		return nil, err
	}
	c := &copier{e: e, dir: tmp, manifest: m, rows: map[string]int64{}}
	defer c.abort()
	bad, err := archive.Walk(e.opts.Source, archive.Visitor{
		Hour: func(h time.Time) bool { return h.Equal(hour) },
		Skip: func(pf archive.PublishedFile) bool { return !listed(m, path.Base(pf.Path)) },
		Batch: func(pf archive.PublishedFile, b arrow.RecordBatch) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			return c.write(path.Base(pf.Path), b)
		},
	})
	if err == nil && len(bad) > 0 {
		err = fmt.Errorf("read %s: %w", bad[0].Path, bad[0].Err)
		if errors.Is(bad[0].Err, fs.ErrNotExist) {
			err = fmt.Errorf("%w (was the hour sealed again meanwhile? run the export again)", err)
		}
	}
	if err == nil {
		err = c.finish()
	}
	if err == nil {
		err = c.check()
	}
	if err != nil {
		return nil, err
	}
	if err := e.opts.crash("files"); err != nil {
		return nil, err
	}
	rec = &Record{Format: RecordFormat, Hour: m.Hour, ManifestID: m.ID, ExportedAt: e.opts.Now().UTC(), Program: e.opts.Program,
		ZstdLevel: e.opts.ZstdLevel, RowGroupRows: e.opts.RowGroupRows, Rows: m.Rows, Files: c.files}
	if err := writeRecord(e.tree, tmp, rec); err != nil {
		return nil, err
	}
	return rec, e.opts.crash("record")
}

func listed(m *seal.Manifest, name string) bool {
	return slices.ContainsFunc(m.Files, func(f seal.File) bool { return f.Name == name })
}

// switchIn makes the finished work directory tmp the hour's export: rename
// to .ready, exchange with hour=H (or move it there, the first time), then
// remove the old export now in .ready.
func (e *Exporter) switchIn(hour time.Time, tmp string) error {
	ready, dir := work(hour, readyExt), seal.HourDir(hour)
	if err := e.tree.Rename(workDir, path.Base(tmp), path.Base(ready)); err != nil {
		return err
	}
	if err := e.opts.crash("ready"); err != nil {
		return err
	}
	fi, err := e.tree.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		err = e.tree.Move(ready, dir)
	case err != nil:
	case !fi.IsDir():
		err = fmt.Errorf("%s exists in the export tree and is not a directory: refusing to replace it", dir)
	default:
		err = e.tree.Exchange(ready, dir)
	}
	if err != nil {
		return err
	}
	if err := e.opts.crash("exchanged"); err != nil {
		return err
	}
	return e.tree.RemoveAll(ready)
}
