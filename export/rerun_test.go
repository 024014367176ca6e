package export

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/seal"
	"github.com/certstream-arrow/certstream-arrow/stream/streamgen"
)

// A rerun skips the hours exported from their current manifest, and
// exports again an hour sealed anew, one whose export lost a file, and
// every hour with Force.
func TestExportRerun(t *testing.T) {
	root, out := t.TempDir(), t.TempDir()
	h1 := hour0.Add(time.Hour)
	sealHour(t, root, hour0, sealing{id: "aaaa0001", files: []int{500}, batchRows: 100, kind: streamgen.Lite, seed: 1})
	sealHour(t, root, h1, sealing{id: "bbbb0001", files: []int{300}, batchRows: 100, kind: streamgen.Lite, seed: 2})
	if got := statuses(export(t, testOptions(root, out))); got != "2026-11-24T13:exported 2026-11-24T14:exported" {
		t.Fatalf("first run: %s", got)
	}
	part1 := filepath.Join(out, seal.HourDir(h1), PartName("sealed-20261124T14-bbbb0001-001.feather"))
	before, err := os.Stat(part1)
	if err != nil {
		t.Fatal(err)
	}

	res := export(t, testOptions(root, out))
	if got := statuses(res); got != "2026-11-24T13:up to date 2026-11-24T14:up to date" || len(res[0].Files) != 1 || res[0].Rows != 500 {
		t.Fatalf("rerun: %s %+v", got, res)
	}
	if after, err := os.Stat(part1); err != nil || !os.SameFile(before, after) {
		t.Fatalf("an up-to-date hour's file was rewritten: %v", err)
	}

	// A new seal of 13 (a new manifest ID, other rows), and a file of 14's
	// export lost.
	os.RemoveAll(filepath.Join(root, seal.HourDir(hour0)))
	m := sealHour(t, root, hour0, sealing{id: "aaaa0002", files: []int{400, 50}, batchRows: 100, kind: streamgen.Full, seed: 3})
	os.Remove(part1)
	if got := statuses(export(t, testOptions(root, out))); got != "2026-11-24T13:exported 2026-11-24T14:exported" {
		t.Fatalf("after a new seal: %s", got)
	}
	rec, rows := exportedRows(t, out, hour0)
	sameOrder(t, rows, sealedRows(t, root, hour0, m))
	if rec.ManifestID != "aaaa0002" || len(rec.Files) != 2 {
		t.Fatalf("record %+v", rec)
	}
	exportedRows(t, out, h1)

	o := testOptions(root, out)
	o.Force = true
	if got := statuses(export(t, o)); got != "2026-11-24T13:exported 2026-11-24T14:exported" {
		t.Fatalf("forced: %s", got)
	}
}

// Hours without a manifest are reported, not exported; a dry run writes
// nothing, not even the export root; Hours selects.
func TestExportNotSealedDryRunHours(t *testing.T) {
	root := t.TempDir()
	out := filepath.Join(t.TempDir(), "export")
	sealHour(t, root, hour0, sealing{id: "aaaa0001", files: []int{200}, batchRows: 100, kind: streamgen.Lite, seed: 1})
	if err := os.MkdirAll(filepath.Join(root, seal.HourDir(hour0.Add(time.Hour))), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, seal.HourDir(hour0.Add(time.Hour)), "20261124T140000Z-a-00000000-000001.feather"), []byte("x"), 0o644)
	os.MkdirAll(filepath.Join(root, "not-an-hour"), 0o755)

	o := testOptions(root, out)
	o.DryRun = true
	res := export(t, o)
	if got := statuses(res); got != "2026-11-24T13:would export 2026-11-24T14:not sealed" || res[0].Rows != 200 {
		t.Fatalf("dry run: %s", got)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a dry run made the export root: %v", err)
	}

	o.DryRun = false
	if got := statuses(export(t, o)); got != "2026-11-24T13:exported 2026-11-24T14:not sealed" {
		t.Fatalf("export: %s", got)
	}
	if _, err := os.Stat(filepath.Join(out, seal.HourDir(hour0.Add(time.Hour)))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an unsealed hour got a directory in the export: %v", err)
	}
	o.DryRun = true
	if got := statuses(export(t, o)); got != "2026-11-24T13:up to date 2026-11-24T14:not sealed" {
		t.Fatalf("dry run after the export: %s", got)
	}

	o.Hours = func(h time.Time) bool { return h.Equal(hour0.Add(time.Hour)) }
	if got := statuses(export(t, o)); got != "2026-11-24T14:not sealed" {
		t.Fatalf("one hour selected: %s", got)
	}
}

// One export at a time per export tree.
func TestExportLocked(t *testing.T) {
	root, out := t.TempDir(), t.TempDir()
	e, err := Open(testOptions(root, out))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := Open(testOptions(root, out)); !errors.Is(err, archive.ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
}

// A stop (a cancelled context) mid-export keeps the hours finished, drops
// the one being written (nothing left in the work directory), and the
// next run exports it.
func TestExportStopped(t *testing.T) {
	root, out := t.TempDir(), t.TempDir()
	sealHour(t, root, hour0, sealing{id: "aaaa0001", files: []int{100}, batchRows: 50, kind: streamgen.Lite, seed: 1})
	sealHour(t, root, hour0.Add(time.Hour), sealing{id: "bbbb0001", files: []int{60, 100}, batchRows: 50, kind: streamgen.Lite, seed: 2})
	sealHour(t, root, hour0.Add(2*time.Hour), sealing{id: "cccc0001", files: []int{50}, batchRows: 50, kind: streamgen.Lite, seed: 3})
	ctx, cancel := context.WithCancel(t.Context())
	o := testOptions(root, out)
	parts := 0
	o.crash = func(step string) error {
		if step == "part" {
			if parts++; parts == 2 {
				cancel() // the first file of the second hour is written; its second file sees the stop
			}
		}
		return nil
	}
	e, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Run(ctx)
	e.Close()
	if !errors.Is(err, context.Canceled) || statuses(res) != "2026-11-24T13:exported 2026-11-24T14:failed" ||
		!errors.Is(res[1].Err, context.Canceled) {
		t.Fatalf("stopped run = %v, %s", err, statuses(res))
	}
	if _, err := os.Stat(filepath.Join(out, seal.HourDir(hour0.Add(time.Hour)))); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the stopped hour is in the export: %v", err)
	}
	exportedRows(t, out, hour0)
	if ents, _ := os.ReadDir(filepath.Join(out, workDir)); len(ents) > 0 {
		t.Fatalf("left in the work directory: %v", ents)
	}
	if got := statuses(export(t, testOptions(root, out))); got != "2026-11-24T13:up to date 2026-11-24T14:exported 2026-11-24T15:exported" {
		t.Fatalf("rerun: %s", got)
	}
}
