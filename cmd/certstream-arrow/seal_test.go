package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certstream-arrow/certstream-arrow/archive/archivetest"
)

func TestSealVerifyInspect(t *testing.T) {
	root := t.TempDir()
	publishRows(t, root, "a", 500) // the same 500 keys from two collectors
	publishRows(t, root, "b", 500)
	log := newLogger(t.Output(), "warn", "text")

	var out bytes.Buffer
	dry := &SealCmd{Dir: root, After: 15 * time.Minute, DryRun: true, Memory: 128 << 20, BatchRows: 65536, BatchBytes: 32 << 20, FileBytes: 2 << 30, out: &out}
	if err := dry.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := dry.Run(t.Context(), log); err != nil {
		t.Fatal(err)
	}
	if len(archivetest.Published(t, root)) != 2 || !strings.Contains(out.String(), "2026-11-24T13") {
		t.Fatalf("dry run: %s", out.String())
	}
	out.Reset()
	cmd := *dry
	cmd.DryRun = false
	if err := cmd.Run(t.Context(), log); err != nil {
		t.Fatal(err)
	}
	files := archivetest.ReadDataset(t, root)
	if len(files) != 1 || len(files[0].Rows) != 500 || !strings.Contains(out.String(), "500") {
		t.Fatalf("sealed into %d files (%v); output:\n%s", len(files), files, out.String())
	}

	out.Reset()
	if err := (&VerifyCmd{Dir: root, out: &out}).Run(); err != nil || !strings.Contains(out.String(), "2026-11-24T13  ok") {
		t.Fatalf("verify = %v:\n%s", err, out.String())
	}
	out.Reset()
	if err := (&InspectCmd{Dir: root, out: &out}).Run(); err != nil || !strings.Contains(out.String(), "sealed       1") {
		t.Fatalf("inspect = %v:\n%s", err, out.String())
	}

	p := filepath.Join(root, files[0].Path)
	b, _ := os.ReadFile(p)
	b[len(b)/3] ^= 1
	os.WriteFile(p, b, 0o644)
	out.Reset()
	if err := (&VerifyCmd{Dir: root, out: &out}).Run(); !errors.Is(err, errVerify) || !strings.Contains(out.String(), "PROBLEM") || !strings.Contains(out.String(), "SHA-256") {
		t.Fatalf("verify of a changed file = %v:\n%s", err, out.String())
	}
	os.Remove(p)
	out.Reset()
	if err := (&InspectCmd{Dir: root, out: &out}).Run(); err != nil || !strings.Contains(out.String(), "seal problem:") {
		t.Fatalf("inspect of a removed sealed file = %v:\n%s", err, out.String())
	}
}

func TestSealBadFlags(t *testing.T) {
	for _, c := range []SealCmd{
		{Dir: "/", Memory: 128 << 20, BatchRows: 65536, BatchBytes: 32 << 20, FileBytes: 2 << 30},
		{Dir: "d", Hour: []string{"2026-11-24 13"}, Memory: 128 << 20, BatchRows: 65536, BatchBytes: 32 << 20, FileBytes: 2 << 30},
		{Dir: "d", Memory: 1, BatchRows: 65536, BatchBytes: 32 << 20, FileBytes: 2 << 30},
		{Dir: "d", Memory: 128 << 20, BatchRows: 10, BatchBytes: 32 << 20, FileBytes: 2 << 30},
		{Dir: "d", After: -time.Second, Memory: 128 << 20, BatchRows: 65536, BatchBytes: 32 << 20, FileBytes: 2 << 30},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
