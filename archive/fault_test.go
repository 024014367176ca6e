package archive

import (
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// faultFS wraps the real filesystem and fails chosen operations on demand.
type faultFS struct {
	fsys
	mu                                      sync.Mutex
	writeErr, syncErr, createErr, renameErr error
	dirSyncErr                              error // rename happens, then fails as if fsync(dir) did
}

func (f *faultFS) set(fn func(*faultFS)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *faultFS) get(p *error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *p
}

func (f *faultFS) create(name string) (writeFile, error) {
	if err := f.get(&f.createErr); err != nil {
		return nil, err
	}
	w, err := f.fsys.create(name)
	if err != nil {
		return nil, err
	}
	return &faultFile{writeFile: w, fs: f}, nil
}

func (f *faultFS) rename(dir, oldBase, newBase string) error {
	if err := f.get(&f.renameErr); err != nil {
		return err
	}
	if err := f.fsys.rename(dir, oldBase, newBase); err != nil {
		return err
	}
	return f.get(&f.dirSyncErr)
}

// edit opens a file for finishing in place whose writes, truncations and
// fsyncs fail as the faultFS's files do.
func (f *faultFS) edit(name string) (editFile, error) {
	e, err := f.fsys.edit(name)
	if err != nil {
		return nil, err
	}
	return &faultEdit{editFile: e, fs: f}, nil
}

type faultEdit struct {
	editFile
	fs *faultFS
}

// WriteAt fails after writing half its bytes, as a filling disk does.
func (w *faultEdit) WriteAt(p []byte, off int64) (int, error) {
	if err := w.fs.get(&w.fs.writeErr); err != nil {
		n, _ := w.editFile.WriteAt(p[:len(p)/2], off)
		return n, err
	}
	return w.editFile.WriteAt(p, off)
}

func (w *faultEdit) Sync() error {
	if err := w.fs.get(&w.fs.syncErr); err != nil {
		return err
	}
	return w.editFile.Sync()
}

type faultFile struct {
	writeFile
	fs *faultFS
}

// Write fails after writing half its bytes, as a filling disk does.
func (w *faultFile) Write(p []byte) (int, error) {
	if err := w.fs.get(&w.fs.writeErr); err != nil {
		n, _ := w.writeFile.Write(p[:len(p)/2])
		return n, err
	}
	return w.writeFile.Write(p)
}

func (w *faultFile) Sync() error {
	if err := w.fs.get(&w.fs.syncErr); err != nil {
		return err
	}
	return w.writeFile.Sync()
}

type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

func openFaulty(t *testing.T, mutate func(*Options)) (*Dataset, *faultFS, *fakeClock, string) {
	t.Helper()
	root := t.TempDir()
	clk := &fakeClock{now: crashHour.Add(time.Minute)}
	ffs := &faultFS{}
	opts := testOptions(root, "faulty")
	opts.Now = clk.Now
	opts.FlushInterval = time.Second
	opts.wrapFS = func(inner fsys) fsys { ffs.fsys = inner; return ffs }
	if mutate != nil {
		mutate(&opts)
	}
	d, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	return d, ffs, clk, root
}

// Each injected fault makes writes fail for a while; rows wait in memory,
// the archiver retries, and when the fault clears every row is published
// exactly once with nothing left behind.
func TestWriteFaultsKeepRowsAndRecover(t *testing.T) {
	enospc, eio := syscall.ENOSPC, syscall.EIO
	tests := []struct {
		name  string
		fault func(*faultFS)
		opts  func(*Options)
	}{
		{"ENOSPC mid-write", func(f *faultFS) { f.writeErr = enospc }, nil},
		{"EIO on fsync", func(f *faultFS) { f.syncErr = eio }, nil},
		{"ENOSPC creating a file", func(f *faultFS) { f.createErr = enospc }, func(o *Options) { o.RotateRows = 10 }},
		{"rename fails at publish", func(f *faultFS) { f.renameErr = eio }, func(o *Options) { o.RotateRows = 20 }},
		{"directory fsync fails after the rename", func(f *faultFS) { f.dirSyncErr = eio }, func(o *Options) { o.RotateRows = 20 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ffs, clk, root := openFaulty(t, tt.opts)
			n := 0
			appendRows := func(k int) {
				for range k {
					d.Append(row(n))
					n++
				}
			}
			appendRows(25)
			ffs.set(tt.fault)
			appendRows(40)
			clk.now = clk.now.Add(500 * time.Millisecond)
			d.Tick(clk.now)
			c := d.Counters()
			if c.Writing.Load() || c.WriteErrors.Load() == 0 {
				t.Fatalf("writing %v, write errors %d: the fault was not noticed", c.Writing.Load(), c.WriteErrors.Load())
			}
			ffs.set(func(f *faultFS) {
				f.writeErr, f.syncErr, f.createErr, f.renameErr, f.dirSyncErr = nil, nil, nil, nil, nil
			})
			clk.now = clk.now.Add(2 * time.Second) // past the first retry
			d.Tick(clk.now)
			if !c.Writing.Load() {
				t.Fatalf("writes did not resume after the fault cleared")
			}
			appendRows(10)
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			assertRowsOnce(t, root, n)
		})
	}
}

// While writes succeed, MaxPendingRows drops nothing, however many rows sit
// in the open partitions' batches.
func TestPendingLimitOnlyWhileFailing(t *testing.T) {
	d, _, _, root := openFaulty(t, func(o *Options) { o.MaxPendingRows = 10; o.BatchRows = 100 })
	for i := range 50 {
		d.Append(row(i))
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if got := len(cindexes(t, root)); got != 50 || d.Counters().RowsDropped.Load() != 0 {
		t.Fatalf("%d rows, %d dropped", got, d.Counters().RowsDropped.Load())
	}
}

// While writes fail, memory is bounded: beyond MaxPendingRows new rows are
// dropped and counted, and the rows kept are written once the disk is back.
func TestPendingRowsBounded(t *testing.T) {
	d, ffs, clk, root := openFaulty(t, func(o *Options) { o.MaxPendingRows = 30 })
	ffs.set(func(f *faultFS) { f.createErr = syscall.ENOSPC })
	for i := range 100 {
		d.Append(row(i))
	}
	c := d.Counters()
	if c.RowsPending.Load() != 30 || c.RowsDropped.Load() != 70 {
		t.Fatalf("pending %d dropped %d, want 30 and 70", c.RowsPending.Load(), c.RowsDropped.Load())
	}
	ffs.set(func(f *faultFS) { f.createErr = nil })
	clk.now = clk.now.Add(time.Minute)
	d.Tick(clk.now)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if got := cindexes(t, root); len(got) != 30 {
		t.Fatalf("%d rows, want the 30 kept", len(got))
	}
}

// If the disk never comes back, Close says how many rows were lost instead
// of returning quietly, and leaves complete batches for the next start.
func TestCloseReportsLostRows(t *testing.T) {
	d, ffs, _, _ := openFaulty(t, nil)
	ffs.set(func(f *faultFS) { f.createErr = syscall.ENOSPC })
	for i := range 15 {
		d.Append(row(i))
	}
	err := d.Close()
	if err == nil || !strings.Contains(err.Error(), "15 rows could not be written") || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Close: %v", err)
	}
}

// A real full filesystem: a tiny tmpfs. Writes fail with ENOSPC; once space
// is freed, archiving continues by itself and every row is published.
func TestRealDiskFull(t *testing.T) {
	mnt := mountTmpfs(t, "size=1m")
	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, 700<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{now: crashHour.Add(time.Minute)}
	opts := testOptions(filepath.Join(mnt, "data"), "tmpfs")
	opts.Now = clk.Now
	d, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 120 { // ~4 KiB of incompressible DER each: ~480 KiB
		u := row(i)
		u.DER = make([]byte, 4096)
		_, _ = rand.Read(u.DER)
		d.Append(u)
	}
	if d.Counters().WriteErrors.Load() == 0 {
		t.Fatal("the filesystem never filled up")
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	clk.now = clk.now.Add(time.Minute)
	d.Tick(clk.now)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if got := cindexes(t, opts.Root); len(got) != 120 {
		t.Fatalf("%d rows, want 120", len(got))
	}
}

// mountTmpfs mounts a tmpfs with the given options on a new directory for
// the test, and skips the test where that is not allowed (not root).
func mountTmpfs(tb testing.TB, options string) string {
	tb.Helper()
	mnt := tb.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", options, "tmpfs", mnt).CombinedOutput(); err != nil {
		tb.Skipf("cannot mount a tmpfs here (needs root): %v %s", err, out)
	}
	tb.Cleanup(func() { _ = exec.Command("umount", mnt).Run() })
	return mnt
}

// Nothing is written outside the root through a symlinked hour directory;
// the rows wait and the error says why.
func TestSymlinkedPartitionRefused(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	if err := os.Symlink(outside, filepath.Join(root, hourDir(crashHour))); err != nil {
		t.Fatal(err)
	}
	d, err := Open(testOptions(root, "c1"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		d.Append(row(i))
	}
	err = d.Close()
	if err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Fatalf("Close: %v", err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Fatalf("written outside the root: %v", entries)
	}
}

// A symlink planted at a file name is never followed.
func TestCreateRefusesPlantedSymlink(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	target := filepath.Join(outside, "victim")
	if err := os.Symlink(target, filepath.Join(root, ".x.feather.tmp")); err != nil {
		t.Fatal(err)
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := (rootFS{r}).create(".x.feather.tmp"); err == nil {
		t.Fatal("create followed a planted symlink")
	}
	if _, err := os.Lstat(target); !os.IsNotExist(err) {
		t.Fatalf("file created outside the root: %v", err)
	}
}

func TestReadOnlyRootFailsAtStart(t *testing.T) {
	mnt := mountTmpfs(t, "ro,size=64k")
	_, err := Open(testOptions(mnt, "c1"))
	if err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("Open on a read-only root: %v", err)
	}
}

func TestCheckCollector(t *testing.T) {
	for name, ok := range map[string]bool{
		"web1": true, "a": true, "eu-west-2": true, strings.Repeat("a", 32): true,
		"": false, "Web1": false, "-a": false, "a-": false, "a/b": false, "../a": false, "a\nb": false,
		"a\x00b": false, "a.b": false, strings.Repeat("a", 33): false,
	} {
		if err := CheckCollector(name); (err == nil) != ok {
			t.Errorf("CheckCollector(%q) = %v", name, err)
		}
	}
	if err := CheckCollector(DefaultCollector()); err != nil {
		t.Errorf("default collector %q: %v", DefaultCollector(), err)
	}
}
