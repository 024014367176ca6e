// Package scripts holds the operator scripts; this test runs prune.sh on
// generated datasets.
package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const hourFormat = "2006-01-02T15"

// dataset makes a dataset with one small file in each of the given hours
// (offsets from the current UTC hour) plus two hours in May 2020.
func dataset(t *testing.T) (root string, now time.Time) {
	t.Helper()
	root = t.TempDir()
	now = time.Now().UTC().Truncate(time.Hour)
	var hours []string
	for off := -5; off <= 1; off++ {
		hours = append(hours, now.Add(time.Duration(off)*time.Hour).Format(hourFormat))
	}
	hours = append(hours, "2020-05-31T22", "2020-05-31T23")
	for _, h := range hours {
		dir := filepath.Join(root, "hour="+h)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "x.feather"), make([]byte, 1000), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, ".collector-web1.lock"), []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root, now
}

func prune(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command("bash", append([]string{"prune.sh"}, args...)...).CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

func hoursIn(t *testing.T, root string) []string {
	t.Helper()
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var hours []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "hour=") {
			hours = append(hours, strings.TrimPrefix(e.Name(), "hour="))
		}
	}
	return hours
}

func TestPrune(t *testing.T) {
	tests := []struct {
		name     string
		args     func(now time.Time) []string
		keepFrom func(now time.Time) string // hours >= this remain
		output   string
	}{
		{"keep 3h", func(time.Time) []string { return []string{"--keep", "3h"} },
			func(now time.Time) string { return now.Add(-2 * time.Hour).Format(hourFormat) }, "removed 5 hour directories"},
		{"keep 1d", func(time.Time) []string { return []string{"--keep", "1d"} },
			func(now time.Time) string { return now.Add(-23 * time.Hour).Format(hourFormat) }, "removed 2 hour directories"},
		{"before", func(time.Time) []string { return []string{"--before", "2020-05-31T23"} },
			func(time.Time) string { return "2020-05-31T23" }, "removed 1 hour directories older than 2020-05-31T23, "},
		{"before the future never takes the current hour", func(time.Time) []string { return []string{"--before", "2099-01-01T00"} },
			func(now time.Time) string { return now.Format(hourFormat) }, "removed 7 hour directories"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, now := dataset(t)
			before := hoursIn(t, root)

			out, code := prune(t, append([]string{root, "--dry-run"}, tt.args(now)...)...)
			if code != 0 || !slices.Equal(hoursIn(t, root), before) || !strings.Contains(out, "would remove") {
				t.Fatalf("dry run: exit %d, hours %v, output:\n%s", code, hoursIn(t, root), out)
			}

			out, code = prune(t, append([]string{root}, tt.args(now)...)...)
			if code != 0 || !strings.Contains(out, tt.output) {
				t.Fatalf("exit %d, output:\n%s", code, out)
			}
			var want []string
			for _, h := range before {
				if h >= tt.keepFrom(now) {
					want = append(want, h)
				}
			}
			if got := hoursIn(t, root); !slices.Equal(got, want) {
				t.Fatalf("left %v, want %v", got, want)
			}
			if _, err := os.Stat(filepath.Join(root, ".collector-web1.lock")); err != nil {
				t.Fatalf("lock file touched: %v", err)
			}
		})
	}
}

func TestPruneRefuses(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, root string) []string
		code  int
	}{
		{"not a dataset", func(t *testing.T, root string) []string {
			os.WriteFile(filepath.Join(root, "thesis.pdf"), nil, 0o644)
			os.Mkdir(filepath.Join(root, "hour=2020-01-01T00"), 0o755)
			return []string{root, "--keep", "1h"}
		}, 3},
		{"empty directory", func(t *testing.T, root string) []string { return []string{root, "--keep", "1h"} }, 3},
		{"symlinked hour directory", func(t *testing.T, root string) []string {
			outside := t.TempDir()
			os.WriteFile(filepath.Join(outside, "precious"), nil, 0o644)
			os.Symlink(outside, filepath.Join(root, "hour=2020-01-01T00"))
			return []string{root, "--keep", "1h"}
		}, 3},
		{"DIR is a symlink", func(t *testing.T, root string) []string {
			real := t.TempDir()
			os.Mkdir(filepath.Join(real, "hour=2020-01-01T00"), 0o755)
			link := filepath.Join(root, "link")
			os.Symlink(real, link)
			return []string{link, "--keep", "1h"}
		}, 3},
		{"no cutoff", func(t *testing.T, root string) []string { return []string{root} }, 2},
		{"both cutoffs", func(t *testing.T, root string) []string {
			return []string{root, "--keep", "1h", "--before", "2020-01-01T00"}
		}, 2},
		{"bad duration", func(t *testing.T, root string) []string { return []string{root, "--keep", "30x"} }, 2},
		{"bad hour", func(t *testing.T, root string) []string { return []string{root, "--before", "2020-13-01T00"} }, 2},
		{"unknown option", func(t *testing.T, root string) []string { return []string{root, "--force"} }, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			args := tt.setup(t, root)
			var snapshot []string
			filepath.Walk(root, func(p string, _ os.FileInfo, _ error) error { snapshot = append(snapshot, p); return nil })
			out, code := prune(t, args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; output:\n%s", code, tt.code, out)
			}
			var after []string
			filepath.Walk(root, func(p string, _ os.FileInfo, _ error) error { after = append(after, p); return nil })
			if !slices.Equal(snapshot, after) {
				t.Fatalf("refused run changed the tree: %v -> %v", snapshot, after)
			}
			if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 1 {
				t.Errorf("want one line, got:\n%s", out)
			}
		})
	}
}
