package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certstream-arrow/certstream-arrow/archive/archivetest"
	"github.com/certstream-arrow/certstream-arrow/seal"
	"github.com/certstream-arrow/certstream-arrow/stream/streamtest"
)

// keyCounts counts the rows of each (source_url, cert_index).
func keyCounts(rows []archivetest.Row) map[string]int {
	m := map[string]int{}
	for _, r := range rows {
		m[fmt.Sprint(r["source_url"], "|", r["cert_index"])]++
	}
	return m
}

// dupReader globs and reads the dataset over and over, as a user's query
// does, and fails the test if it ever counts a row twice: what a switch to
// a sealed file that was not atomic would show. A file gone between the
// glob and its read (the documented window) is skipped.
func dupReader(t *testing.T, root string, sent map[string]int, stop <-chan struct{}) (wait func()) {
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			seen := map[string]int{}
			paths, _ := filepath.Glob(filepath.Join(root, "*", "*.feather"))
			for _, p := range paths {
				f, err := archivetest.ReadFile(p)
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				if err != nil {
					t.Errorf("reader: %s: %v", p, err)
					return
				}
				for _, r := range f.Rows {
					if r["cert_index"] == nil {
						continue
					}
					k := fmt.Sprint(r["source_url"], "|", r["cert_index"])
					if seen[k]++; seen[k] > sent[k] {
						t.Errorf("reader counted %s more often than it was sent (%d), in %s", k, sent[k], p)
						return
					}
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
	})
	return wg.Wait
}

func TestRunSeal(t *testing.T) {
	msgs := testMessages(t)
	replay := streamtest.NewReplay(streamtest.Text(msgs...))
	srv := streamtest.NewServer(t, replay.Session)
	root := t.TempDir()
	cmd := testRunCmd(srv.URL, root)
	cmd.Seal, cmd.SealAfter, cmd.SealInterval, cmd.SealMemory = true, time.Second, 100*time.Millisecond, 16<<20
	var mu sync.Mutex
	var sealed []*seal.Manifest
	cmd.sealed = func(m *seal.Manifest, err error) {
		if err != nil && !errors.Is(err, seal.ErrBusy) && !errors.Is(err, seal.ErrChanged) {
			t.Errorf("background seal: %v", err)
		}
		if err == nil {
			mu.Lock()
			sealed = append(sealed, m)
			mu.Unlock()
		}
	}
	if err := cmd.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cmd.Run(ctx, newLogger(t.Output(), "info", "text")) }()
	stop := make(chan struct{})
	wait := dupReader(t, root, keyCounts(expectRows(t, msgs)), stop)
	select {
	case <-replay.Synced():
	case <-time.After(2 * time.Minute):
		t.Fatal("the archiver did not read every frame")
	}
	// The generated hours are long over: they are sealed as they fill.
	deadline := time.Now().Add(time.Minute)
	for {
		mu.Lock()
		n := len(sealed)
		mu.Unlock()
		if n >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	close(stop)
	wait()
	if len(sealed) < 3 {
		t.Fatalf("%d hours sealed in the background, want at least the 3 generated ones", len(sealed))
	}
	// What the last files published at the stop left unsealed, a seal
	// command takes in; then each hour is one file and every row is there.
	seal := &SealCmd{Dir: root, After: time.Nanosecond, Memory: 128 << 20, BatchRows: 65536, BatchBytes: 32 << 20, FileBytes: 2 << 30, out: &strings.Builder{}}
	if err := seal.Run(t.Context(), newLogger(t.Output(), "warn", "text")); err != nil {
		t.Fatal(err)
	}
	files := archivetest.ReadDataset(t, root)
	sameCertificates(t, archivetest.AllRows(files), expectRows(t, msgs))
	hours := map[string]int{}
	for _, f := range files {
		hours[filepath.Dir(f.Path)]++
	}
	current := "hour=" + time.Now().UTC().Format("2006-01-02T15")
	for h, n := range hours {
		if n != 1 && h != current { // the current hour is not over
			t.Errorf("%s holds %d files, want 1", h, n)
		}
	}
}

// sameCertificates checks that sealing kept each certificate of each CT
// log entry once, whatever copies of it the feed sent (the recorded
// messages hold lite and full copies of the same entries), and every row
// without a log and index.
func sameCertificates(t *testing.T, got, want []archivetest.Row) {
	t.Helper()
	id := func(r archivetest.Row) string {
		return fmt.Sprint(r["source_url"], "|", r["cert_index"], "|", r["sha256"], "|", r["update_type"])
	}
	count := func(rows []archivetest.Row) (map[string]int, int) {
		m, unkeyed := map[string]int{}, 0
		for _, r := range rows {
			if r["cert_index"] == nil || r["source_url"] == nil {
				unkeyed++
				continue
			}
			m[id(r)]++
		}
		return m, unkeyed
	}
	g, gu := count(got)
	w, wu := count(want)
	if gu != wu {
		t.Errorf("%d rows without a log and index, want %d", gu, wu)
	}
	for k := range w {
		if g[k] != 1 {
			t.Errorf("%s held %d times, want once", k, g[k])
		}
	}
	for k := range g {
		if w[k] == 0 {
			t.Errorf("%s held, never sent", k)
		}
	}
}
