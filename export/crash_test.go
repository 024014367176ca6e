package export

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/certstream-arrow/certstream-arrow/archive/archivetest"
	"github.com/certstream-arrow/certstream-arrow/seal"
	"github.com/certstream-arrow/certstream-arrow/stream/streamgen"
)

// A crash at any step of an hour's export leaves hour=H whole, the old
// export or the new one (or none, at a first export), never a mix; the
// next run removes what .exporting holds and ends with the new export.
func TestExportStagedCrash(t *testing.T) {
	for _, replace := range []bool{false, true} {
		for _, step := range []string{"part", "files", "record", "ready", "exchanged"} {
			t.Run(fmt.Sprintf("replace=%v/%s", replace, step), func(t *testing.T) {
				root, out := t.TempDir(), t.TempDir()
				old := sealHour(t, root, hour0, sealing{id: "aaaa0001", files: []int{120}, batchRows: 50, kind: streamgen.Lite, seed: 1})
				oldRows := sealedRows(t, root, hour0, old)
				if replace {
					export(t, testOptions(root, out))
					os.RemoveAll(filepath.Join(root, seal.HourDir(hour0)))
				}
				m := sealHour(t, root, hour0, sealing{id: "aaaa0002", files: []int{80, 60}, batchRows: 50, kind: streamgen.Lite, seed: 2})
				newRows := sealedRows(t, root, hour0, m)

				o := testOptions(root, out)
				o.crash = func(s string) error {
					if s == step {
						return errCrash
					}
					return nil
				}
				res := export(t, o)
				if len(res) != 1 || !errors.Is(res[0].Err, errCrash) {
					t.Fatalf("crashed run: %+v", res)
				}
				left := "hour=2026-11-24T13.tmp"
				switch {
				case step == "ready" || step == "exchanged" && replace:
					left = "hour=2026-11-24T13.ready"
				case step == "exchanged":
					left = ""
				}
				if ents, _ := os.ReadDir(filepath.Join(out, workDir)); left != "" && (len(ents) != 1 || ents[0].Name() != left) {
					t.Fatalf("the crash left %v in the work directory, want %s", ents, left)
				}
				switch rec := wholeHour(t, out, hour0, map[string][]archivetest.Row{"aaaa0001": oldRows, "aaaa0002": newRows}); {
				case rec == "" && replace:
					t.Fatal("the crash left no export of the hour")
				case rec == "aaaa0002" && step != "exchanged":
					t.Fatalf("the new export is in place before the exchange (crash at %s)", step)
				}

				res = export(t, testOptions(root, out))
				if len(res) != 1 || res[0].Status != Exported && !(step == "exchanged" && res[0].Status == UpToDate) {
					t.Fatalf("rerun: %+v", res)
				}
				if rec := wholeHour(t, out, hour0, map[string][]archivetest.Row{"aaaa0002": newRows}); rec != "aaaa0002" {
					t.Fatalf("after the rerun the hour holds the export of %q", rec)
				}
				if _, err := os.Stat(filepath.Join(out, workDir)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("the rerun left the work directory: %v", err)
				}
			})
		}
	}
}

// wholeHour checks that hour=H of the export tree out is absent (returns
// "") or whole: exactly its record's files, each as recorded, holding the
// rows of the sealed files of the manifest it names, one of versions
// (manifest ID to rows). It returns that manifest ID.
func wholeHour(t *testing.T, out string, hour time.Time, versions map[string][]archivetest.Row) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(out, seal.HourDir(hour))); errors.Is(err, os.ErrNotExist) {
		return ""
	}
	rec, rows := exportedRows(t, out, hour)
	want, ok := versions[rec.ManifestID]
	if !ok {
		t.Fatalf("the hour holds the export of manifest %s", rec.ManifestID)
	}
	sameOrder(t, rows, want)
	return rec.ManifestID
}

// What a crash mid-write leaves (a torn temporary Parquet file in an
// unfinished .tmp, a .ready never switched in) is removed when an export
// opens the tree; an unknown entry is left alone; the hours stay whole.
func TestExportOpenRemovesLeftovers(t *testing.T) {
	root, out := t.TempDir(), t.TempDir()
	m := sealHour(t, root, hour0, sealing{id: "aaaa0001", files: []int{100}, batchRows: 100, kind: streamgen.Lite, seed: 1})
	export(t, testOptions(root, out))
	leftovers := []string{
		filepath.Join(workDir, "hour=2026-11-24T13.tmp", ".part-20261124T13-aaaa0001-001.parquet.tmp"),
		filepath.Join(workDir, "hour=2026-11-24T13.ready", "part-20261124T13-aaaa0001-001.parquet"),
		filepath.Join(workDir, "hour=2026-11-24T14.tmp", RecordName),
	}
	for _, l := range leftovers {
		os.MkdirAll(filepath.Join(out, filepath.Dir(l)), 0o755)
		os.WriteFile(filepath.Join(out, l), []byte("PAR1 torn"), 0o644)
	}
	os.WriteFile(filepath.Join(out, workDir, "notes.txt"), []byte("mine"), 0o644)

	e, err := Open(testOptions(root, out))
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	ents, _ := os.ReadDir(filepath.Join(out, workDir))
	if len(ents) != 1 || ents[0].Name() != "notes.txt" {
		t.Fatalf("the work directory holds %v, want only notes.txt", ents)
	}
	_, rows := exportedRows(t, out, hour0)
	sameOrder(t, rows, sealedRows(t, root, hour0, m))
}
