package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The systemd units pass `systemd-analyze verify` (with ExecStart pointed at
// an executable that exists here, since the tests do not install anything).
func TestSystemdUnitsVerify(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze not installed")
	}
	dir := t.TempDir()
	exe := regexp.MustCompile(`(?m)^ExecStart=\S+`)
	for _, unit := range []string{"certstream-arrow.service", "certstream-arrow-prune.service", "certstream-arrow-prune.timer"} {
		b, err := os.ReadFile(unit)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, unit), exe.ReplaceAll(b, []byte("ExecStart=/bin/true")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, unit := range []string{"certstream-arrow.service", "certstream-arrow-prune.service", "certstream-arrow-prune.timer"} {
		out, err := exec.Command("systemd-analyze", "verify", "--man=no", filepath.Join(dir, unit)).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "" {
			t.Errorf("%s: %v\n%s", unit, err, out)
		}
	}
}

// The service keeps what the README promises: SIGTERM with a stop timeout
// long enough for a clean publish, restart on failure, and a read-only
// system except the dataset.
func TestServiceSettings(t *testing.T) {
	b, err := os.ReadFile("certstream-arrow.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"KillSignal=SIGTERM", "TimeoutStopSec=120", "Restart=on-failure", "ProtectSystem=strict",
		"ReadWritePaths=/var/lib/certstream-arrow", "User=certstream-arrow", "NoNewPrivileges=yes"} {
		if !strings.Contains(string(b), "\n"+want+"\n") {
			t.Errorf("service lacks %s", want)
		}
	}
}
