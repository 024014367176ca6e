package seal

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/coverage"
)

// HourReport is what Verify found of one hour.
type HourReport struct {
	Hour     time.Time
	Manifest *Manifest // nil: the hour was never sealed
	// Unsealed lists the hour's files its manifest does not list: rows
	// added since the seal (a backfill), which the next seal takes in.
	Unsealed []string
	// Problems lists every way the sealed files differ from the manifest:
	// a file missing, resized, changed (SHA-256), unreadable, or holding
	// other rows than the manifest says. Empty: the hour is as sealed.
	Problems []string
}

// OK reports whether the hour has no problem.
func (r HourReport) OK() bool { return len(r.Problems) == 0 }

// Verify checks every hour of the dataset at root (or those hours selects,
// when not nil) against its manifest: each sealed file's size and SHA-256,
// then its rows, read back: their count per file, and per log the
// cert_index ranges, sorted and each once. It reads every sealed file
// whole, one batch at a time. An error means the root could not be read.
func Verify(root string, hours func(time.Time) bool) ([]HourReport, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("dataset root: %w", err)
	}
	defer r.Close()
	ents, err := fs.ReadDir(r.FS(), ".")
	if err != nil {
		return nil, fmt.Errorf("dataset root: %w", err)
	}
	var reps []HourReport
	for _, e := range ents {
		hour, ok := parseHourDir(e)
		if !ok || hours != nil && !hours(hour) {
			continue
		}
		reps = append(reps, verifyHour(root, r.FS(), hour))
	}
	return reps, nil
}

func verifyHour(root string, fsys fs.FS, hour time.Time) HourReport {
	rep := HourReport{Hour: hour}
	dir := HourDir(hour)
	m, err := ReadManifest(fsys, dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		rep.Problems = append(rep.Problems, err.Error())
		return rep
	default:
		rep.Manifest = m
	}
	ents, err := fs.ReadDir(fsys, dir)
	if err != nil {
		rep.Problems = append(rep.Problems, fmt.Sprintf("list %s: %v", dir, err))
		return rep
	}
	for _, e := range ents {
		if n := e.Name(); !strings.HasPrefix(n, ".") && strings.HasSuffix(n, archive.Ext) && (m == nil || !listed(m, n)) {
			rep.Unsealed = append(rep.Unsealed, n)
		}
	}
	if m == nil {
		return rep
	}
	if m.Hour != HourName(hour) {
		rep.Problems = append(rep.Problems, fmt.Sprintf("manifest is of hour %s, found in %s", m.Hour, dir))
	}
	whole := true
	for _, f := range m.Files {
		if err := CheckFile(fsys, path.Join(dir, f.Name), f); err != nil {
			rep.Problems = append(rep.Problems, err.Error())
			whole = false
		}
	}
	if whole {
		rep.Problems = append(rep.Problems, checkRows(root, hour, m)...)
	}
	return rep
}

func listed(m *Manifest, name string) bool {
	return slices.ContainsFunc(m.Files, func(f File) bool { return f.Name == name })
}

// CheckFile compares the sealed file name of fsys with its manifest entry:
// its size, then the SHA-256 of its bytes. The error says which differs
// (bit rot, a file edited or truncated by hand) or why it cannot be read.
func CheckFile(fsys fs.FS, name string, want File) error {
	f, err := fsys.Open(name)
	if err != nil {
		return fmt.Errorf("sealed file %s: %w", name, err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	switch {
	case err != nil:
		return fmt.Errorf("read sealed file %s: %w", name, err)
	case n != want.Bytes:
		return fmt.Errorf("sealed file %s: %d bytes, its manifest says %d", name, n, want.Bytes)
	case hex.EncodeToString(h.Sum(nil)) != want.SHA256:
		return fmt.Errorf("sealed file %s: SHA-256 %x, its manifest says %s: the file changed after it was sealed", name, h.Sum(nil), want.SHA256)
	}
	return nil
}

// checkRows reads the sealed files back and compares their rows with the
// manifest.
func checkRows(root string, hour time.Time, m *Manifest) []string {
	var problems []string
	rows := map[string]int64{}
	logs := map[string]*coverage.Set{}
	var ord order
	var total int64
	bad, err := archive.Walk(root, archive.Visitor{
		Hour: func(h time.Time) bool { return h.Equal(hour) },
		Skip: func(pf archive.PublishedFile) bool { return !listed(m, path.Base(pf.Path)) },
		Batch: func(pf archive.PublishedFile, rec arrow.RecordBatch) error {
			rows[path.Base(pf.Path)] += rec.NumRows()
			total += rec.NumRows()
			return checkBatch(rec, logs, &ord)
		},
	})
	if err != nil {
		return append(problems, err.Error())
	}
	for _, b := range bad {
		problems = append(problems, fmt.Sprintf("%s: %v", b.Path, b.Err))
	}
	for _, f := range m.Files {
		if rows[f.Name] != f.Rows {
			problems = append(problems, fmt.Sprintf("%s: %d rows, manifest says %d", f.Name, rows[f.Name], f.Rows))
		}
	}
	if total != m.Rows {
		problems = append(problems, fmt.Sprintf("%d rows, manifest says %d", total, m.Rows))
	}
	return append(problems, compareLogs(logs, m)...)
}

// order checks that sealed rows come sorted, each key once, unkeyed rows
// last.
type order struct {
	last    ref
	any     bool
	unkeyed bool // an unkeyed row was read
}

// checkBatch folds a sealed batch's keys into logs, and fails if they are
// out of order.
func checkBatch(rec arrow.RecordBatch, logs map[string]*coverage.Set, o *order) error {
	v, err := bindKeys(rec)
	if err != nil {
		return err
	}
	for i := range int(rec.NumRows()) {
		if !v.keyed(i) {
			o.unkeyed = true
			continue
		}
		r := ref{url: v.url.Value(i), index: v.index.Value(i), keyed: true}
		if o.unkeyed || o.any && compareRefs(o.last, r) >= 0 {
			return fmt.Errorf("rows out of order or repeated at %s %d", r.url, r.index)
		}
		l := logs[r.url]
		if l == nil {
			l = &coverage.Set{}
			logs[strings.Clone(r.url)] = l
		}
		l.Add(r.index)
		if o.last.url != r.url {
			r.url = strings.Clone(r.url)
		} else {
			r.url = o.last.url
		}
		o.last, o.any = r, true
	}
	return nil
}

// compareLogs compares the keys read with the manifest's per-log ranges.
func compareLogs(logs map[string]*coverage.Set, m *Manifest) []string {
	var problems []string
	for _, l := range m.Logs {
		got := logs[l.URL]
		if got == nil {
			problems = append(problems, fmt.Sprintf("log %s: no rows, manifest says %d", l.URL, l.Rows))
			continue
		}
		delete(logs, l.URL)
		want := make([][2]int64, 0, len(l.Held))
		for _, r := range got.Ranges() {
			want = append(want, [2]int64{r.Start, r.End - 1})
		}
		if got.Held() != l.Rows || !slices.Equal(want, l.Held) {
			problems = append(problems, fmt.Sprintf("log %s: %d rows in %d ranges, manifest says %d in %d", l.URL, got.Held(), len(want), l.Rows, len(l.Held)))
		}
	}
	for url, got := range logs {
		problems = append(problems, fmt.Sprintf("log %s: %d rows the manifest does not list", url, got.Held()))
	}
	return problems
}
