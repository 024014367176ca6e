package archive

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// Tree is a directory tree that other packages rewrite only through this
// package's durable helpers: the dataset root, when sealing replaces an
// hour's files, or an export tree. Every path is relative to the tree and
// resolved through an os.Root, so nothing outside it is ever touched. A
// Tree's methods may be called from one goroutine at a time.
type Tree struct {
	root *os.Root
	fs   rootFS
}

// OpenTree opens the directory dir as a Tree, creating it if missing.
func OpenTree(dir string) (*Tree, error) {
	root, err := openRoot(dir)
	if err != nil {
		return nil, err
	}
	return &Tree{root: root, fs: rootFS{root}}, nil
}

// Close closes the tree's root.
func (t *Tree) Close() error { return t.root.Close() }

// Name returns the tree's directory, as given to OpenTree.
func (t *Tree) Name() string { return t.root.Name() }

// FS returns the tree for reading.
func (t *Tree) FS() fs.FS { return t.root.FS() }

// Open opens name for reading, never following a symlink.
func (t *Tree) Open(name string) (*os.File, error) {
	f, err := t.root.OpenFile(name, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	return f, nil
}

// Mkdir creates the directory dir, and its parents, if missing. It fails
// if any of them exists as something other than a plain directory.
func (t *Tree) Mkdir(dir string) error {
	parent := ""
	for _, part := range strings.Split(path.Clean(dir), "/") {
		parent = path.Join(parent, part)
		if err := t.fs.mkdirPartition(parent); err != nil {
			return err
		}
	}
	return nil
}

// Create starts the file dir/name, written under the temporary name
// .name.tmp in dir (so no glob for the final name matches it) until
// Publish. It refuses to replace an existing temporary file.
func (t *Tree) Create(dir, name string) (*Pending, error) {
	if strings.ContainsRune(name, '/') || name == "" || strings.HasPrefix(name, ".") {
		return nil, fmt.Errorf("create %q: not a plain file name", name)
	}
	tmp := "." + name + TmpSuffix
	f, err := t.fs.create(path.Join(dir, tmp))
	if err != nil {
		return nil, err
	}
	p := &Pending{fs: t.fs, dir: dir, tmp: tmp, final: name, f: f, sum: sha256.New()}
	p.buf = bufio.NewWriterSize(f, 256<<10)
	return p, nil
}

// Rename renames dir/oldBase to dir/newBase without replacing anything,
// and fsyncs dir.
func (t *Tree) Rename(dir, oldBase, newBase string) error {
	return t.fs.rename(dir, oldBase, newBase)
}

// Move moves the entry from to to (another directory of the tree) without
// replacing anything, then fsyncs both directories.
func (t *Tree) Move(from, to string) error {
	return t.atomic(from, to, unix.RENAME_NOREPLACE, "move")
}

// Exchange swaps the entries a and b (files or directories, both must
// exist) in one step, with renameat2(RENAME_EXCHANGE): a process listing
// either name sees the old entry or the new one, never neither and never
// both. Both parent directories are fsynced afterwards.
func (t *Tree) Exchange(a, b string) error {
	return t.atomic(a, b, unix.RENAME_EXCHANGE, "exchange")
}

func (t *Tree) atomic(a, b string, flags uint, what string) error {
	da, err := t.root.Open(path.Dir(a))
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, a, err)
	}
	defer da.Close()
	db, err := t.root.Open(path.Dir(b))
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, b, err)
	}
	defer db.Close()
	if err := unix.Renameat2(int(da.Fd()), path.Base(a), int(db.Fd()), path.Base(b), flags); err != nil {
		return fmt.Errorf("%s %s and %s: %w", what, a, b, err)
	}
	return errors.Join(syncDir(da, path.Dir(a)), syncDir(db, path.Dir(b)))
}

func syncDir(d *os.File, name string) error {
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", name, err)
	}
	return nil
}

// Remove removes the file or empty directory name.
func (t *Tree) Remove(name string) error { return t.fs.remove(name) }

// RemoveAll removes dir and everything under it, then fsyncs its parent.
// A missing dir is not an error.
func (t *Tree) RemoveAll(dir string) error {
	if _, err := t.root.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := t.root.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return t.SyncDir(path.Dir(dir))
}

// SyncDir fsyncs the directory dir.
func (t *Tree) SyncDir(dir string) error {
	d, err := t.root.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	defer d.Close()
	return syncDir(d, dir)
}

// ReadDir lists dir, sorted by name.
func (t *Tree) ReadDir(dir string) ([]fs.DirEntry, error) { return t.fs.readDir(dir) }

// Lstat describes name without following a symlink.
func (t *Tree) Lstat(name string) (fs.FileInfo, error) { return t.fs.stat(name) }

// Lock takes the exclusive lock file name (created if missing) without
// waiting; what names the lock's purpose in the error if another live
// process holds it (that error wraps ErrLocked). The kernel releases the
// lock when the process dies.
func (t *Tree) Lock(name, what string) (io.Closer, error) {
	l, err := lockFile(t.root, name, what)
	if err != nil {
		return nil, err
	}
	return l.f, nil
}

// Pending is a file being written under its temporary name. Write, then
// Publish (or Abort).
type Pending struct {
	fs         rootFS
	dir        string
	tmp, final string
	f          writeFile
	buf        *bufio.Writer
	sum        hash.Hash
	n          int64
}

// Write appends to the file.
func (p *Pending) Write(b []byte) (int, error) {
	n, err := p.buf.Write(b)
	p.sum.Write(b[:n])
	p.n += int64(n)
	if err != nil {
		return n, fmt.Errorf("write %s: %w", path.Join(p.dir, p.tmp), err)
	}
	return n, nil
}

// Size returns the bytes written so far.
func (p *Pending) Size() int64 { return p.n }

// SHA256 returns the SHA-256 of the bytes written so far.
func (p *Pending) SHA256() []byte { return p.sum.Sum(nil) }

// Name returns the file's final base name.
func (p *Pending) Name() string { return p.final }

// Publish makes the file durable and visible under its final name: the
// same steps as every published dataset file (flush, fsync, close, rename
// without replacing, fsync the directory). On error the temporary file is
// removed.
func (p *Pending) Publish() error {
	err := commit(p.fs, p.dir, p.tmp, p.final, p.buf, p.f)
	if err != nil {
		_ = p.fs.remove(path.Join(p.dir, p.tmp))
	}
	return err
}

// Abort closes and removes the temporary file.
func (p *Pending) Abort() error {
	return errors.Join(p.f.Close(), p.fs.remove(path.Join(p.dir, p.tmp)))
}

// commit is the one durable publish: flush buf, fsync and close f (written
// under dir/tmp), rename tmp to final without replacing anything, fsync
// dir. f is closed whatever happens.
func commit(fsys fsys, dir, tmp, final string, buf *bufio.Writer, f writeFile) error {
	err := buf.Flush()
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("finish %s: %w", path.Join(dir, tmp), err)
	}
	return fsys.rename(dir, tmp, final)
}

// CreateScratch creates dir/name for scratch data (never published, never
// fsynced; the caller removes it). It fails if name exists.
func (t *Tree) CreateScratch(dir, name string) (*os.File, error) {
	f, err := t.root.OpenFile(path.Join(dir, name), os.O_RDWR|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path.Join(dir, name), err)
	}
	return f, nil
}
