package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/export"
	"github.com/certstream-arrow/certstream-arrow/seal"
)

// ExportCmd writes the sealed hours of a dataset as hive-partitioned
// Parquet into another directory (package export does the work).
type ExportCmd struct {
	Dir          string   `arg:"" name:"DIR" help:"Dataset root directory (only read)."`
	Format       string   `enum:"parquet" default:"parquet" help:"Output format: parquet (the only one so far)."`
	Out          string   `required:"" placeholder:"DIR2" help:"Export root: gets one hour=YYYY-MM-DDTHH directory per sealed hour, holding part-*.parquet files and _export.json. Not DIR itself, nor inside DIR's hour directories."`
	Hours        []string `sep:"," placeholder:"HOURS" help:"Export these hours only (UTC; repeatable or comma-separated): an hour 2026-11-24T13, a day 2026-11-24, or an inclusive range FROM..TO of either, open at one end (2026-11-24T13.., ..2026-11-24). Default: every hour."`
	DryRun       bool     `help:"List what would be exported (sealed hours not exported from their current manifest yet), without writing anything."`
	Force        bool     `help:"Export again hours already exported from their current manifest (after changing --zstd-level or --row-group-rows)."`
	JSON         bool     `name:"json" help:"Print JSON."`
	ZstdLevel    int      `default:"7" help:"zstd level of the Parquet pages, 1 to 22 (klauspost/compress: 1 fastest, 2-5 default, 6-9 better, 10-22 best). 7: smaller than DuckDB's own Parquet, at twice the CPU of level 3."`
	RowGroupRows int      `default:"131072" help:"Rows per Parquet row group at most, 1000 to 10000000; a group is also cut once it holds 64 MiB of compressed pages (about 100,000 rows with as_der)."`

	out io.Writer `kong:"-"` // tests; default stdout
}

// exportMemoryLimit is the export's soft heap limit, unless GOMEMLIMIT
// sets one: one record batch read (sealed batches hold at most 32 MiB)
// and one row group being written (64 MiB compressed in finished pages,
// plus a page per column being filled) stay well under it. Measured on an
// hour of 300,000 full rows: peak RSS 512 MB without a limit, 295 MB with
// it, the same CPU time; 1,000,000 lite rows: 338 MB, 276 MB.
const exportMemoryLimit = 256 << 20

// errExport makes the exit status non-zero after the report is printed.
var errExport = errors.New("some hours were not exported (listed above)")

// Validate checks flag values before anything starts.
func (c *ExportCmd) Validate() error {
	if err := checkDatasetRoot("DIR", c.Dir); err != nil {
		return err
	}
	if err := c.checkOut(); err != nil {
		return err
	}
	if _, err := parseHours(c.Hours); err != nil {
		return err
	}
	switch {
	case c.ZstdLevel < 1 || c.ZstdLevel > 22:
		return errors.New("--zstd-level must be between 1 and 22")
	case c.RowGroupRows < 1000 || c.RowGroupRows > 10_000_000:
		return errors.New("--row-group-rows must be between 1000 and 10000000")
	}
	return nil
}

// checkOut refuses an export root that is DIR itself (however spelled) or
// inside one of DIR's hour directories or hidden entries, where its files
// would mix with the dataset's.
func (c *ExportCmd) checkOut() error {
	if err := checkDatasetRoot("--out", c.Out); err != nil {
		return err
	}
	if strings.EqualFold(filepath.Ext(c.Out), export.Ext) {
		return fmt.Errorf("--out %q looks like a single file: it is a directory that gets one hour=YYYY-MM-DDTHH directory per hour", c.Out)
	}
	for _, d := range pathSpellings(c.Dir) {
		for _, o := range pathSpellings(c.Out) {
			rel, err := filepath.Rel(d, o)
			if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				continue
			}
			first, _, _ := strings.Cut(rel, string(filepath.Separator))
			switch {
			case rel == ".":
				return fmt.Errorf("--out %q is the dataset root DIR itself: give the export a directory of its own", c.Out)
			case strings.HasPrefix(first, archive.HourPrefix) || strings.HasPrefix(first, "."):
				return fmt.Errorf("--out %q is inside the dataset's %s: give the export a directory of its own, outside DIR's hour directories", c.Out, first)
			}
		}
	}
	return nil
}

// pathSpellings returns p made absolute and cleaned, and with every
// symlink of its longest existing ancestor resolved.
func pathSpellings(p string) []string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil
	}
	out := []string{abs}
	rest := ""
	for dir := abs; ; dir = filepath.Dir(dir) {
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			if r := filepath.Join(real, rest); r != abs {
				out = append(out, r)
			}
			return out
		}
		if dir == filepath.Dir(dir) {
			return out
		}
		rest = filepath.Join(filepath.Base(dir), rest)
	}
}

