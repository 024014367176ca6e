package main

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/coverage"
	"github.com/certstream-arrow/certstream-arrow/seal"
)

// InspectCmd summarises a dataset: its hours, files, rows and bytes, the
// time ranges, and per CT log the cert_index range with its holes,
// duplicates and damaged rows, as package coverage computes them. It reads
// published files only, one record batch at a time.
type InspectCmd struct {
	Dir  string `arg:"" name:"DIR" help:"Dataset root directory."`
	JSON bool   `name:"json" help:"Print JSON instead of tables."`

	out io.Writer `kong:"-"` // tests; default stdout
}

// inspectReport is what inspect prints; its JSON form is stable for scripts.
type inspectReport struct {
	Hours      int                   `json:"hours"`
	FirstHour  string                `json:"first_hour,omitempty"`
	LastHour   string                `json:"last_hour,omitempty"`
	Files      int                   `json:"files"`
	Rows       int64                 `json:"rows"`
	Bytes      int64                 `json:"bytes"`
	BytesRow   float64               `json:"bytes_per_row"`
	Seen       timeRange             `json:"seen"`
	Received   timeRange             `json:"received_at"`
	Logs       []coverage.LogSummary `json:"logs"` // most rows first
	NoIndex    int64                 `json:"rows_without_cert_index"`
	Unreadable []unreadableFile      `json:"unreadable"`
	// SetAside lists the temporary files crash salvage could not read and
	// set aside as .NAME.feather.bad; their rows are in no total.
	SetAside []setAsideFile `json:"set_aside"`
	// SealedHours counts the hours with a manifest; SealProblems lists how
	// their files differ from it (a file missing, or other row counts).
	// verify checks more: SHA-256 and every key.
	SealedHours  int      `json:"sealed_hours"`
	SealProblems []string `json:"seal_problems"`
}

type setAsideFile struct {
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"`
}

type timeRange struct {
	Min *time.Time `json:"min"`
	Max *time.Time `json:"max"`
}

func (r *timeRange) add(t time.Time) {
	if r.Min == nil || t.Before(*r.Min) {
		r.Min = &t
	}
	if r.Max == nil || t.After(*r.Max) {
		r.Max = &t
	}
}

type unreadableFile struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

// Run reads the dataset and prints the report.
func (c *InspectCmd) Run() error {
	rep := &inspectReport{}
	cov := coverage.New()
	hours := map[time.Time]bool{}
	fileRows := map[string]int64{}
	unreadable, err := archive.Walk(c.Dir, archive.Visitor{
		File: func(f archive.PublishedFile) {
			rep.Files++
			rep.Bytes += f.Size
			hours[f.Hour] = true
		},
		Batch: func(f archive.PublishedFile, rec arrow.RecordBatch) error {
			fileRows[f.Path] += rec.NumRows()
			return rep.addBatch(rec, cov)
		},
		SetAside: func(f archive.PublishedFile) {
			rep.SetAside = append(rep.SetAside, setAsideFile{f.Path, f.Size})
		},
	})
	if err != nil {
		return err
	}
	rep.finish(cov, hours, unreadable)
	rep.checkSealed(c.Dir, fileRows)
	out := stdout(c.out)
	if c.JSON {
		return writeJSON(out, rep)
	}
	rep.print(out)
	return nil
}

// addBatch folds one record batch into the report and the coverage,
// reading only the columns they need.
func (rep *inspectReport) addBatch(rec arrow.RecordBatch, cov *coverage.Dataset) error {
	col := func(name string) arrow.Array {
		if idx := rec.Schema().FieldIndices(name); len(idx) > 0 {
			return rec.Column(idx[0])
		}
		return nil
	}
	seen, _ := col("seen").(*array.Timestamp)
	received, _ := col("received_at").(*array.Timestamp)
	if seen == nil || received == nil {
		return fmt.Errorf("not a certstream-arrow schema: %s", rec.Schema())
	}
	if err := cov.Add(rec); err != nil {
		return err
	}
	for i := range int(rec.NumRows()) {
		if seen.IsValid(i) {
			rep.Seen.add(seen.Value(i).ToTime(arrow.Microsecond).UTC())
		}
		if received.IsValid(i) {
			rep.Received.add(received.Value(i).ToTime(arrow.Microsecond).UTC())
		}
	}
	return nil
}

