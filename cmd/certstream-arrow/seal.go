package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"text/tabwriter"
	"time"

	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/backfill"
	"github.com/certstream-arrow/certstream-arrow/ctlog"
	"github.com/certstream-arrow/certstream-arrow/seal"
)

// SealCmd compacts finished hours of a dataset into one sorted,
// deduplicated file each, with a manifest (package seal does the work).
type SealCmd struct {
	Dir        string        `arg:"" name:"DIR" help:"Dataset root directory."`
	Hour       []string      `name:"hour" sep:"," placeholder:"YYYY-MM-DDTHH" help:"Seal these hours (UTC, as their directories are named; repeatable or comma-separated), even if not due yet. Default: every hour that ended at least --after ago and holds files no seal took in."`
	After      time.Duration `default:"30m" help:"An hour is due once it ended this long ago: the archivers' last publish of it plus a grace period for late rows and backfill. Keep it above --rotate-age."`
	DryRun     bool          `help:"Read the hours and print what sealing would do (rows kept, duplicates, damaged rows), without writing anything."`
	JSON       bool          `name:"json" help:"Print the manifests as JSON."`
	Memory     ByteSize      `default:"128MiB" help:"Rows held in memory while sorting an hour (16MiB to 8GiB); beyond, sorted runs are spilled to disk under DIR/.sealing."`
	BatchRows  int           `default:"65536" help:"Rows per record batch of a sealed file (1000 to 100000)."`
	BatchBytes ByteSize      `default:"32MiB" help:"Cut a sealed file's batch early once its rows hold this many bytes (1MiB to 512MiB)."`
	FileBytes  ByteSize      `default:"2GiB" help:"Start another sealed file of the hour beyond this size (64MiB or more)."`

	Repair            bool    `help:"Repair damaged rows (certificate rows the feed sent without digests) by fetching their entries from the CT logs themselves, verified, while sealing. Sends requests to the logs, so off by default."`
	LogList           string  `name:"log-list" placeholder:"FILE|URL" default:"https://www.gstatic.com/ct/log_list/v3/log_list.json" help:"With --repair: Chrome v3 log_list.json to find the logs in: a file or an http(s) URL."`
	RequestsPerSecond float64 `default:"4" help:"With --repair: requests per second to each log."`
	MaxInFlight       int     `default:"2" help:"With --repair: requests in flight at once to each log."`
	MaxRetries        int     `default:"8" help:"With --repair: retries of one request (429, 5xx, network errors); Retry-After is honoured."`

	repairer seal.Repairer `kong:"-"`
	out      io.Writer     `kong:"-"` // tests; default stdout
}

// Validate checks flag values before anything starts.
func (c *SealCmd) Validate() error {
	if err := checkDatasetRoot("DIR", c.Dir); err != nil {
		return err
	}
	if _, err := parseHourFlag(c.Hour); err != nil {
		return err
	}
	checks := []struct {
		ok  bool
		msg string
	}{
		{c.After >= 0, "--after must not be negative"},
		{c.Memory >= 16<<20 && c.Memory <= 8<<30, "--memory must be between 16MiB and 8GiB"},
		{c.BatchRows >= 1000 && c.BatchRows <= archive.MaxBatchRows, "--batch-rows must be between 1000 and 100000"},
		{c.BatchBytes >= 1<<20 && c.BatchBytes <= 512<<20, "--batch-bytes must be between 1MiB and 512MiB"},
		{c.FileBytes >= 64<<20, "--file-bytes must be at least 64MiB"},
		{!c.Repair || c.RequestsPerSecond > 0, "--requests-per-second must be positive"},
		{!c.Repair || c.MaxInFlight >= 1 && c.MaxInFlight <= 64, "--max-in-flight must be between 1 and 64"},
		{!c.Repair || c.MaxRetries >= 1, "--max-retries must be at least 1"},
	}
	for _, ch := range checks {
		if !ch.ok {
			return errors.New(ch.msg)
		}
	}
	return nil
}

// parseHourFlag parses the values of an --hour flag.
func parseHourFlag(vals []string) ([]time.Time, error) {
	var hs []time.Time
	for _, s := range vals {
		h, err := time.Parse(archive.HourFormat, s)
		if err != nil {
			return nil, fmt.Errorf("--hour %q: want YYYY-MM-DDTHH, e.g. 2026-11-24T13", s)
		}
		hs = append(hs, h)
	}
	return hs, nil
}

