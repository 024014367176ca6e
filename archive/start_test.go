package archive

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/certstream-arrow/certstream-arrow/stream"
)

// openFaultyAt opens a Dataset on root whose filesystem fails as fault
// sets from the start.
func openFaultyAt(t *testing.T, root string, fault func(*faultFS)) (*Dataset, *faultFS, *fakeClock, error) {
	t.Helper()
	clk := &fakeClock{now: crashHour.Add(time.Minute)}
	ffs := &faultFS{}
	ffs.set(fault)
	opts := testOptions(root, "faulty")
	opts.Now = clk.Now
	opts.FlushInterval = time.Second
	opts.wrapFS = func(inner fsys) fsys { ffs.fsys = inner; return ffs }
	d, err := Open(opts)
	return d, ffs, clk, err
}

// noFaults clears every injected fault.
func noFaults(f *faultFS) {
	f.writeErr, f.syncErr, f.createErr, f.renameErr, f.dirSyncErr = nil, nil, nil, nil, nil
}

// A disk that is full or failing at start, while a crash's temporary file
// waits for salvage, behaves as during a run: Open succeeds, rows wait in
// memory, and once the disk is back the leftover and the new rows are
// published, each row once. Only a root that refuses writes fails Open.
func TestOpenGoesOnWhenSalvageCannotWrite(t *testing.T) {
	tests := []struct {
		name    string
		fault   func(*faultFS)
		wantErr error // Open fails with it
	}{
		{"ENOSPC finishing the leftover", func(f *faultFS) { f.writeErr = syscall.ENOSPC }, nil},
		{"ENOSPC creating files (no inode left)", func(f *faultFS) { f.createErr = syscall.ENOSPC }, nil},
		{"EIO on fsync", func(f *faultFS) { f.syncErr = syscall.EIO }, nil},
		{"EDQUOT and a failing rename", func(f *faultFS) { f.writeErr, f.renameErr = syscall.EDQUOT, syscall.EIO }, nil},
		{"permission denied", func(f *faultFS) { f.createErr = &fs.PathError{Op: "open", Path: "x", Err: syscall.EACCES} }, fs.ErrPermission},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, _ := crash(t, "faulty", 30)
			d, ffs, clk, err := openFaultyAt(t, root, tt.fault)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Open: %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if d.Counters().Writing.Load() {
				t.Fatal("Open hid the failure: Writing is true")
			}
			for i := range 15 {
				d.Append(row(100 + i))
			}
			clk.now = clk.now.Add(500 * time.Millisecond) // before the first retry
			d.Tick(clk.now)
			ffs.set(noFaults)
			clk.now = clk.now.Add(2 * time.Second)
			d.Tick(clk.now)
			if !d.Counters().Writing.Load() {
				t.Fatalf("writes did not resume: %v", d.fault.err)
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			assertRowsOnce(t, root, 45)
		})
	}
}

// assertRowsOnce checks that root holds want rows, none twice, and nothing
// but published files in its partitions.
func assertRowsOnce(t *testing.T, root string, want int) {
	t.Helper()
	got := cindexes(t, root)
	seen := map[int64]bool{}
	for _, i := range got {
		if seen[i] {
			t.Fatalf("row %d published twice", i)
		}
		seen[i] = true
	}
	if len(got) != want {
		t.Fatalf("%d rows published, want %d", len(got), want)
	}
	if left, _ := filepath.Glob(filepath.Join(root, "hour=*", ".*")); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// bigRow4K is row i with 4 KiB of incompressible DER.
func bigRow4K(i int) *stream.Update {
	u := row(i)
	u.DER = randomBytes(4096)
	return u
}

// fill takes every free byte (or, with inodes, every free inode) of the
// filesystem holding dir, and returns a function that frees them.
func fill(t *testing.T, dir string, inodes bool) (free func()) {
	t.Helper()
	fillDir := filepath.Join(dir, "filler")
	if err := os.Mkdir(fillDir, 0o755); err != nil {
		t.Fatal(err)
	}
	free = func() {
		if err := os.RemoveAll(fillDir); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; ; i++ {
		f, err := os.Create(filepath.Join(fillDir, strconv.Itoa(i)))
		if err != nil {
			return free // no inode left
		}
		for chunk := 64 << 10; chunk > 0 && !inodes; {
			if _, err := f.Write(make([]byte, chunk)); err != nil {
				chunk /= 2
			}
		}
		f.Close()
		if !inodes {
			return free
		}
	}
}

// A real full filesystem at start, with a crash's temporary file to
// salvage: on a tmpfs with no byte or no inode free, Open succeeds, and once
// space is freed the leftover and the new rows are all published.
func TestOpenOnFullTmpfs(t *testing.T) {
	for _, inodes := range []bool{false, true} {
		t.Run(map[bool]string{false: "no byte free", true: "no inode free"}[inodes], func(t *testing.T) {
			mnt := mountTmpfs(t, "size=1m,nr_inodes=64")
			opts := testOptions(filepath.Join(mnt, "data"), "tmpfs")
			crashInto(t, opts, 105, bigRow4K) // 100 rows in 10 batches, ~400 KiB
			free := fill(t, mnt, inodes)
			var st syscall.Statfs_t
			if err := syscall.Statfs(mnt, &st); err != nil || inodes && st.Ffree != 0 || !inodes && st.Bfree != 0 {
				t.Fatalf("staging: %d blocks and %d inodes still free (%v)", st.Bfree, st.Ffree, err)
			}
			clk := &fakeClock{now: crashHour.Add(time.Minute)}
			opts.Now = clk.Now
			d, err := Open(opts)
			if err != nil {
				t.Fatalf("Open on a full disk: %v", err)
			}
			t.Logf("after Open: writing %v, %d files waiting for salvage", d.Counters().Writing.Load(), len(d.fault.abandoned))
			for i := range 10 {
				d.Append(bigRow4K(1000 + i))
			}
			free()
			clk.now = clk.now.Add(time.Minute)
			d.Tick(clk.now)
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			assertRowsOnce(t, opts.Root, 110)
		})
	}
}

// Salvage of a temporary file larger than the free space: on a tmpfs with
// a 1.2 MiB leftover and ~200 KiB free, a copy cannot be made, but the
// file is finished where it lies.
func TestSalvageOnNearlyFullTmpfs(t *testing.T) {
	mnt := mountTmpfs(t, "size=2m")
	opts := testOptions(filepath.Join(mnt, "data"), "crashed")
	crashInto(t, opts, 300, bigRow4K)
	hold := filepath.Join(mnt, "hold")
	if err := os.WriteFile(hold, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	keep := int64(200 << 10)
	if err := os.WriteFile(hold, make([]byte, int64(st.Bavail)*st.Bsize-keep), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := Recover(opts.Root, nil)
	if err != nil {
		t.Fatalf("Recover with %d KiB free: %v", keep>>10, err)
	}
	if rep.Rows != 300 {
		t.Fatalf("report %+v", rep)
	}
	assertRowsOnce(t, opts.Root, 300)
}
