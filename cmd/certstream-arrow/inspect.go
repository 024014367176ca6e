package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/certstream-arrow/certstream-arrow/archive"
)

// InspectCmd summarises a dataset: its hours, files, rows and bytes, the
// time ranges, and per CT log the cert_index range with its holes and
// duplicates. It reads published files only, one record batch at a time.
type InspectCmd struct {
	Dir  string `arg:"" name:"DIR" help:"Dataset root directory."`
	JSON bool   `name:"json" help:"Print JSON instead of tables."`

	out io.Writer `kong:"-"` // tests; default stdout
}

// inspectReport is what inspect prints; its JSON form is stable for scripts.
type inspectReport struct {
	Hours      int              `json:"hours"`
	FirstHour  string           `json:"first_hour,omitempty"`
	LastHour   string           `json:"last_hour,omitempty"`
	Files      int              `json:"files"`
	Rows       int64            `json:"rows"`
	Bytes      int64            `json:"bytes"`
	BytesRow   float64          `json:"bytes_per_row"`
	Seen       timeRange        `json:"seen"`
	Received   timeRange        `json:"received_at"`
	Logs       []*logReport     `json:"logs"`
	NoIndex    int64            `json:"rows_without_cert_index"`
	Unreadable []unreadableFile `json:"unreadable"`
	// SetAside lists the temporary files crash salvage could not read and
	// set aside as .NAME.feather.bad; their rows are in no total.
	SetAside []setAsideFile `json:"set_aside"`
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

type logReport struct {
	SourceURL  string `json:"source_url"`
	SourceName string `json:"source_name"`
	Rows       int64  `json:"rows"`
	MinIndex   int64  `json:"min_cert_index"`
	MaxIndex   int64  `json:"max_cert_index"`
	Holes      int    `json:"holes"`
	Missing    int64  `json:"missing"`
	Duplicates int64  `json:"duplicates"`

	seen intervals
}

type unreadableFile struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

// intervals is a sorted set of disjoint, non-adjacent [lo, hi] ranges of
// cert_index: memory grows with the number of holes, not of rows.
type intervals [][2]int64

// add inserts x and reports whether it was already present.
func (iv *intervals) add(x int64) (dup bool) {
	s := *iv
	if n := len(s); n > 0 && x > s[n-1][1] { // the common case: the next index
		if x == s[n-1][1]+1 {
			s[n-1][1] = x
		} else {
			*iv = append(s, [2]int64{x, x})
		}
		return false
	}
	i := sort.Search(len(s), func(i int) bool { return s[i][1] >= x }) // first range ending at or after x
	if i < len(s) && s[i][0] <= x {
		return true
	}
	joinLeft := i > 0 && s[i-1][1] == x-1
	joinRight := i < len(s) && s[i][0] == x+1
	switch {
	case joinLeft && joinRight:
		s[i-1][1] = s[i][1]
		*iv = slices.Delete(s, i, i+1)
	case joinLeft:
		s[i-1][1] = x
	case joinRight:
		s[i][0] = x
	default:
		*iv = slices.Insert(s, i, [2]int64{x, x})
	}
	return false
}

// Run reads the dataset and prints the report.
func (c *InspectCmd) Run() error {
	rep := &inspectReport{}
	logs := map[string]*logReport{}
	hours := map[time.Time]bool{}
	unreadable, err := archive.Walk(c.Dir, archive.Visitor{
		File: func(f archive.PublishedFile) {
			rep.Files++
			rep.Bytes += f.Size
			hours[f.Hour] = true
		},
		Batch: func(_ archive.PublishedFile, rec arrow.RecordBatch) error {
			return rep.addBatch(rec, logs)
		},
		SetAside: func(f archive.PublishedFile) {
			rep.SetAside = append(rep.SetAside, setAsideFile{f.Path, f.Size})
		},
	})
	if err != nil {
		return err
	}
	rep.finish(logs, hours, unreadable)
	out := c.out
	if out == nil {
		out = os.Stdout
	}
	if c.JSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	rep.print(out)
	return nil
}

// addBatch folds one record batch into the report, reading only the
// columns it needs.
func (rep *inspectReport) addBatch(rec arrow.RecordBatch, logs map[string]*logReport) error {
	col := func(name string) arrow.Array {
		if idx := rec.Schema().FieldIndices(name); len(idx) > 0 {
			return rec.Column(idx[0])
		}
		return nil
	}
	seen, _ := col("seen").(*array.Timestamp)
	received, _ := col("received_at").(*array.Timestamp)
	index, _ := col("cert_index").(*array.Int64)
	url, _ := col("source_url").(textColumn)
	name, _ := col("source_name").(textColumn)
	if seen == nil || received == nil || index == nil || url == nil || name == nil {
		return fmt.Errorf("not a certstream-arrow schema: %s", rec.Schema())
	}
	rep.Rows += rec.NumRows()
	for i := range int(rec.NumRows()) {
		if seen.IsValid(i) {
			rep.Seen.add(seen.Value(i).ToTime(arrow.Microsecond).UTC())
		}
		if received.IsValid(i) {
			rep.Received.add(received.Value(i).ToTime(arrow.Microsecond).UTC())
		}
		if index.IsNull(i) || url.IsNull(i) {
			rep.NoIndex++
			continue
		}
		l := logs[url.Value(i)]
		if l == nil {
			l = &logReport{SourceURL: url.Value(i), SourceName: name.Value(i)}
			logs[l.SourceURL] = l
		}
		l.Rows++
		if l.seen.add(index.Value(i)) {
			l.Duplicates++
		}
	}
	return nil
}

// textColumn is a string column with 32-bit (schema 1) or 64-bit
// (schema 2) offsets.
type textColumn interface {
	arrow.Array
	Value(int) string
}

func (rep *inspectReport) finish(logs map[string]*logReport, hours map[time.Time]bool, bad []archive.FileError) {
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
	for _, l := range logs {
		iv := l.seen
		l.MinIndex, l.MaxIndex, l.Holes = iv[0][0], iv[len(iv)-1][1], len(iv)-1
		for i := 1; i < len(iv); i++ {
			l.Missing += iv[i][0] - iv[i-1][1] - 1
		}
		rep.Logs = append(rep.Logs, l)
	}
	slices.SortFunc(rep.Logs, func(a, b *logReport) int { return int(b.Rows - a.Rows) })
	rep.Unreadable = []unreadableFile{}
	if rep.SetAside == nil {
		rep.SetAside = []setAsideFile{}
	}
	for _, b := range bad {
		rep.Unreadable = append(rep.Unreadable, unreadableFile{b.Path, b.Err.Error()})
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
	w.Flush()
	fmt.Fprintln(out)
	w = tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "rows\tmin cert_index\tmax cert_index\tholes\tmissing\tduplicates\t log")
	for _, l := range rep.Logs {
		fmt.Fprintf(w, "%d\t%d\t%d\t%d\t%d\t%d\t %s (%s)\n", l.Rows, l.MinIndex, l.MaxIndex, l.Holes, l.Missing, l.Duplicates, l.SourceName, l.SourceURL)
	}
	w.Flush()
	for _, u := range rep.Unreadable {
		fmt.Fprintf(out, "unreadable: %s: %s\n", u.Path, u.Error)
	}
	for _, f := range rep.SetAside {
		fmt.Fprintf(out, "set aside: %s (%d bytes)\n", f.Path, f.Bytes)
	}
}

func (r timeRange) String() string {
	if r.Min == nil {
		return "-"
	}
	return r.Min.Format(time.RFC3339) + " .. " + r.Max.Format(time.RFC3339)
}
