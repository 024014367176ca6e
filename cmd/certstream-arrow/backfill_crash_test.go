package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/ctlog/ctlogtest"
)

// kill -9 of a real backfill, three times, each once it has written rows
// against a slowed log; a final run makes the log whole: every index exactly
// once, nothing lost, nothing twice, and the rows the killed runs wrote
// (salvaged from their temporary files or published) are not fetched again.
func TestBinaryBackfillKillNine(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 of a backfill takes a few seconds")
	}
	bin := buildBinary(t)
	f := newBackfillFixture(t, 1960) // 2,000 entries
	f.stream(t, f.rfc, 0, 1, nil)    // the archive owes [0, 2000)
	f.rfc.SetFaults(ctlogtest.Faults{Delay: 20 * time.Millisecond, CorruptTile: -1})
	args := []string{"backfill", f.root, "--log-list", f.list, "--grace", "0", "--collector", "bf",
		"--requests-per-second", "1000", "--max-in-flight", "1", "--page-size", "16", "-b", "32",
		"--flush-interval", "50ms", "--rotate-rows", "100", "--log-format", "json", "--progress-interval", "100ms"}
	var logs bytes.Buffer
	for kill := range 3 {
		before := dataBytes(t, f.root)
		cmd := exec.Command(bin, args...)
		cmd.Stderr, cmd.Stdout = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitWritten(t, f.root, before, &logs)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill %d: %v", kill, err)
		}
		_ = cmd.Wait()
	}
	temp := tempFiles(t, f.root)
	f.rfc.SetFaults(ctlogtest.Faults{CorruptTile: -1})
	var out bytes.Buffer
	cmd := exec.Command(bin, append(args, "--json")...)
	cmd.Stderr, cmd.Stdout = &logs, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("final run: %v\n%s", err, logs.String())
	}
	f.checkOnce(t, f.rfc, 0, 2000)
	var sum struct {
		Fetched int64 `json:"fetched"`
		Logs    []struct {
			Held int64 `json:"held_before"`
		} `json:"logs"`
	}
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil || len(sum.Logs) != 1 {
		t.Fatalf("summary %s: %v", out.String(), err)
	}
	t.Logf("%d temporary files left by the kills; the final run found %d held and fetched %d", temp, sum.Logs[0].Held, sum.Fetched)
	if sum.Logs[0].Held <= 1 || sum.Logs[0].Held+sum.Fetched != 2000 {
		t.Fatalf("final run: %d held before, %d fetched; want the killed runs' rows kept and the rest fetched", sum.Logs[0].Held, sum.Fetched)
	}
}

// dataBytes sums the sizes of the files in the hour directories, published
// and temporary: it grows as a backfill writes batches.
func dataBytes(t *testing.T, root string) int64 {
	t.Helper()
	var n int64
	matches, _ := filepath.Glob(filepath.Join(root, "hour=*", "*"))
	hidden, _ := filepath.Glob(filepath.Join(root, "hour=*", ".*"))
	for _, m := range append(matches, hidden...) {
		if fi, err := os.Stat(m); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// tempFiles counts the temporary files under root.
func tempFiles(t *testing.T, root string) int {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(root, "hour=*", ".*"+archive.TmpSuffix))
	return len(matches)
}

// waitWritten waits until the dataset has grown past before bytes.
func waitWritten(t *testing.T, root string, before int64, logs *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for dataBytes(t, root) <= before {
		if time.Now().After(deadline) {
			t.Fatalf("the backfill wrote nothing; log:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
