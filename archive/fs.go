package archive

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"

	"golang.org/x/sys/unix"
)

// fsys is every filesystem operation archive performs, with paths relative
// to the dataset root ("hour=2026-11-24T13/name.feather"). It exists so that
// tests can inject faults (ENOSPC, EIO) into exactly these operations.
// Implementations must never touch anything outside the root.
type fsys interface {
	// mkdirPartition creates the partition directory dir if it is missing,
	// and fails if dir exists but is not a plain directory (a symlink, a
	// file).
	mkdirPartition(dir string) error
	// create creates a new file for writing; it fails if name exists,
	// including as a symlink.
	create(name string) (writeFile, error)
	// open opens a file for reading.
	open(name string) (io.ReadCloser, error)
	// edit opens an existing file for writing in place (crash salvage
	// truncates a torn temporary file and appends its footer); it never
	// creates the file and never follows a symlink.
	edit(name string) (editFile, error)
	// rename renames dir/oldBase to dir/newBase, failing if newBase
	// exists, then fsyncs dir so the rename survives a power cut.
	rename(dir, oldBase, newBase string) error
	remove(name string) error
	readDir(dir string) ([]fs.DirEntry, error)
	stat(name string) (fs.FileInfo, error)
}

// writeFile is an open file being written.
type writeFile interface {
	io.Writer
	Sync() error
	Close() error
}

// editFile is an existing file being finished in place.
type editFile interface {
	io.WriterAt
	Truncate(size int64) error
	Sync() error
	Close() error
}

// rootFS implements fsys on an os.Root, which resolves every path inside the
// root and refuses any that leaves it, through ".." or a symlink.
type rootFS struct {
	root *os.Root
}

func (r rootFS) mkdirPartition(dir string) error {
	err := r.root.Mkdir(dir, 0o755)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create partition %s: %w", dir, err)
	}
	fi, err := r.root.Lstat(dir)
	if err != nil {
		return fmt.Errorf("partition %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("partition %s is a %s, not a directory: refusing to write through it", dir, kind(fi))
	}
	return nil
}

func kind(fi fs.FileInfo) string {
	if fi.Mode()&fs.ModeSymlink != 0 {
		return "symlink"
	}
	return "file"
}

func (r rootFS) create(name string) (writeFile, error) {
	f, err := r.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	return f, nil
}

func (r rootFS) open(name string) (io.ReadCloser, error) {
	f, err := r.root.OpenFile(name, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	return f, nil
}

func (r rootFS) edit(name string) (editFile, error) {
	f, err := r.root.OpenFile(name, os.O_WRONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s for writing: %w", name, err)
	}
	return f, nil
}

// rename uses renameat2(RENAME_NOREPLACE) relative to the directory, opened
// through the root; where the filesystem lacks it, link+unlink, which also
// refuses to replace. Both names are plain base names.
func (r rootFS) rename(dir, oldBase, newBase string) error {
	d, err := r.root.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	defer d.Close()
	fd := int(d.Fd())
	err = unix.Renameat2(fd, oldBase, fd, newBase, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		if err = unix.Linkat(fd, oldBase, fd, newBase, 0); err == nil {
			err = unix.Unlinkat(fd, oldBase, 0)
		}
	}
	if err != nil {
		return fmt.Errorf("rename %s to %s: %w", path.Join(dir, oldBase), newBase, err)
	}
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

func (r rootFS) remove(name string) error {
	if err := r.root.Remove(name); err != nil {
		return fmt.Errorf("remove %s: %w", name, err)
	}
	return nil
}

func (r rootFS) readDir(dir string) ([]fs.DirEntry, error) {
	return fs.ReadDir(r.root.FS(), dir)
}

func (r rootFS) stat(name string) (fs.FileInfo, error) {
	return r.root.Lstat(name)
}