func (rep *inspectReport) finish(cov *coverage.Dataset, hours map[time.Time]bool, bad []archive.FileError) {
	sum := cov.Summary()
	rep.Rows, rep.NoIndex, rep.Logs = sum.Rows, sum.Unattributed, sum.Logs
	rep.Hours = len(hours)
	var hs []time.Time
	for h := range hours {
		hs = append(hs, h)
	}
	slices.SortFunc(hs, time.Time.Compare)
	if len(hs) > 0 {
		rep.FirstHour, rep.LastHour = hs[0].Format(archive.HourFormat), hs[len(hs)-1].Format(archive.HourFormat)
	}
	if rep.Rows > 0 {
		rep.BytesRow = float64(rep.Bytes) / float64(rep.Rows)
	}
	slices.SortStableFunc(rep.Logs, func(a, b coverage.LogSummary) int { return cmp.Compare(b.Rows, a.Rows) })
	rep.Unreadable = []unreadableFile{}
	if rep.SetAside == nil {
		rep.SetAside = []setAsideFile{}
	}
	for _, b := range bad {
		rep.Unreadable = append(rep.Unreadable, unreadableFile{b.Path, b.Err.Error()})
	}
}

// checkSealed compares each sealed hour's files, and the rows read from
// them, with its manifest.
func (rep *inspectReport) checkSealed(root string, fileRows map[string]int64) {
	rep.SealProblems = []string{}
	hours, _ := filepath.Glob(filepath.Join(root, archive.HourPrefix+"*", seal.ManifestName))
	for _, mf := range hours {
		dir := filepath.Base(filepath.Dir(mf))
		m, err := seal.ReadManifest(os.DirFS(root), dir)
		if err != nil {
			rep.SealProblems = append(rep.SealProblems, err.Error())
			continue
		}
		rep.SealedHours++
		for _, f := range m.Files {
			if got, ok := fileRows[path.Join(dir, f.Name)]; !ok || got != f.Rows {
				rep.SealProblems = append(rep.SealProblems, fmt.Sprintf("%s/%s: %d rows read (missing or unreadable if 0), manifest says %d", dir, f.Name, got, f.Rows))
			}
		}
	}
}

func (rep *inspectReport) print(out io.Writer) {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "hours\t%d\t%s .. %s\n", rep.Hours, rep.FirstHour, rep.LastHour)
	fmt.Fprintf(w, "files\t%d\t\n", rep.Files)
	fmt.Fprintf(w, "rows\t%d\t(%d without cert_index)\n", rep.Rows, rep.NoIndex)
	fmt.Fprintf(w, "bytes\t%d\t%.1f per row\n", rep.Bytes, rep.BytesRow)
	fmt.Fprintf(w, "seen\t%s\t\n", rep.Seen)
	fmt.Fprintf(w, "received_at\t%s\t\n", rep.Received)
	fmt.Fprintf(w, "unreadable\t%d\tfiles (listed below; their rows are in no total)\n", len(rep.Unreadable))
	fmt.Fprintf(w, "set aside\t%d\ttemporary files salvage could not read\n", len(rep.SetAside))
	fmt.Fprintf(w, "sealed\t%d\thours (%d problems, listed below; certstream-arrow verify checks every byte)\n", rep.SealedHours, len(rep.SealProblems))
	w.Flush()
	fmt.Fprintln(out)
	w = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "rows\tmin cert_index\tmax cert_index\tholes\tmissing\tduplicates\tdamaged\t log")
	for _, l := range rep.Logs {
		fmt.Fprintf(w, "%d\t%d\t%d\t%d\t%d\t%d\t%d\t %s (%s)\n", l.Rows, l.MinIndex, l.MaxIndex, l.Holes, l.Missing, l.Duplicates, l.Damaged, l.SourceName, l.SourceURL)
	}
	w.Flush()
	for _, u := range rep.Unreadable {
		fmt.Fprintf(out, "unreadable: %s: %s\n", u.Path, u.Error)
	}
	for _, f := range rep.SetAside {
		fmt.Fprintf(out, "set aside: %s (%d bytes)\n", f.Path, f.Bytes)
	}
	for _, p := range rep.SealProblems {
		fmt.Fprintf(out, "seal problem: %s\n", p)
	}
}

func (r timeRange) String() string {
	if r.Min == nil {
		return "-"
	}
	return r.Min.Format(time.RFC3339) + " .. " + r.Max.Format(time.RFC3339)
}
