//go:build soak

package archive

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A 256 MiB temporary file left by a crash, on a tmpfs with 4 MiB free:
// salvage cannot copy it, but finishes it where it lies. Run as root:
//
//	go test -tags soak -run TestSalvageLargeOnNearlyFullTmpfs -v ./archive/
func TestSalvageLargeOnNearlyFullTmpfs(t *testing.T) {
	const leftover, free = 256 << 20, 4 << 20
	mnt := mountTmpfs(t, "size=264m")
	opts := testOptions(filepath.Join(mnt, "data"), "crashed")
	opts.BatchRows, opts.FsyncBatch = 1000, false
	rows := leftover / 4096 / 1000 * 1000
	tmp := crashInto(t, opts, rows, bigRow4K)
	fi, err := os.Stat(tmp)
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "hold"), make([]byte, int64(st.Bavail)*st.Bsize-free), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rep, err := Recover(opts.Root, nil)
	t.Logf("leftover %d MiB, %d MiB free: salvage took %v, report %+v, err %v",
		fi.Size()>>20, free>>20, time.Since(start).Round(time.Millisecond), rep, err)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != int64(rows) {
		t.Fatalf("%d rows salvaged, want %d", rep.Rows, rows)
	}
}
