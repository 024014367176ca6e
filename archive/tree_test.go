package archive

import (
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestTreePublish(t *testing.T) {
	dir := t.TempDir()
	tr, err := OpenTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := tr.Mkdir("a/b"); err != nil {
		t.Fatal(err)
	}
	p, err := tr.Create("a/b", "x.parquet")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a/b/x.parquet")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("visible before publish: %v", err)
	}
	want := sha256.Sum256([]byte("hello"))
	if got := p.SHA256(); string(got) != string(want[:]) || p.Size() != 5 {
		t.Fatalf("sha %x size %d", got, p.Size())
	}
	if err := p.Publish(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "a/b/x.parquet"))
	if err != nil || string(b) != "hello" {
		t.Fatalf("read back %q %v", b, err)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "a/b")); len(ents) != 1 {
		t.Fatalf("temporary file left: %v", ents)
	}
	// A second publish under the same name never replaces the first.
	p, _ = tr.Create("a/b", "x.parquet")
	p.Write([]byte("other"))
	if err := p.Publish(); err == nil {
		t.Fatal("publish replaced an existing file")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a/b/x.parquet")); string(b) != "hello" {
		t.Fatalf("replaced: %q", b)
	}
	for _, bad := range []string{"", ".x", "a/b", "../x"} {
		if _, err := tr.Create("a", bad); err == nil {
			t.Errorf("Create(%q) accepted", bad)
		}
	}
}

func TestTreeExchangeAndMove(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"hour=1/old.feather", ".staging/hour=1/new.feather"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755)
		os.WriteFile(filepath.Join(dir, f), []byte(f), 0o644)
	}
	tr, err := OpenTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if err := tr.Exchange(".staging/hour=1", "hour=1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "hour=1/new.feather")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".staging/hour=1/old.feather")); err != nil {
		t.Fatal(err)
	}
	if err := tr.Move(".staging/hour=1/old.feather", "hour=1/old.feather"); err != nil {
		t.Fatal(err)
	}
	if err := tr.Move("hour=1/old.feather", "hour=1/new.feather"); err == nil {
		t.Fatal("move replaced a file")
	}
	if err := tr.RemoveAll(".staging/hour=1"); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "hour=1"))
	if len(ents) != 2 {
		t.Fatalf("hour=1 holds %v", ents)
	}
	if err := tr.Exchange("hour=1", "hour=2"); err == nil {
		t.Fatal("exchange with a missing entry succeeded")
	}
}

func TestTreeLock(t *testing.T) {
	tr, err := OpenTree(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	l, err := tr.Lock(".seal.lock", "a seal")
	if err != nil {
		t.Fatal(err)
	}
	tr2, _ := OpenTree(tr.Name())
	defer tr2.Close()
	if _, err := tr2.Lock(".seal.lock", "a seal"); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v", err)
	}
	l.Close()
	l2, err := tr2.Lock(".seal.lock", "a seal")
	if err != nil {
		t.Fatal(err)
	}
	l2.Close()
}
