package archive

import (
	"os"
	"path/filepath"
	"testing"
)

// publish never replaces an existing file, even one with the same name.
func TestPublishNeverReplaces(t *testing.T) {
	dir := t.TempDir()
	final := filepath.Join(dir, "a.feather")
	if err := os.WriteFile(final, []byte("published"), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, ".a.feather.tmp")
	f, err := createTemp(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("new"); err != nil {
		t.Fatal(err)
	}
	if err := publish(f, tmp, final); err == nil {
		t.Fatal("publish over an existing file succeeded")
	}
	if b, _ := os.ReadFile(final); string(b) != "published" {
		t.Fatalf("published file changed to %q", b)
	}
	if b, _ := os.ReadFile(tmp); string(b) != "new" {
		t.Fatalf("temporary file lost: %q", b)
	}
}

// createTemp refuses to follow a symlink planted at the temporary name.
func TestCreateTempRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "outside")
	tmp := filepath.Join(dir, ".x.feather.tmp")
	if err := os.Symlink(target, tmp); err != nil {
		t.Fatal(err)
	}
	if _, err := createTemp(tmp); err == nil {
		t.Fatal("createTemp followed a symlink")
	}
	if _, err := os.Stat(target); !os.IsNotExist(err) {
		t.Fatalf("file created outside the root: %v", err)
	}
}
