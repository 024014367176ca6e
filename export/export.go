package export

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/seal"
)

// Names of the exporter's own entries in the export tree.
const (
	workDir  = ".exporting"   // holds hour=H.tmp and hour=H.ready
	lockName = ".export.lock" // held while an Exporter is open
	tmpExt   = ".tmp"
	readyExt = ".ready"
)

// Defaults, chosen by measurement (BENCHMARKS.md, "Parquet export").
const (
	// DefaultZstdLevel is zstd's "better" encoder of klauspost/compress
	// (levels 6 to 9 choose it): 0.96x the bytes of DuckDB's own Parquet
	// on lite rows, 0.99x on full rows, where level 3 missed (1.005x).
	DefaultZstdLevel = 7
	// DefaultRowGroupRows is close to DuckDB's own 122,880: as small on
	// disk as larger groups, and enough groups per hour for every core.
	DefaultRowGroupRows = 131072
	// DefaultRowGroupBytes cuts a row group early once its finished pages
	// hold this many compressed bytes (full rows with as_der: groups of
	// ~100k rows, 70-76 MB, since the pages being filled come on top): a row
	// group is held in memory until it is complete. Pages still being
	// filled (at most 1 MiB of each column) are not counted: lite rows
	// never reach it, and their row groups are small anyway (16 MB).
	DefaultRowGroupBytes = 64 << 20
)

// errCrash stops an export dead at a staged step (tests).
var errCrash = errors.New("staged crash")

// Options configures an Exporter.
type Options struct {
	Source string // dataset root, only read
	Out    string // export root, created if missing
	// Hours selects the hours to export, when not nil.
	Hours         func(time.Time) bool
	ZstdLevel     int   // 1 to 22, as klauspost/compress maps them
	RowGroupRows  int64 // rows per row group, at most
	RowGroupBytes int64 // cut a row group once it holds this many compressed bytes
	Force         bool  // export hours already exported from their current manifest too
	DryRun        bool  // report what would be exported; write nothing, not even the export root
	Program       string
	Allocator     memory.Allocator // for the Parquet writer
	Logger        *slog.Logger
	Now           func() time.Time

	crash     func(step string) error // tests: stop dead at a step, as a crash would
	sliceRows int64                   // tests: rows handed to the Parquet writer at a time
}