func (c *SealCmd) options(log *slog.Logger) seal.Options {
	return seal.Options{
		Root: c.Dir, Program: programVersion(), After: max(c.After, time.Nanosecond), Repairer: c.repairer,
		MemoryBudget: int64(c.Memory), BatchRows: c.BatchRows, BatchBytes: int64(c.BatchBytes), FileBytes: int64(c.FileBytes),
		DryRun: c.DryRun, Logger: log.With("component", "seal"),
	}
}

// Run salvages what crashed collectors left (so their hours can be
// sealed), then seals the hours asked for, or every hour due. An hour that
// cannot be sealed is reported and the others go on; the exit status says
// whether every hour was sealed.
func (c *SealCmd) Run(ctx context.Context, log *slog.Logger) error {
	if _, err := os.Stat(c.Dir); err != nil {
		return fmt.Errorf("dataset root: %w", err)
	}
	// A soft heap limit a little above what sealing holds (--memory of
	// rows, one batch per spilled run, one output batch) keeps the garbage
	// collector from letting the heap double.
	if os.Getenv("GOMEMLIMIT") == "" {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(2*int64(c.Memory) + 2*int64(c.BatchBytes) + 128<<20))
	}
	if !c.DryRun {
		if _, err := archive.Recover(c.Dir, log.With("component", "archive")); err != nil {
			return err
		}
	}
	if c.Repair && c.repairer == nil {
		list, err := ctlog.LoadList(ctx, c.LogList, nil)
		if err != nil {
			return fmt.Errorf("--log-list: %w", err)
		}
		c.repairer = backfill.NewRepairer(list, ctlog.Options{RequestsPerSecond: c.RequestsPerSecond, MaxInFlight: c.MaxInFlight, MaxRetries: c.MaxRetries},
			log.With("component", "repair"))
	}
	s, err := seal.Open(c.options(log))
	if errors.Is(err, archive.ErrLocked) {
		return fmt.Errorf("another seal is running on %s (run --seal, or a seal command): %w", c.Dir, err)
	}
	if err != nil {
		return err
	}
	defer s.Close()
	hours, _ := parseHourFlag(c.Hour)
	if len(hours) == 0 {
		if hours, err = s.Due(); err != nil {
			return err
		}
	}
	var done []*seal.Manifest
	var errs []error
	for _, h := range hours {
		start := time.Now()
		m, err := s.Seal(ctx, h)
		if err != nil {
			errs = append(errs, fmt.Errorf("hour %s: %w", seal.HourName(h), err))
			log.Error("hour not sealed", "hour", seal.HourName(h), "err", err)
			continue
		}
		logSealed(log, m, time.Since(start), c.DryRun)
		done = append(done, m)
		if ctx.Err() != nil {
			break
		}
	}
	return errors.Join(c.print(done), errors.Join(errs...))
}

func logSealed(log *slog.Logger, m *seal.Manifest, took time.Duration, dry bool) {
	msg := "hour sealed"
	if dry {
		msg = "hour would be sealed (dry run)"
	}
	log.Info(msg, "hour", m.Hour, "sources", len(m.Sources), "rows", m.Rows, "duplicates_removed", m.DuplicatesRemoved,
		"neighbour_duplicates", m.NeighbourDuplicate, "repaired", m.Repaired, "damaged_kept", m.DamagedKept,
		"conflicts_kept", m.ConflictsKept, "files", len(m.Files), "took", took.Round(time.Millisecond))
}

func (c *SealCmd) print(ms []*seal.Manifest) error {
	out := stdout(c.out)
	if c.JSON {
		return writeJSON(out, struct {
			Hours []*seal.Manifest `json:"hours"`
		}{ms})
	}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "hour\tsource files\trows\tduplicates\tneighbour dups\trepaired\tdamaged kept\tconflicts kept\tsealed files\tbytes\t")
	for _, m := range ms {
		var bytes int64
		for _, f := range m.Files {
			bytes += f.Bytes
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", m.Hour, len(m.Sources), m.Rows, m.DuplicatesRemoved,
			m.NeighbourDuplicate, m.Repaired, m.DamagedKept, m.ConflictsKept, len(m.Files), bytes)
	}
	if len(ms) == 0 {
		fmt.Fprintln(w, "(no hour due)\t\t\t\t\t\t\t\t\t\t")
	}
	return w.Flush()
}
