package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certstream-arrow/certstream-arrow/archive/archivetest"
	"github.com/certstream-arrow/certstream-arrow/stream/streamgen"
	"github.com/certstream-arrow/certstream-arrow/stream/streamtest"
)

// buildBinary compiles the command once per test binary run.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "certstream-arrow")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// The acceptance scenario: the real binary, a local server whose
// certificates' seen spans three hours, --partition-by seen, stopped by
// SIGTERM, leaves exactly three hour directories whose rows equal the
// certificates sent, readable as files and as streams from byte 8.
func TestBinarySIGTERMThreeHours(t *testing.T) {
	bin := buildBinary(t)
	start := time.Date(2026, 5, 20, 13, 0, 0, 0, time.UTC)
	var msgs [][]byte
	lite := streamgen.New(streamgen.Options{Kind: streamgen.Lite, Seed: 1, Start: start, Step: 7 * time.Second})
	full := streamgen.New(streamgen.Options{Kind: streamgen.Full, Seed: 2, Start: start, Step: 7 * time.Second})
	for i := range 1500 { // seen from 13:00:00 to 15:54:53
		msgs = append(msgs, lite.Next(), full.Next())
		if i%100 == 0 {
			msgs = append(msgs, []byte(`{"message_type":"heartbeat"}`))
		}
	}
	replay := streamtest.NewReplay(frames(msgs))
	srv := streamtest.NewServer(t, replay.Session)
	root := filepath.Join(t.TempDir(), "data")

	var stderr bytes.Buffer
	cmd := exec.Command(bin, "-u", srv.URL, "-o", root, "--partition-by", "seen", "-b", "200",
		"--flush-interval", "100ms", "--log-format", "json")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-replay.Synced():
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("the archiver did not read every frame; log:\n%s", stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v; log:\n%s", err, stderr.String())
	}

	dirs, _ := os.ReadDir(root)
	var hours []string
	for _, d := range dirs {
		if d.IsDir() {
			hours = append(hours, d.Name())
		}
	}
	if want := "hour=2026-05-20T13 hour=2026-05-20T14 hour=2026-05-20T15"; strings.Join(hours, " ") != want {
		t.Fatalf("directories %v, want %s", hours, want)
	}
	files := archivetest.ReadDataset(t, root)
	rows := archivetest.AllRows(files)
	archivetest.SameRows(t, rows, expectRows(t, msgs), "received_at")
	if len(rows) != 3000 {
		t.Fatalf("%d rows, want 3000", len(rows))
	}
	checkHours(t, files)
	checkNoStrays(t, root)
	checkWithPolars(t, root, 3000)
}

