package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/certstream-arrow/certstream-arrow/archive/archivetest"
	"github.com/certstream-arrow/certstream-arrow/stream/streamgen"
	"github.com/certstream-arrow/certstream-arrow/stream/streamtest"
)

// The archiver is killed with SIGKILL at random moments (mid-batch,
// mid-publish, mid-rotation) and restarted, 20 times, against a server
// delivering a steady 2,000 certificates a second; then stopped cleanly.
// Every published file must read fully, no row may appear twice, nothing
// may be left behind, and each kill may lose at most what the archiver
// held in memory: the rows of the current batch, the queue, and the
// messages in flight on the socket.
func TestKillNineLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 loop takes ~20 s")
	}
	const (
		kills      = 20
		bufferSize = 100
		queueSize  = 64
		total      = 40000
	)
	bin := buildBinary(t)
	msgs := generated(streamgen.Lite, total)
	replay := streamtest.NewReplay(streamtest.Text(msgs...))
	replay.Pace(20, 10*time.Millisecond) // ~2,000 messages/s
	srv := streamtest.NewServer(t, replay.Session)
	root := filepath.Join(t.TempDir(), "data")
	args := []string{"-u", srv.URL, "-o", root, "-b", fmt.Sprint(bufferSize), "--queue-size", fmt.Sprint(queueSize),
		"--flush-interval", "100ms", "--rotate-rows", "300", "--collector", "crashy", "--log-format", "json",
		"--backoff-min", "10ms", "--backoff-max", "50ms"}

	rng := rand.New(rand.NewPCG(9, 9))
	var logs bytes.Buffer
	for i := range kills {
		cmd := exec.Command(bin, args...)
		cmd.Stderr = &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(50+rng.IntN(400)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill %d: %v", i, err)
		}
		_ = cmd.Wait()
	}

	cmd := exec.Command(bin, args...)
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-replay.Synced():
	case <-time.After(3 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("the final run did not read the rest of the stream; log:\n%s", logs.String())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("final run: %v\n%s", err, logs.String())
	}

	rows := archivetest.AllRows(archivetest.ReadDataset(t, root)) // every file reads fully, both ways
	want := map[string]bool{}
	for _, m := range msgs {
		r, _ := archivetest.Expect(m)
		want[fmt.Sprint(r["source_url"], r["cert_index"])] = true
	}
	seen := map[string]bool{}
	for _, r := range rows {
		k := fmt.Sprint(r["source_url"], r["cert_index"])
		if seen[k] {
			t.Fatalf("row %s archived twice", k)
		}
		if !want[k] {
			t.Fatalf("row %s was never sent", k)
		}
		seen[k] = true
	}
	checkNoStrays(t, root)
	lost := total - len(rows)
	bound := kills * (2*bufferSize + queueSize + 2000/10) // batch building + batch writing + queue + ~100 ms in flight
	t.Logf("%d kills: %d of %d rows archived, %d lost (%.0f per kill; bound %d per kill)",
		kills, len(rows), total, lost, float64(lost)/kills, bound/kills)
	if lost > bound {
		t.Fatalf("lost %d rows over %d kills, more than the bound of %d", lost, kills, bound)
	}
}

// A second archiver with the same collector name on the same root is
// refused at once with a message naming the running one.
func TestBinarySecondInstanceRefused(t *testing.T) {
	bin := buildBinary(t)
	replay := streamtest.NewReplay(nil)
	srv := streamtest.NewServer(t, replay.Session)
	root := filepath.Join(t.TempDir(), "data")
	args := []string{"-u", srv.URL, "-o", root, "--collector", "web1"}
	first := exec.Command(bin, args...)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		first.Process.Signal(syscall.SIGTERM)
		first.Wait()
	}()
	<-replay.Synced() // the first one is up and connected
	out, err := exec.Command(bin, args...).CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 || !bytes.Contains(out, []byte(`collector \"web1\" is already running`)) ||
		!bytes.Contains(out, []byte(fmt.Sprintf("pid %d", first.Process.Pid))) {
		t.Fatalf("second instance: %v\n%s", err, out)
	}
}

// `recover DIR` publishes what a killed archiver left in its temporary file.
func TestBinaryRecover(t *testing.T) {
	bin := buildBinary(t)
	msgs := generated(streamgen.Lite, 500)
	replay := streamtest.NewReplay(streamtest.Text(msgs...))
	srv := streamtest.NewServer(t, replay.Session)
	root := filepath.Join(t.TempDir(), "data")
	cmd := exec.Command(bin, "-u", srv.URL, "-o", root, "-b", "100", "--rotate-age", "1h", "--flush-interval", "1h")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	<-replay.Synced()
	// Wait until the consumer has written all five batches to the open file.
	deadline := time.Now().Add(time.Minute)
	for {
		tmps, _ := filepath.Glob(filepath.Join(root, "hour=*", ".*.feather.tmp"))
		if len(tmps) == 1 {
			if rows, _ := archivetest.ReadPartialStream(tmps[0]); len(rows) == 500 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the batches never reached the temporary file: %v", tmps)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if n := len(archivetest.Published(t, root)); n != 0 {
		t.Fatalf("%d files published before the kill; the test needs an open file", n)
	}
	out, err := exec.Command(bin, "recover", root).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("salvaged 1 files (500 rows")) {
		t.Fatalf("recover: %v\n%s", err, out)
	}
	rows := archivetest.AllRows(archivetest.ReadDataset(t, root))
	archivetest.SameRows(t, rows, expectRows(t, msgs), "received_at")
	checkNoStrays(t, root)
}

// SIGTERM while the server floods: every certificate read off the socket
// before the signal is published (the final stats line counts them), and
// the time the clean stop takes is reported.
func TestBinaryCleanStopUnderFlood(t *testing.T) {
	bin := buildBinary(t)
	msgs := generated(streamgen.Full, 1000)
	sent := make(chan int, 1)
	srv := streamtest.NewServer(t, func(conn *websocket.Conn, _ int) { // an endless flood, ~20,000 messages/s
		i := 0
		defer func() { sent <- i }()
		for ; ; i++ {
			if conn.WriteMessage(websocket.TextMessage, msgs[i%len(msgs)]) != nil {
				return
			}
			if i%100 == 99 {
				time.Sleep(5 * time.Millisecond)
			}
		}
	})
	root := filepath.Join(t.TempDir(), "data")
	var logs bytes.Buffer
	cmd := exec.Command(bin, "-u", srv.URL, "-o", root, "--log-format", "json", "--stats-interval", "0")
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // the flood never ends: any moment is mid-flood
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, logs.String())
	}
	took := time.Since(start)
	var final struct {
		Certificates int64 `json:"certificates"`
		Frames       int64 `json:"frames"`
	}
	for _, line := range bytes.Split(logs.Bytes(), []byte("\n")) {
		if bytes.Contains(line, []byte(`"msg":"stats"`)) {
			if err := json.Unmarshal(line, &final); err != nil {
				t.Fatal(err)
			}
		}
	}
	rows := archivetest.AllRows(archivetest.ReadDataset(t, root))
	if final.Certificates == 0 || int64(len(rows)) != final.Certificates {
		t.Fatalf("read %d certificates (%d frames) before stopping, published %d rows; want equal",
			final.Certificates, final.Frames, len(rows))
	}
	checkNoStrays(t, root)
	t.Logf("SIGTERM mid-flood: server sent %d, archiver read %d, published all %d; clean stop took %v",
		<-sent, final.Certificates, len(rows), took.Round(time.Millisecond))
}