func (o *Options) fill() {
	o.ZstdLevel = cmp.Or(o.ZstdLevel, DefaultZstdLevel)
	o.RowGroupRows = cmp.Or(o.RowGroupRows, DefaultRowGroupRows)
	o.RowGroupBytes = cmp.Or(o.RowGroupBytes, DefaultRowGroupBytes)
	if o.Allocator == nil {
		o.Allocator = memory.DefaultAllocator
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.sliceRows = cmp.Or(o.sliceRows, sliceRows)
	if o.crash == nil {
		o.crash = func(string) error { return nil }
	}
}

// Status is what became of an hour.
type Status string

// The statuses of an hour.
const (
	Exported    Status = "exported"
	UpToDate    Status = "up to date"   // already exported from its current manifest
	WouldExport Status = "would export" // dry run
	NotSealed   Status = "not sealed"   // no manifest: skipped
	Failed      Status = "failed"       // see Err; the hour's export, if any, is left as it was
)

// HourResult is what Run did with one hour.
type HourResult struct {
	Hour       time.Time
	Status     Status
	ManifestID string
	Rows       int64
	Files      []File // the hour's Parquet files (none unless exported or up to date)
	Took       time.Duration
	Err        error // with Failed
}

// Bytes returns the size of the hour's Parquet files.
func (r HourResult) Bytes() int64 {
	var n int64
	for _, f := range r.Files {
		n += f.Bytes
	}
	return n
}

// Exporter exports the sealed hours of one dataset into one export tree.
// It holds the tree's lock from Open to Close. Not safe for concurrent use.
type Exporter struct {
	opts  Options
	src   *os.Root
	tree  *archive.Tree // nil in a dry run
	outFS fs.FS         // the export tree for reading; nil in a dry run of a tree not made yet
	lock  io.Closer
}

// Open opens the dataset and the export tree, takes the tree's lock and
// removes what an interrupted export left (see Recover). A dry run does
// none of that to the export tree: it only reads it, if it exists.
func Open(opts Options) (*Exporter, error) {
	opts.fill()
	src, err := os.OpenRoot(opts.Source)
	if err != nil {
		return nil, fmt.Errorf("dataset root: %w", err)
	}
	e := &Exporter{opts: opts, src: src}
	if opts.DryRun {
		if fi, err := os.Stat(opts.Out); err == nil && fi.IsDir() {
			e.outFS = os.DirFS(opts.Out)
		}
		return e, nil
	}
	if e.tree, err = archive.OpenTree(opts.Out); err != nil {
		return nil, errors.Join(fmt.Errorf("export root: %w", err), src.Close())
	}
	e.outFS = e.tree.FS()
	if e.lock, err = e.tree.Lock(lockName, "an export"); err != nil {
		return nil, errors.Join(err, e.tree.Close(), src.Close())
	}
	if err := e.Recover(); err != nil {
		return nil, errors.Join(err, e.Close())
	}
	return e, nil
}

// Close releases the lock and closes both trees.
func (e *Exporter) Close() error {
	errs := []error{e.src.Close()}
	if e.tree != nil {
		errs = append(errs, e.lock.Close(), e.tree.Close())
	}
	return errors.Join(errs...)
}

// Run exports every hour of the dataset that Options.Hours selects, in
// order, and returns what became of each. An hour that cannot be exported
// is reported (Failed) and the others go on. The error is for the dataset
// root that cannot be listed, or a cancelled ctx (the hours not reached
// are not listed).
func (e *Exporter) Run(ctx context.Context) ([]HourResult, error) {
	hours, err := e.Hours()
	if err != nil {
		return nil, err
	}
	var res []HourResult
	for _, h := range hours {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		r := e.Hour(ctx, h)
		e.log(r)
		res = append(res, r)
	}
	if e.tree != nil {
		e.tidy()
	}
	return res, ctx.Err()
}

// Hours lists the dataset's hour directories that Options.Hours selects,
// in order.
func (e *Exporter) Hours() ([]time.Time, error) {
	ents, err := fs.ReadDir(e.src.FS(), ".")
	if err != nil {
		return nil, fmt.Errorf("dataset root: %w", err)
	}
	var hours []time.Time
	for _, ent := range ents {
		name, ok := strings.CutPrefix(ent.Name(), archive.HourPrefix)
		if !ok || !ent.IsDir() {
			continue
		}
		h, err := time.Parse(archive.HourFormat, name)
		if err != nil || e.opts.Hours != nil && !e.opts.Hours(h) {
			continue
		}
		hours = append(hours, h)
	}
	return hours, nil
}

func (e *Exporter) log(r HourResult) {
	l := e.opts.Logger.With("hour", seal.HourName(r.Hour))
	switch r.Status {
	case Exported:
		l.Info("hour exported", "manifest", r.ManifestID, "rows", r.Rows, "files", len(r.Files), "bytes", r.Bytes(),
			"took", r.Took.Round(time.Millisecond))
	case Failed:
		l.Error("hour not exported", "err", r.Err)
	default:
		l.Debug("hour skipped", "status", string(r.Status))
	}
}

// Recover removes what an interrupted export left under .exporting: an
// unfinished hour=H.tmp, and an hour=H.ready, whether it holds a new
// export that was never switched in (hour=H still holds the old one,
// whole, and its _export.json names the old manifest, so the next run
// exports the hour again) or the old export it replaced.
func (e *Exporter) Recover() error {
	ents, err := e.tree.ReadDir(workDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list %s: %w", workDir, err)
	}
	for _, ent := range ents {
		name := ent.Name()
		if !strings.HasPrefix(name, archive.HourPrefix) || !strings.HasSuffix(name, tmpExt) && !strings.HasSuffix(name, readyExt) {
			e.opts.Logger.Warn("unknown entry in the export work directory, left alone", "entry", path.Join(workDir, name))
			continue
		}
		e.opts.Logger.Info("removing what an interrupted export left", "entry", path.Join(workDir, name))
		if err := e.tree.RemoveAll(path.Join(workDir, name)); err != nil {
			return err
		}
	}
	return nil
}

// tidy removes the work directory once it is empty, so that a finished
// export tree holds only hour directories (and the lock file).
func (e *Exporter) tidy() {
	if ents, err := e.tree.ReadDir(workDir); err == nil && len(ents) == 0 {
		_ = e.tree.Remove(workDir)
	}
}
