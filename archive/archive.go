// Package archive owns the dataset directory: it partitions rows by UTC hour,
// writes each partition's rows into rotating Feather files, and publishes
// each file atomically. It is the only code that touches the dataset
// directory: sealing (package seal) and the Parquet exporter write through
// its Tree, whose Pending.Publish is the same durable publish.
//
// On-disk layout, under the dataset root:
//
//	hour=2026-11-24T13/                                        one directory per UTC hour (hive style)
//	    20261124T130512Z-web1-3f9a1c07-000001.feather          published: complete, never modified again
//	    .20261124T131012Z-web1-3f9a1c07-000002.feather.tmp     being written; invisible to *.feather globs
//	    .20261124T120001Z-web0-0b7e44d2-000007.feather.bad     left by a crash, unreadable: set aside, never read again
//	.collector-web1.lock                                       held (flock) by the running collector "web1"
//	hour=2026-11-24T12/sealed-20261124T12-5be0a1c2-001.feather  a sealed hour (package seal), with _manifest.json
//	.sealing/, .seal.lock                                      package seal's work directory and lock
//
// A file name is the UTC time the file was opened, the collector name, a
// random run id chosen at each start, and a sequence number, so names are
// unique across restarts and across collectors sharing a root, and sort
// chronologically. Temporary names start with a dot (pyarrow and most
// dataset readers skip dot files) and end in .tmp, so no glob for *.feather
// ever matches them. Nothing but validated components (hour, collector, run
// id, sequence) ever goes into a path, and every path is opened through an
// os.Root, so nothing is written outside the root, even through symlinks.
//
// Every file is an Arrow IPC file (format V2) with zstd-compressed buffers
// and one or more record batches. The IPC stream inside it ends with the
// end-of-stream marker before the footer, so the file read from byte 8 is a
// valid IPC stream (DuckDB's nanoarrow reader relies on this, and so does
// crash salvage). A file becomes visible only through file.publish: close
// the IPC writer, flush, fsync, close, rename without replacing, fsync the
// directory. A published file is never modified; only sealing removes one,
// once the sealed file holding its rows is durable and switched in.
//
// A collector holds an exclusive lock on .collector-NAME.lock for as long as
// it runs. At start, and in Recover, the temporary files of every collector
// whose lock is free (it crashed) are salvaged: their complete batches are
// published and the torn rest dropped. Salvage finishes a temporary file in
// place (cut after its last complete batch, footer appended, renamed), so it
// needs no free space beyond the footer, and the result is byte for byte the
// file the writer would have finished; a file framed otherwise (another
// writer) is copied instead (through .NAME.feather.salvage.tmp). A temporary
// file with no complete batch is removed if its bytes are what a crash
// during its first write leaves (a prefix of the magic, schema and first
// batch, or zeros). One whose bytes no crash leaves (not an Arrow file, a
// stream that fails other than by ending early) is renamed to
// .NAME.feather.bad, after its complete batches, if any, are published; it
// is reported (SalvageReport.Quarantined, a warning) and kept for
// inspection, and no salvage pass, Walk or *.feather glob reads it again. If
// salvage at start fails on a full or failing disk, Open still succeeds: the
// files wait and are retried like a failed write during the run.
//
// A Dataset is not safe for concurrent use: one goroutine appends, ticks and
// closes it.
package archive

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// maxOpenPartitions bounds how many hours may have an open file at once.
// Live ingest touches one or two; replays partitioned by seen may touch
// many, and then the least recently used partition is published first.
const maxOpenPartitions = 24

// PartitionBy selects the moment whose UTC hour places a row.
type PartitionBy uint8

const (
	// ByReceived partitions by when the archiver received the message.
	ByReceived PartitionBy = iota
	// BySeen partitions by the server's data.seen, falling back to the
	// receive time when seen is missing or implausible.
	BySeen
	// ByEntry partitions by the CT entry's own timestamp (backfill),
	// falling back like BySeen.
	ByEntry
)

// ParsePartitionBy turns "received", "seen" or "entry" into a PartitionBy.
func ParsePartitionBy(s string) (PartitionBy, error) {
	switch s {
	case "received":
		return ByReceived, nil
	case "seen":
		return BySeen, nil
	case "entry":
		return ByEntry, nil
	}
	return 0, fmt.Errorf("partition by %q: want received, seen or entry", s)
}

