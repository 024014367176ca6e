package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A dataset root that is a filesystem root however spelled, a system
// directory, or an existing non-directory is refused with one line; other
// directories, existing or not, are accepted.
func TestCheckOutput(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	toRoot := filepath.Join(dir, "to-root")
	if err := os.Symlink("/", toRoot); err != nil {
		t.Fatal(err)
	}
	toEtc := filepath.Join(dir, "to-etc")
	if err := os.Symlink("/etc", toEtc); err != nil {
		t.Fatal(err)
	}
	toDir := filepath.Join(dir, "to-dir")
	if err := os.Symlink(dir, toDir); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		out  string
		want string // "" for accepted
	}{
		{"/", "filesystem root"},
		{"//", "filesystem root"},
		{"/./", "filesystem root"},
		{"/..", "filesystem root"},
		{"/tmp/../", "filesystem root"},
		{toRoot, "filesystem root"},
		{toEtc, "system directory"},
		{"/proc", "system directory"},
		{"/proc/self", "pseudo filesystem"},
		{"/sys/fs", "pseudo filesystem"},
		{"/etc", "system directory"},
		{"/etc/", "system directory"},
		{"/usr", "system directory"},
		{"/usr/lib", "system directory"},
		{"/var", "system directory"},
		{"/var/lib", "system directory"},
		{"/dev", "system directory"},
		{"/boot", "system directory"},
		{"/run", "system directory"},
		{"/dev/null", "not a directory"},
		{file, "not a directory"},
		{"certs.feather", "looks like a single file"},
		{"  ", "must name a directory"},
		{"/var/lib/certstream-arrow", ""},
		{"/srv/ct", ""},
		{"/usr/local/share/ct", ""},
		{"data", ""},
		{dir, ""},
		{toDir, ""},
		{filepath.Join(dir, "new", "deeper"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.out, func(t *testing.T) {
			err := checkOutput(tt.out)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			case err != nil && (strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "--output")):
				t.Fatalf("not one line naming the flag: %q", err)
			}
		})
	}
}

// --header errors name the header at most, never its value: values are
// credentials more often than not.
func TestHeaderErrorsHideValues(t *testing.T) {
	tests := []struct {
		header string
		secret string
	}{
		{"Authorization Bearer s3cr3t-t0ken", "s3cr3t-t0ken"},
		{"Bearer s3cr3t-t0ken", "s3cr3t-t0ken"},
		{"Auth orization: s3cr3t-t0ken", "s3cr3t-t0ken"},
		{"X-Key: s3cr3t\r\nX-Other: 1", "s3cr3t"},
		{": s3cr3t-t0ken", "s3cr3t-t0ken"},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			r := testRunCmd("ws://127.0.0.1/", t.TempDir())
			r.Header = []string{"X-Fine: ok", tt.header}
			err := r.Validate()
			if err == nil || !strings.Contains(err.Error(), "--header") || strings.Contains(err.Error(), tt.secret) {
				t.Fatalf("Validate: %v; want a --header error without %q", err, tt.secret)
			}
		})
	}
}

// user:password in --url and an Authorization --header conflict; either
// alone is fine.
func TestURLCredentialsAndAuthorizationHeader(t *testing.T) {
	tests := []struct {
		url     string
		header  []string
		wantErr bool
	}{
		{"ws://u:p4ss@127.0.0.1/", nil, false},
		{"ws://127.0.0.1/", []string{"Authorization: Bearer x"}, false},
		{"ws://u:p4ss@127.0.0.1/", []string{"authorization: Bearer x"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.url+" "+strings.Join(tt.header, ","), func(t *testing.T) {
			r := testRunCmd(tt.url, t.TempDir())
			r.Header = tt.header
			err := r.Validate()
			if (err != nil) != tt.wantErr || (err != nil && strings.Contains(err.Error(), "p4ss")) {
				t.Fatalf("Validate: %v, want error %v (without the password)", err, tt.wantErr)
			}
		})
	}
}

// With a byte budget, auto caps the queue's share: a huge --queue-size no
// longer inflates the limit beyond what the frames can hold.
func TestMemoryLimitQueueBytes(t *testing.T) {
	tests := []struct {
		queue, batch int
		queueBytes   ByteSize
		want         int64
	}{
		{4096, 1000, 64 << 20, 48<<20 + 5096*8<<10},             // the defaults: unchanged, 88 MiB
		{100_000, 1000, 64 << 20, 48<<20 + 64<<20 + 1000*8<<10}, // capped by --queue-bytes
		{4096, 1000, 0, 48<<20 + 5096*8<<10},                    // no budget given: by count
	}
	for _, tt := range tests {
		r := &RunCmd{MemoryLimit: "auto", QueueSize: tt.queue, QueueBytes: tt.queueBytes, BufferSize: tt.batch}
		if got, err := r.memoryLimit(); got != tt.want || err != nil {
			t.Errorf("queue %d, %d bytes, batch %d: %d, %v; want %d", tt.queue, tt.queueBytes, tt.batch, got, err, tt.want)
		}
	}
}

// The defaults validate, with --backfill on too, and keep the data fresh:
// a row's batch is written at most --flush-interval after it arrives, and
// its file is published at the first tick after it has been open
// --rotate-age, so a reader sees every row within a minute of its arrival
// (TestMeasureFreshness measures the delay).
func TestRunDefaultsFresh(t *testing.T) {
	unsetEnv(t, "CERTSTREAM_ARROW_")
	list := filepath.Join(t.TempDir(), "log_list.json")
	if err := os.WriteFile(list, []byte(`{"operators":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
	}{
		{"defaults", nil},
		{"with --backfill", []string{"--backfill", "--log-list", list}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := defaultRunCmd(t, append([]string{"-o", t.TempDir()}, tt.args...)...)
			if worst := r.publishDelay() + tickInterval(r.FlushInterval); worst > time.Minute {
				t.Fatalf("--rotate-age %v, --flush-interval %v: a row may wait %v before a published file holds it, want at most 1m",
					r.RotateAge, r.FlushInterval, worst)
			}
		})
	}
}

// unsetEnv unsets, for the test, every environment variable whose name
// starts with prefix, so that flags parsed in it take their defaults.
func unsetEnv(t *testing.T, prefix string) {
	t.Helper()
	for _, kv := range os.Environ() {
		name, value, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, prefix) {
			t.Setenv(name, value) // restores it after the test
			os.Unsetenv(name)
		}
	}
}
