// Package archive owns the dataset directory: it partitions rows by UTC hour,
// writes each partition's rows into rotating Feather files, and publishes
// each file atomically. It is the only code that touches the dataset
// directory.
//
// On-disk layout, under the dataset root:
//
//	hour=2026-11-24T13/                                  one directory per UTC hour (hive style)
//	    20261124T130512Z-3f9a1c07-000001.feather         published: complete, never modified again
//	    .20261124T131012Z-3f9a1c07-000002.feather.tmp    being written; invisible to *.feather globs
//
// A file name is the UTC time the file was opened, the collector's random
// identity (fixed for the life of the process) and a sequence number, so
// names are unique across restarts and across collectors sharing a root,
// and sort chronologically. Temporary names start with a dot (pyarrow and
// most dataset readers skip dot files) and end in .tmp, so no glob for
// *.feather ever matches them.
//
// Every file is an Arrow IPC file (format V2) with zstd-compressed buffers
// and one or more record batches. The IPC stream inside it ends with the
// end-of-stream marker before the footer, so the file read from byte 8 is a
// valid IPC stream (DuckDB's nanoarrow reader relies on this). A file becomes
// visible only through publish: close the IPC writer, flush, fsync, close,
// rename without replacing, fsync the directory.
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

	"github.com/certstream-arrow/certstream-arrow/schema"
)

// Names of the layout.
const (
	HourPrefix = "hour="         // partition directory prefix
	HourFormat = "2006-01-02T15" // partition directory time, UTC
	Ext        = ".feather"      // published files
	TmpSuffix  = ".tmp"          // files being written (after Ext)
	nameTime   = "20060102T150405Z"
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
)

// Options configures a Dataset. Zero limits mean "no limit".
type Options struct {
	Root          string
	Schema        *arrow.Schema // from schema.New
	BatchRows     int           // rows per record batch
	FlushInterval time.Duration // longest a row waits in memory before it is written
	RotateRows    int64         // publish a file once it holds this many rows
	RotateBytes   int64         // ... or this many bytes
	RotateAge     time.Duration // ... or has been open this long
	PartitionBy   PartitionBy
	Allocator     memory.Allocator // default memory.DefaultAllocator
	Logger        *slog.Logger     // default discards
	Now           func() time.Time // default time.Now
}

// Counters are a Dataset's running totals. They are safe to read from any
// goroutine while the Dataset's owner writes.
type Counters struct {
	Rows           atomic.Int64 // rows written to files, published or not yet
	Batches        atomic.Int64
	FilesPublished atomic.Int64
	BytesPublished atomic.Int64
	RowsPending    atomic.Int64 // rows in memory, not yet written
	OpenFiles      atomic.Int64
}

// Dataset writes rows into the dataset directory.
type Dataset struct {
	opts     Options
	id       string
	seq      int
	parts    map[time.Time]*partition
	counters Counters
	log      *slog.Logger
}

// partition is one UTC hour with rows in memory or an open file.
type partition struct {
	hour         time.Time
	dir          string
	rows         *schema.Builder
	pendingSince time.Time // when the oldest unwritten row arrived; zero if none
	lastAppend   time.Time
	file         *file // nil until the first batch is written
	openedAt     time.Time
}

// Open prepares the dataset root (creating it if needed) and checks that it
// is a writable directory, so that a bad root fails at start, not an hour in.
func Open(opts Options) (*Dataset, error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	id, err := randomID()
	if err != nil {
		return nil, err
	}
	d := &Dataset{opts: opts, id: id, parts: map[time.Time]*partition{}, log: opts.Logger}
	if err := d.checkRoot(); err != nil {
		return nil, err
	}
	return d, nil
}

func (o *Options) fill() error {
	if o.Root == "" || o.Schema == nil || o.BatchRows <= 0 {
		return errors.New("archive: Root, Schema and a positive BatchRows are required")
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

func (d *Dataset) checkRoot() error {
	root := d.opts.Root
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("create dataset root: %w", err)
	}
	probe := filepath.Join(root, "."+d.id+"-probe"+TmpSuffix)
	f, err := createTemp(probe)
	if err != nil {
		return fmt.Errorf("dataset root %s is not writable: %w", root, err)
	}
	return errors.Join(f.Close(), os.Remove(probe))
}

// Root returns the absolute dataset root.
func (d *Dataset) Root() string { return d.opts.Root }

// Counters returns the Dataset's live counters.
func (d *Dataset) Counters() *Counters { return &d.counters }

func randomID() (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("collector id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
