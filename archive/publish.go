package archive

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// createTemp creates a new temporary file at path, refusing to follow a
// symlink or to reuse a file that already exists.
func createTemp(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return f, nil
}

// publish makes the fully written temporary file f at tmp visible as final:
// fsync the file, close it, rename it to final without ever replacing an
// existing file, and fsync the directory so the rename survives a power cut.
// It is the only place where a file becomes visible under a .feather name.
// f is closed whatever happens; on error tmp is left for the caller.
func publish(f *os.File, tmp, final string) error {
	if err := f.Sync(); err != nil {
		return errors.Join(fmt.Errorf("fsync %s: %w", tmp, err), f.Close())
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := renameNoReplace(tmp, final); err != nil {
		return err
	}
	return syncDir(filepath.Dir(final))
}

// renameNoReplace renames old to new, failing if new exists. It uses
// renameat2(RENAME_NOREPLACE) where the filesystem supports it, and a
// link+unlink pair (which also refuses to replace) where it does not.
func renameNoReplace(old, new string) error {
	err := unix.Renameat2(unix.AT_FDCWD, old, unix.AT_FDCWD, new, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		if err = os.Link(old, new); err == nil {
			err = os.Remove(old)
		}
	}
	if err != nil {
		return fmt.Errorf("rename %s to %s: %w", old, filepath.Base(new), err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	if err := d.Sync(); err != nil {
		return errors.Join(fmt.Errorf("fsync directory %s: %w", dir, err), d.Close())
	}
	return d.Close()
}