// Options configures a Dataset. Zero limits mean "no limit".
type Options struct {
	Root            string
	Schema          *arrow.Schema // from schema.New
	Collector       string        // this archiver's name among those sharing Root
	BatchRows       int           // rows per record batch
	BatchBytes      int64         // ... or fewer, once a batch's rows hold this many bytes (0: no limit)
	FlushInterval   time.Duration // longest a row waits in memory before it is written
	RotateRows      int64         // publish a file once it holds this many rows
	RotateBytes     int64         // ... or this many bytes
	RotateAge       time.Duration // ... or has been open this long
	PartitionBy     PartitionBy
	FsyncBatch      bool             // fsync after every batch, not only at publish
	MaxPendingRows  int64            // rows kept in memory while writes fail; beyond, new rows are dropped
	MaxPendingBytes int64            // ... and bytes (0: no limit)
	Allocator       memory.Allocator // default memory.DefaultAllocator
	Logger          *slog.Logger     // default discards
	Now             func() time.Time // default time.Now

	OnPublish func(took time.Duration) // called after each publish with its duration (close, fsync, rename)
	// OnBatchWritten is called after each record batch is written (and
	// fsynced, with FsyncBatch) with how long that took. It runs on the
	// goroutine that wrote the batch, concurrently with the Dataset's owner.
	OnBatchWritten func(rows int64, took time.Duration)

	wrapFS func(fsys) fsys // tests: inject faults
}

// Counters are a Dataset's running totals. They are safe to read from any
// goroutine while the Dataset's owner writes.
type Counters struct {
	Rows           atomic.Int64 // rows written to files, published or not yet
	Batches        atomic.Int64
	FilesPublished atomic.Int64
	BytesPublished atomic.Int64
	RowsPending    atomic.Int64 // rows in memory, not yet written
	BytesPending   atomic.Int64 // their bytes (column data, roughly what they take in memory)
	OpenFiles      atomic.Int64
	WriteErrors    atomic.Int64 // failed writes, publishes and salvages
	RowsDropped    atomic.Int64 // rows refused because MaxPendingRows or MaxPendingBytes was reached
	OrphansRescued atomic.Int64 // open files whose directory vanished, their rows copied into a new file
	Writing        atomic.Bool  // false while writes are failing
}

// Dataset writes rows into the dataset directory.
type Dataset struct {
	opts     Options
	root     *os.Root
	fsys     fsys
	lock     *collectorLock
	run      string
	seq      int
	parts    map[time.Time]*partition
	counters Counters
	log      *slog.Logger
	fault    faultState
	inflight *writeJob // the batch being written, if any
}

// Open prepares the dataset root (creating it if needed), checks that it is
// a writable directory, takes the collector's lock, and salvages what
// crashed collectors left behind, so that a root that can never be written
// (not a directory, permission denied, read-only, its collector already
// running) fails at start, not an hour in. A full or failing disk does not
// fail Open: the Dataset starts with writes failing, as during a run, and
// retries them (see Tick).
func Open(opts Options) (*Dataset, error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	run, err := randomID()
	if err != nil {
		return nil, err
	}
	root, err := openRoot(opts.Root)
	if err != nil {
		return nil, err
	}
	d := &Dataset{opts: opts, root: root, fsys: fsys(rootFS{root}), run: run, parts: map[time.Time]*partition{}, log: opts.Logger}
	if opts.wrapFS != nil {
		d.fsys = opts.wrapFS(d.fsys)
	}
	d.counters.Writing.Store(true)
	if d.lock, err = lockCollector(root, opts.Collector); err != nil {
		return nil, errors.Join(err, root.Close())
	}
	if err := d.start(); err != nil {
		return nil, errors.Join(err, d.lock.release(), root.Close())
	}
	return d, nil
}

func (o *Options) fill() error {
	if o.Root == "" || o.Schema == nil || o.BatchRows <= 0 {
		return errors.New("archive: Root, Schema and a positive BatchRows are required")
	}
	if o.Collector == "" {
		o.Collector = DefaultCollector()
	}
	if err := CheckCollector(o.Collector); err != nil {
		return err
	}
	root, err := filepath.Abs(filepath.Clean(o.Root))
	if err != nil {
		return fmt.Errorf("dataset root %s: %w", o.Root, err)
	}
	o.Root = root
	if o.Allocator == nil {
		o.Allocator = memory.DefaultAllocator
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// openRoot creates the root if missing and opens it as an os.Root.
func openRoot(dir string) (*os.Root, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create dataset root: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("dataset root: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("dataset root %s is not a directory", dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("dataset root: %w", err)
	}
	return root, nil
}

// Root returns the absolute dataset root.
func (d *Dataset) Root() string { return d.opts.Root }

// Collector returns this Dataset's collector name.
func (d *Dataset) Collector() string { return d.opts.Collector }

// Counters returns the Dataset's live counters.
func (d *Dataset) Counters() *Counters { return &d.counters }

func randomID() (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("collector id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
