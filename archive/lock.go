package archive

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrCollectorRunning reports that another live process holds a collector's
// lock.
var ErrCollectorRunning = errors.New("collector already running")

// runningError is an ErrCollectorRunning with its whole story in its text.
type runningError string

func (e runningError) Error() string        { return string(e) }
func (e runningError) Is(target error) bool { return target == ErrCollectorRunning }

// collectorLock is an exclusive flock on root/.collector-NAME.lock. The
// kernel releases it when the process dies, however it dies, so a held lock
// always means a live owner, and a free one means its temporary files are
// orphans that may be salvaged.
type collectorLock struct {
	f *os.File
}

// lockCollector takes the lock without waiting. If another process holds
// it, the error wraps ErrCollectorRunning and names that process.
func lockCollector(root *os.Root, collector string) (*collectorLock, error) {
	l, err := lockFile(root, lockName(collector), fmt.Sprintf("collector %q", collector))
	if errors.Is(err, ErrLocked) {
		err = runningError(err.Error() + "; give each archiver sharing a dataset root its own --collector")
	}
	return l, err
}

// ErrLocked reports a lock file held by another live process.
var ErrLocked = errors.New("locked by another process")

type lockedError string

func (e lockedError) Error() string        { return string(e) }
func (e lockedError) Is(target error) bool { return target == ErrLocked }

// lockFile takes an exclusive flock on root/name without waiting, and
// writes the process id into it. what names the lock's holder in errors.
func lockFile(root *os.Root, name, what string) (*collectorLock, error) {
	f, err := root.OpenFile(name, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", name, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		owner, _ := io.ReadAll(io.LimitReader(f, 64))
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, lockedError(fmt.Sprintf("%s is already running on %s (pid %s)",
				what, root.Name(), strings.TrimSpace(string(owner))))
		}
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &collectorLock{f: f}, nil
}

// release drops the lock. The file stays: removing it could race with
// another process locking it.
func (l *collectorLock) release() error {
	if l == nil {
		return nil
	}
	return l.f.Close()
}