// checkWithPolars reads the dataset with polars (Rust Arrow) when
// nodejs-polars is installed (.ci/run installs it and sets NODE_PATH).
func checkWithPolars(t *testing.T, root string, wantRows int) {
	t.Helper()
	nodePath := os.Getenv("NODE_PATH")
	if _, err := os.Stat(filepath.Join(nodePath, "nodejs-polars")); nodePath == "" || err != nil {
		if os.Getenv("CERTSTREAM_ARROW_REQUIRE_POLARS") != "" {
			t.Fatalf("nodejs-polars not found under NODE_PATH=%q", nodePath)
		}
		t.Log("nodejs-polars not installed (set NODE_PATH); skipping the independent reader check")
		return
	}
	out, err := exec.Command("node", "../../scripts/verify-polars.mjs", root).CombinedOutput()
	if err != nil {
		t.Fatalf("polars: %v\n%s", err, out)
	}
	var got struct {
		Rows                 int `json:"rows"`
		DistinctCertificates int `json:"distinct_certificates"`
		SHA256               int `json:"sha256"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("polars output %s: %v", out, err)
	}
	if got.Rows != wantRows || got.DistinctCertificates != wantRows || got.SHA256 != wantRows {
		t.Fatalf("polars read %d rows, %d distinct certificates, %d sha256 digests; want %d", got.Rows, got.DistinctCertificates, got.SHA256, wantRows)
	}
	t.Logf("polars: %s", bytes.TrimSpace(out))
}

// Bad flag values exit 2 with one line naming the problem.
func TestBinaryBadFlags(t *testing.T) {
	bin := buildBinary(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-u", "http://example.com"}, "want ws://"},
		{[]string{"-u", "certstream.calidog.io"}, "want ws://"},
		{[]string{"-o", "certs.feather"}, "looks like a single file"},
		{[]string{"-o", "/"}, "filesystem root"},
		{[]string{"-o", "//etc/"}, "system directory"},
		{[]string{"-u", "ws://u:p@127.0.0.1/", "--header", "Authorization: Bearer x"}, "--url"},
		{[]string{"--header", "Authorization Bearer s3cret"}, "the text is not shown"},
		{[]string{"-b", "0"}, "--buffer-size"},
		{[]string{"-b", "ten"}, "--buffer-size"},
		{[]string{"--rotate-bytes", "lots"}, "not a size"},
		{[]string{"--flush-interval", "-1s"}, "--flush-interval"},
		{[]string{"--partition-by", "sent"}, "--partition-by"},
		{[]string{"--log-level", "verbose"}, "--log-level"},
		{[]string{"--header", "no colon"}, "--header"},
		{[]string{"--no-such-flag"}, "unknown flag"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cmd := exec.Command(bin, tt.args...)
			cmd.Env = append(os.Environ(), "CERTSTREAM_ARROW_OUTPUT="+t.TempDir())
			out, err := cmd.CombinedOutput()
			code := -1
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if code != 2 || len(lines) != 1 || !strings.Contains(lines[0], tt.want) {
				t.Fatalf("exit %d, output:\n%s\nwant exit 2 and one line containing %q", code, out, tt.want)
			}
		})
	}
}

// Flags can be set from CERTSTREAM_ARROW_* environment variables.
func TestBinaryEnvironment(t *testing.T) {
	bin := buildBinary(t)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "CERTSTREAM_ARROW_BUFFER_SIZE=0")
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "--buffer-size") {
		t.Fatalf("CERTSTREAM_ARROW_BUFFER_SIZE=0 not rejected: %s", out)
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		t.Fatalf("--version: %v %s", err, out)
	}
}

// SIGTERM under a flood loses nothing the server sent before it read the
// archiver's close frame, and the exit is clean. The log says how many
// messages arrived after the close was sent.
func TestBinarySIGTERMUnderFlood(t *testing.T) {
	bin := buildBinary(t)
	msgs := generated(streamgen.Lite, 100_000)
	flood := streamtest.NewFlood(msgs)
	srv := streamtest.NewServer(t, flood.Session)
	root := filepath.Join(t.TempDir(), "data")
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "-u", srv.URL, "-o", root, "--log-format", "json")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); flood.Written() < 20_000; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no flood; log:\n%s", stderr.String())
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	sent, _ := flood.WrittenBeforeClose()
	rows := archivetest.AllRows(archivetest.ReadDataset(t, root))
	lost := lostBeforeClose(t, msgs[:flood.Written()], sent, rows)
	var after string
	if i := strings.Index(stderr.String(), `"frames_after_close":`); i >= 0 {
		after = strings.SplitN(stderr.String()[i:], ",", 2)[0]
	}
	t.Logf("server wrote %d before reading the close frame (%d in all); %d rows archived; %d of those %d lost; %s",
		sent, flood.Written(), len(rows), lost, sent, after)
	if err != nil || lost > 0 {
		t.Fatalf("exit %v, %d messages lost; log:\n%s", err, lost, stderr.String())
	}
}

// SIGTERM while the handshake hangs (the server accepts TCP, reads the
// upgrade request and never answers) stops the binary promptly, exit 0.
func TestBinarySIGTERMDuringHangingHandshake(t *testing.T) {
	bin := buildBinary(t)
	srv := streamtest.NewSilent(t)
	cmd := exec.Command(bin, "-u", srv.URL, "-o", filepath.Join(t.TempDir(), "data"), "--log-format", "json")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	<-srv.Requested
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		t.Logf("exited %v after SIGTERM", time.Since(start).Round(time.Millisecond))
		if err != nil {
			t.Fatalf("exit: %v; log:\n%s", err, stderr.String())
		}
	case <-time.After(stopGuard):
		cmd.Process.Kill()
		<-exited
		t.Fatalf("still running %v after SIGTERM; log:\n%s", stopGuard, stderr.String())
	}
}
