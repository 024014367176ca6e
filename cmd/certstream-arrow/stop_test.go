package main

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/certstream-arrow/certstream-arrow/archive/archivetest"
	"github.com/certstream-arrow/certstream-arrow/stream/streamgen"
	"github.com/certstream-arrow/certstream-arrow/stream/streamtest"
)

// stopGuard catches a stop that hangs; it is not a performance threshold.
const stopGuard = 5 * time.Second

// rowKey identifies a certificate row: its log and index.
func rowKey(r archivetest.Row) string { return fmt.Sprint(r["source_url"], r["cert_index"]) }

// lostBeforeClose returns how many of the first sent messages have no row
// among rows, and fails the test on a row never sent or archived twice.
func lostBeforeClose(t testing.TB, msgs [][]byte, sent int64, rows []archivetest.Row) int {
	t.Helper()
	index := map[string]int{}
	for i, m := range msgs { // only those written: the rest cannot be rows
		r, _ := archivetest.Expect(m)
		index[rowKey(r)] = i
	}
	got := map[int]bool{}
	for _, r := range rows {
		i, ok := index[rowKey(r)]
		if !ok || got[i] {
			t.Fatalf("row %s never sent, or archived twice", rowKey(r))
		}
		got[i] = true
	}
	lost := 0
	for i := range int(sent) {
		if !got[i] {
			lost++
		}
	}
	return lost
}

// A stop under a flood loses nothing the server sent before it read the
// close frame: the archiver sends close, keeps archiving what is in
// flight until the server's close frame, and says how much that was.
func TestStopArchivesEverythingSentBeforeClose(t *testing.T) {
	msgs := generated(streamgen.Lite, 20_000)
	flood := streamtest.NewFlood(msgs)
	srv := streamtest.NewServer(t, flood.Session)
	r := startRun(t, srv.URL, func(c *RunCmd) { c.CloseTimeout = time.Minute }) // a hang guard only
	r.pipeline()
	for flood.Written() < 3000 {
		time.Sleep(time.Millisecond)
	}
	r.cancel()
	if err := <-r.done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	sent, ok := flood.WrittenBeforeClose()
	if !ok {
		t.Fatalf("the server never read a close frame; log:\n%s", r.log.String())
	}
	rows := archivetest.AllRows(archivetest.ReadDataset(t, r.root))
	if lost := lostBeforeClose(t, msgs[:flood.Written()], sent, rows); lost > 0 {
		t.Fatalf("%d of the %d messages sent before the close are missing (%d rows archived)", lost, sent, len(rows))
	}
	after := r.pipeline().client.Counters().FramesAfterClose.Load()
	if !strings.Contains(r.log.String(), fmt.Sprintf(`"msg":"stopped","frames_after_close":%d`, after)) {
		t.Errorf("no stop line with frames_after_close=%d; log:\n%s", after, r.log.String())
	}
	t.Logf("server wrote %d before the close; %d rows archived, %d frames arrived after the close was sent", sent, len(rows), after)
}

// A stop while the handshake hangs (the server accepts TCP and never
// answers) is prompt: it does not wait out the handshake timeout.
func TestStopDuringHangingHandshake(t *testing.T) {
	srv := streamtest.NewSilent(t)
	r := startRun(t, srv.URL, nil)
	<-srv.Requested // the archiver waits for the answer to its upgrade request
	start := time.Now()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("stopped %v after cancel", time.Since(start).Round(time.Millisecond))
	case <-time.After(stopGuard):
		t.Fatalf("still running %v after cancel; log:\n%s", stopGuard, r.log.String())
	}
}

// --url ws://user:password@host/ authenticates with HTTP Basic, and
// neither the password nor a --header value is logged, through failed
// attempts, retries and the stop.
func TestCredentialsNeverLogged(t *testing.T) {
	msgs := generated(streamgen.Lite, 20)
	replay := streamtest.NewReplay(streamtest.Text(msgs...))
	srv := streamtest.NewServer(t, replay.Session, streamtest.RejectFirst(3, http.StatusUnauthorized))
	const password, token = "pa55-w0rd-9", "t0ken-7b1"
	url := strings.Replace(srv.URL, "ws://", "ws://alice:"+password+"@", 1)
	r := startRun(t, url, func(c *RunCmd) { c.Header = []string{"X-Api-Key: " + token} })
	rows, c := r.finish(t, replay.Synced())
	archivetest.SameRows(t, rows, expectRows(t, msgs), "received_at")
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+password))
	if got := srv.Header().Get("Authorization"); got != basic || srv.Header().Get("X-Api-Key") != token {
		t.Errorf("handshake headers %v", srv.Header())
	}
	log := r.log.String()
	if c.FailedAttempts.Load() != 3 || !strings.Contains(log, "connection failed, retrying") {
		t.Errorf("want 3 logged failures; log:\n%s", log)
	}
	for _, secret := range []string{password, token, basic[len("Basic "):]} {
		if strings.Contains(log, secret) {
			t.Errorf("log contains %q:\n%s", secret, log)
		}
	}
}