// hourSpan is an inclusive range of hours; a zero end is open.
type hourSpan struct{ from, to time.Time }

// parseHours turns --hours into a selection of hours; nil selects all.
func parseHours(items []string) (func(time.Time) bool, error) {
	var spans []hourSpan
	for _, it := range items {
		s, err := parseSpan(strings.TrimSpace(it))
		if err != nil {
			return nil, fmt.Errorf("--hours %q: %v; want an hour 2026-11-24T13, a day 2026-11-24, or FROM..TO of those (one end may be left out)", it, err)
		}
		spans = append(spans, s)
	}
	if len(spans) == 0 {
		return nil, nil
	}
	return func(h time.Time) bool {
		for _, s := range spans {
			if !h.Before(s.from) && (s.to.IsZero() || !h.After(s.to)) {
				return true
			}
		}
		return false
	}, nil
}

func parseSpan(it string) (hourSpan, error) {
	from, to, isRange := strings.Cut(it, "..")
	if !isRange {
		first, last, err := parseHourOrDay(it)
		return hourSpan{first, last}, err
	}
	var s hourSpan
	var err error
	switch {
	case from == "" && to == "":
		return s, errors.New("open at both ends")
	case from != "":
		if s.from, _, err = parseHourOrDay(from); err != nil {
			return s, err
		}
	}
	if to != "" {
		if _, s.to, err = parseHourOrDay(to); err != nil {
			return s, err
		}
		if s.to.Before(s.from) {
			return s, errors.New("ends before it starts")
		}
	}
	return s, nil
}

// parseHourOrDay returns the first and last hour of an hour or a UTC day.
func parseHourOrDay(s string) (first, last time.Time, err error) {
	if h, err := time.Parse(archive.HourFormat, s); err == nil {
		return h, h, nil
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return d, d, fmt.Errorf("%q is neither an hour nor a day", s)
	}
	return d, d.Add(23 * time.Hour), nil
}

// Run exports, prints one line per hour, then the problems; the exit
// status is non-zero if any hour failed or the run was interrupted.
func (c *ExportCmd) Run(ctx context.Context, log *slog.Logger) error {
	if fi, err := os.Stat(c.Dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("dataset root %s: not a directory (%v)", c.Dir, err)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(exportMemoryLimit))
	}
	pick, _ := parseHours(c.Hours)
	e, err := export.Open(export.Options{
		Source: c.Dir, Out: c.Out, Hours: pick, ZstdLevel: c.ZstdLevel, RowGroupRows: int64(c.RowGroupRows),
		Force: c.Force, DryRun: c.DryRun, Program: programVersion(), Logger: log.With("component", "export"),
	})
	if errors.Is(err, archive.ErrLocked) {
		return fmt.Errorf("another export is writing to %s: %w", c.Out, err)
	}
	if err != nil {
		return err
	}
	res, runErr := e.Run(ctx)
	err = errors.Join(runErr, c.print(res), e.Close())
	for _, r := range res {
		if r.Status == export.Failed {
			return errors.Join(err, errExport)
		}
	}
	return err
}

type exportLine struct {
	Hour     string        `json:"hour"`
	Status   export.Status `json:"status"`
	Manifest string        `json:"manifest_id,omitempty"`
	Rows     int64         `json:"rows"`
	Files    []export.File `json:"files"`
	Bytes    int64         `json:"bytes"`
	Problem  string        `json:"problem,omitempty"`
}

func (c *ExportCmd) print(res []export.HourResult) error {
	out := stdout(c.out)
	lines := make([]exportLine, 0, len(res))
	for _, r := range res {
		l := exportLine{Hour: seal.HourName(r.Hour), Status: r.Status, Manifest: r.ManifestID, Rows: r.Rows, Files: r.Files, Bytes: r.Bytes()}
		if r.Err != nil {
			l.Problem = r.Err.Error()
		}
		lines = append(lines, l)
	}
	if c.JSON {
		return writeJSON(out, struct {
			Hours []exportLine `json:"hours"`
		}{lines})
	}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "hour\tstatus\tmanifest\trows\tfiles\tbytes")
	for _, l := range lines {
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%d\n", l.Hour, l.Status, l.Manifest, l.Rows, len(l.Files), l.Bytes)
	}
	if len(lines) == 0 {
		fmt.Fprintln(w, "(no hour)\t\t\t\t\t")
	}
	if err := w.Flush(); err != nil {
		return err
	}
	for _, l := range lines {
		if l.Problem != "" {
			fmt.Fprintf(out, "problem: %s: %s\n", l.Hour, l.Problem)
		}
	}
	return nil
}
