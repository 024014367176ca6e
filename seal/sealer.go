package seal

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/certstream-arrow/certstream-arrow/archive"
)

// Names of the seal's own entries under the dataset root.
const (
	workDir   = ".sealing"   // holds hour=H.tmp and hour=H.ready
	lockName  = ".seal.lock" // held while a Sealer is open
	tmpExt    = ".tmp"
	readyExt  = ".ready"
	schemaKey = "schema_version"
)

// ErrBusy reports an hour a collector may still be writing: it holds
// temporary files.
var ErrBusy = errors.New("hour has files being written")

// ErrChanged reports an hour that gained or lost files while it was being
// sealed; the seal was dropped and the hour is left as it was.
var ErrChanged = errors.New("hour changed while it was being sealed")

// ErrEmpty reports an hour with no published file and no seal.
var ErrEmpty = errors.New("hour has no published file")

// Options configures a Sealer.
type Options struct {
	Root    string
	Program string // program version recorded in the manifest and files
	// After is how long after its end an hour is due for sealing: the
	// running collectors' last publish of the hour, plus a grace period
	// for late rows and backfill.
	After time.Duration
	// Repairer, when set, refetches the rows the feed sent damaged.
	Repairer Repairer
	// MemoryBudget bounds the rows held in memory while sorting; beyond,
	// sorted runs are spilled to disk.
	MemoryBudget int64
	BatchRows    int   // rows per record batch of a sealed file
	BatchBytes   int64 // ... or fewer, once they hold this many bytes
	FileBytes    int64 // start another sealed file beyond this size
	DryRun       bool  // do everything but publish: count what sealing would do
	Allocator    memory.Allocator
	Logger       *slog.Logger
	Now          func() time.Time

	crash func(step string) error // tests: stop dead at a step, as a crash would
}

// Defaults, chosen by measurement (BENCHMARKS.md, "Sealed hours").
const (
	DefaultAfter        = 30 * time.Minute
	DefaultMemoryBudget = 128 << 20
	DefaultBatchRows    = 65536
	DefaultBatchBytes   = 32 << 20
	DefaultFileBytes    = 2 << 30
	spillRows           = 4096
	spillBytes          = 1 << 20
)

func (o *Options) fill() {
	o.After = cmp.Or(o.After, DefaultAfter)
	o.MemoryBudget = cmp.Or(o.MemoryBudget, DefaultMemoryBudget)
	o.BatchRows = cmp.Or(o.BatchRows, DefaultBatchRows)
	o.BatchBytes = cmp.Or(o.BatchBytes, DefaultBatchBytes)
	o.FileBytes = cmp.Or(o.FileBytes, DefaultFileBytes)
	if o.Allocator == nil {
		o.Allocator = memory.DefaultAllocator
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.crash == nil {
		o.crash = func(string) error { return nil }
	}
}

// Sealer seals the hours of one dataset. It holds the dataset's seal lock
// from Open to Close, so one seal runs at a time on a dataset, whichever
// process runs it. A Sealer is not safe for concurrent use.
type Sealer struct {
	tree *archive.Tree
	lock io.Closer
	opts Options
}

// Open takes the dataset's seal lock and finishes or undoes what an
// interrupted seal left (see Recover).
func Open(opts Options) (*Sealer, error) {
	opts.fill()
	t, err := archive.OpenTree(opts.Root)
	if err != nil {
		return nil, err
	}
	lock, err := t.Lock(lockName, "a seal")
	if err != nil {
		return nil, errors.Join(err, t.Close())
	}
	s := &Sealer{tree: t, lock: lock, opts: opts}
	if err := s.Recover(); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	return s, nil
}

// Close releases the lock.
func (s *Sealer) Close() error { return errors.Join(s.lock.Close(), s.tree.Close()) }

// hourState is what an hour directory holds.
type hourState struct {
	published []fs.DirEntry // *.feather, sorted by name
	busy      bool          // a temporary file: a collector is writing
	manifest  *Manifest
	whole     bool // the manifest's files are all there, as it lists them
}

func (s *Sealer) state(hour time.Time) (hourState, error) {
	var st hourState
	dir := HourDir(hour)
	ents, err := s.tree.ReadDir(dir)
	if err != nil {
		return st, fmt.Errorf("list %s: %w", dir, err)
	}
	for _, e := range ents {
		switch name := e.Name(); {
		case strings.HasPrefix(name, ".") && strings.HasSuffix(name, archive.TmpSuffix):
			st.busy = true
		case !strings.HasPrefix(name, ".") && strings.HasSuffix(name, archive.Ext) && e.Type().IsRegular():
			st.published = append(st.published, e)
		}
	}
	if m, err := ReadManifest(s.tree.FS(), dir); err == nil {
		st.manifest, st.whole = m, filesPresent(s.tree, dir, m)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return st, err
	}
	return st, nil
}

// unsealed reports whether the hour holds files its manifest does not
// list (or has no manifest).
func (st hourState) unsealed() bool {
	if st.manifest == nil {
		return len(st.published) > 0
	}
	for _, e := range st.published {
		if !slices.ContainsFunc(st.manifest.Files, func(f File) bool { return f.Name == e.Name() }) {
			return true
		}
	}
	return false
}

// Due lists the hours, oldest first, that ended at least After ago and
// hold files no seal has taken in: never sealed, or given rows since (a
// backfill). Hours being written, and sealed hours whose sealed files are
// not as their manifest lists them (see Verify), are left out.
func (s *Sealer) Due() ([]time.Time, error) {
	ents, err := s.tree.ReadDir(".")
	if err != nil {
		return nil, fmt.Errorf("list dataset root: %w", err)
	}
	cutoff := s.opts.Now().Add(-s.opts.After)
	var due []time.Time
	for _, e := range ents {
		hour, ok := parseHourDir(e)
		if !ok || hour.Add(time.Hour).After(cutoff) {
			continue
		}
		st, err := s.state(hour)
		if err != nil {
			return nil, err
		}
		if st.unsealed() && !st.busy && (st.manifest == nil || st.whole) {
			due = append(due, hour)
		}
	}
	return due, nil
}

func parseHourDir(e fs.DirEntry) (time.Time, bool) {
	s, ok := strings.CutPrefix(e.Name(), archive.HourPrefix)
	if !ok || !e.IsDir() {
		return time.Time{}, false
	}
	t, err := time.Parse(archive.HourFormat, s)
	return t, err == nil
}

func newID() (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("seal id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// work and ready are an hour's entries under .sealing.
func work(hour time.Time) string  { return path.Join(workDir, HourDir(hour)+tmpExt) }
func ready(hour time.Time) string { return path.Join(workDir, HourDir(hour)+readyExt) }
