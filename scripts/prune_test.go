// Package scripts holds the operator scripts; this test runs prune.sh on
// generated datasets.
package scripts

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	hourFormat = "2006-01-02T15"
	usageLine  = "usage: prune.sh [--dry-run] (--keep 1h..876000h|1d..36500d | --before YYYY-MM-DDTHH) [--] DIR"
	maxKeep    = 876000 * time.Hour // --keep 876000h = 36500d, the largest accepted
)

// datasetHours are the hours dataset makes: around the current UTC hour,
// two in May 2020, two leap days, and the two hours either side of the
// oldest cutoff --keep accepts.
func datasetHours(now time.Time) []string {
	var hours []string
	for off := -5; off <= 1; off++ {
		hours = append(hours, now.Add(time.Duration(off)*time.Hour).Format(hourFormat))
	}
	return append(hours, "2020-05-31T22", "2020-05-31T23", "2020-02-29T23", "2000-02-29T00",
		now.Add(-maxKeep+time.Hour).Format(hourFormat), now.Add(-maxKeep).Format(hourFormat))
}

// dataset makes a dataset in root (created if missing) with one small file
// in each of datasetHours and a collector lock file.
func dataset(t testing.TB, root string, now time.Time) {
	t.Helper()
	for _, h := range datasetHours(now) {
		dir := filepath.Join(root, "hour="+h)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "x.feather"), make([]byte, 1000), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, ".collector-web1.lock"), []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// currentHour returns the current UTC hour, first waiting out the last
// seconds of an hour so that the test and the script agree on "now".
func currentHour(t testing.TB) time.Time {
	t.Helper()
	now := time.Now().UTC()
	if left := now.Truncate(time.Hour).Add(time.Hour).Sub(now); left < 5*time.Second {
		time.Sleep(left + 100*time.Millisecond)
	}
	return time.Now().UTC().Truncate(time.Hour)
}

type result struct {
	stdout, stderr string
	code           int
}

// prune runs prune.sh in the working directory cwd with extra environment.
func prune(t testing.TB, cwd string, env []string, args ...string) result {
	t.Helper()
	script, err := filepath.Abs("prune.sh")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", append([]string{script}, args...)...)
	cmd.Dir = cwd
	cmd.Env = append(cmd.Environ(), env...) // Environ sets PWD to cwd
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{stdout.String(), stderr.String(), code}
}

func hoursIn(t testing.TB, root string) []string {
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

// tree lists every path under base, with symlink targets, to show that a
// refused run changed nothing.
func tree(t testing.TB, base string) []string {
	t.Helper()
	var paths []string
	err := filepath.Walk(base, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.Mode()&os.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			p += " -> " + target
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

// wantKept checks that exactly the hours >= from are left in root.
func wantKept(t testing.TB, root, from string, all []string) {
	t.Helper()
	var want []string
	for _, h := range all {
		if h >= from {
			want = append(want, h)
		}
	}
	slices.Sort(want)
	if got := hoursIn(t, root); !slices.Equal(got, want) {
		t.Fatalf("left %v, want %v", got, want)
	}
}

func TestPrune(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		keepFrom func(now time.Time) string // hours >= this remain
	}{
		{"keep 3h", []string{"--keep", "3h"}, func(now time.Time) string { return now.Add(-2 * time.Hour).Format(hourFormat) }},
		{"keep 1h keeps only the current hour", []string{"--keep", "1h"}, func(now time.Time) string { return now.Format(hourFormat) }},
		{"keep 1d", []string{"--keep", "1d"}, func(now time.Time) string { return now.Add(-23 * time.Hour).Format(hourFormat) }},
		{"keep the maximum in hours", []string{"--keep", "876000h"},
			func(now time.Time) string { return now.Add(-maxKeep + time.Hour).Format(hourFormat) }},
		{"keep the maximum in days", []string{"--keep", "36500d"},
			func(now time.Time) string { return now.Add(-maxKeep + time.Hour).Format(hourFormat) }},
		{"keep 10d is ten days", []string{"--keep", "10d"}, func(now time.Time) string { return now.Add(-239 * time.Hour).Format(hourFormat) }},
		{"before", []string{"--before", "2020-05-31T23"}, func(time.Time) string { return "2020-05-31T23" }},
		{"before a leap day", []string{"--before", "2020-02-29T23"}, func(time.Time) string { return "2020-02-29T23" }},
		{"before the future never takes the current hour", []string{"--before", "2099-01-01T00"},
			func(now time.Time) string { return now.Format(hourFormat) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			now := currentHour(t)
			dataset(t, root, now)
			before := tree(t, root)

			r := prune(t, root, nil, append([]string{root, "--dry-run"}, tt.args...)...)
			if r.code != 0 || !slices.Equal(tree(t, root), before) || !strings.Contains(r.stdout, "would remove") {
				t.Fatalf("dry run: exit %d, hours %v, output:\n%s%s", r.code, hoursIn(t, root), r.stdout, r.stderr)
			}

			r = prune(t, root, nil, append([]string{root}, tt.args...)...)
			from := tt.keepFrom(now)
			gone := 0
			for _, h := range datasetHours(now) {
				if h < from {
					gone++
				}
			}
			want := fmt.Sprintf("removed %d hour directories older than %s, ", gone, from)
			if r.code != 0 || !strings.Contains(r.stdout, want) || r.stderr != "" {
				t.Fatalf("exit %d, want output %q, got:\n%s%s", r.code, want, r.stdout, r.stderr)
			}
			wantKept(t, root, from, datasetHours(now))
			if _, err := os.Stat(filepath.Join(root, ".collector-web1.lock")); err != nil {
				t.Fatalf("lock file touched: %v", err)
			}
		})
	}
}

// Each way of naming a real dataset prunes that dataset and nothing else,
// including directories named like options and a working directory given
// as "."; env may point OLDPWD or CDPATH at a decoy dataset.
func TestPruneSpellings(t *testing.T) {
	tests := []struct {
		name, data, cwd string // data and cwd relative to a fresh base directory
		args            []string
		env             string // DECOY is the decoy dataset's parent
	}{
		{"absolute", "data", ".", []string{"BASE/data", "--keep", "1h"}, ""},
		{"relative", "data", ".", []string{"data", "--keep", "1h"}, ""},
		{"trailing slashes", "data", ".", []string{"data//", "--keep", "1h"}, ""},
		{"trailing dot", "data", ".", []string{"data/./", "--keep", "1h"}, ""},
		{"dot", "data", "data", []string{".", "--keep", "1h"}, ""},
		{"dot slash", "data", "data", []string{"./", "--keep", "1h"}, ""},
		{"parent components", "data", "data", []string{"../data", "--keep", "1h"}, ""},
		{"DIR after --", "data", ".", []string{"--keep", "1h", "--", "data"}, ""},
		{"DIR named like an option", "--keep", ".", []string{"--keep", "1h", "--", "--keep"}, ""},
		{"DIR starting with a dash", "-data", ".", []string{"--keep", "1h", "--", "-data"}, ""},
		{"DIR is a dash, not OLDPWD", "-", ".", []string{"--keep", "1h", "--", "-"}, "OLDPWD=DECOY/-"},
		{"CDPATH is ignored", "data", ".", []string{"data", "--keep", "1h"}, "CDPATH=DECOY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			now := currentHour(t)
			root, decoy := filepath.Join(base, tt.data), filepath.Join(base, "decoy")
			dataset(t, root, now)
			dataset(t, filepath.Join(decoy, tt.data), now)
			decoyTree := tree(t, decoy)
			var args []string
			for _, a := range tt.args {
				args = append(args, strings.Replace(a, "BASE", base, 1))
			}
			var env []string
			if tt.env != "" {
				env = append(env, strings.Replace(tt.env, "DECOY", decoy, 1))
			}
			r := prune(t, filepath.Join(base, tt.cwd), env, args...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("exit %d, output:\n%s%s", r.code, r.stdout, r.stderr)
			}
			wantKept(t, root, now.Format(hourFormat), datasetHours(now))
			if got := tree(t, decoy); !slices.Equal(got, decoyTree) {
				t.Fatalf("decoy dataset changed: %v -> %v", decoyTree, got)
			}
		})
	}
}

// refused runs prune.sh and checks that it refused with the given code,
// one line on stderr (plus the usage line for usage errors), nothing on
// stdout, and no change anywhere under base.
func refused(t testing.TB, base, cwd string, code int, args ...string) result {
	t.Helper()
	before := tree(t, base)
	r := prune(t, cwd, nil, args...)
	if r.code != code {
		t.Fatalf("exit %d, want %d; output:\n%s%s", r.code, code, r.stdout, r.stderr)
	}
	if after := tree(t, base); !slices.Equal(before, after) {
		t.Fatalf("refused run changed the tree: %v -> %v", before, after)
	}
	want := 1
	if code == 2 {
		want = 2
	}
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if r.stdout != "" || len(lines) != want || !strings.HasPrefix(lines[0], "prune.sh: ") ||
		(code == 2 && lines[1] != usageLine) {
		t.Fatalf("want %d line(s) on stderr and nothing on stdout; got stdout %q, stderr:\n%s", want, r.stdout, r.stderr)
	}
	return r
}

// Every argument that is not exactly a valid one is refused with exit 2,
// and deletes nothing, on a dataset with hours that any cutoff would take.
func TestPruneRefusesArguments(t *testing.T) {
	type argCase struct {
		name string
		args []string // DATA is the dataset
	}
	tests := []argCase{
		{"no cutoff", []string{"DATA"}},
		{"both cutoffs", []string{"DATA", "--keep", "1h", "--before", "2020-01-01T00"}},
		{"unknown option", []string{"DATA", "--force"}},
		{"keep= form", []string{"DATA", "--keep=30d"}},
		{"no DIR", []string{"--keep", "1h"}},
		{"empty DIR", []string{"", "--keep", "1h"}},
		{"two DIRs", []string{"DATA", "DATA", "--keep", "1h"}},
		{"options after --", []string{"--", "DATA", "--keep", "1h"}},
		{"option after -- DIR", []string{"--keep", "1h", "--", "DATA", "--dry-run"}},
		{"keep without value", []string{"DATA", "--keep"}},
		{"before without value", []string{"DATA", "--before"}},
		{"keep twice", []string{"DATA", "--keep", "30d", "--keep", "1h"}},
		{"keep twice, same value", []string{"DATA", "--keep", "1h", "--keep", "1h"}},
		{"before twice", []string{"DATA", "--before", "2000-01-01T00", "--before", "2099-01-01T00"}},
		{"root", []string{"/", "--keep", "1h"}},
		{"root, two slashes", []string{"//", "--keep", "1h"}},
		{"root, dot", []string{"/.", "--keep", "1h"}},
		{"root, dot slash", []string{"/./", "--keep", "1h"}},
		{"DIR ending in ..", []string{"DATA/hour=2020-05-31T22/..", "--keep", "1h"}},
		{"DIR ending in ../", []string{"DATA/hour=2020-05-31T22/../", "--keep", "1h"}},
	}
	for _, v := range []string{
		"010d", "0720h", "09d", "08h", "0h", "0d", "00h", "0000001h", // leading zeros, zero
		"876001h", "36501d", "1000000h", "100000d", "9223372036854775807h", "9223372036854775808h",
		"18446744073709551617h", "99999999999999999999d", "384307168202282325d", // too big, overflow
		"", "d", "h", "30", "-30d", "+30d", "-0h", // empty, no unit, signs
		" 30d", "30d ", "30 d", "\t30d", "30d\n", "3\n0d", // whitespace
		"30dd", "1d2h", "1e3h", "0x10h", "1.5d", "30D", "30H", "30m", "1_0h", // other spellings
		"３０d", "٣٠d", "३०h", "¹h", // digits of other scripts
		"1h$(touch pwned)", "a[$(touch pwned)]h", // injection
	} {
		tests = append(tests, argCase{fmt.Sprintf("keep %q", v), []string{"DATA", "--keep", v}})
	}
	for _, v := range []string{
		"2020-99-99T99", "2020-13-01T00", "2020-00-10T00", "2020-01-00T00", "2020-01-32T00",
		"2020-02-30T00", "2021-02-29T00", "1900-02-29T00", "2020-04-31T00", "2020-01-01T24",
		"2020-1-01T00", "20200-01-01T00", "2020-01-01", "2020-01-01 00", "2020-01-01T00Z",
		"2020-01-01T00:00", " 2020-01-01T00", "2020-01-01T00\n", "", "２０２０-01-01T00", "2020-01-01T0٠",
		"-2020-01-01T00", "2020-01-01T00$(touch pwned)",
	} {
		tests = append(tests, argCase{fmt.Sprintf("before %q", v), []string{"DATA", "--before", v}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			root := filepath.Join(base, "data")
			dataset(t, root, currentHour(t))
			var args []string
			for _, a := range tt.args {
				args = append(args, strings.Replace(a, "DATA", root, 1))
			}
			refused(t, base, base, 2, args...)
		})
	}
}

// A directory that is not a dataset, or a dataset reached through a
// symlink however DIR is spelled, is refused with exit 3.
func TestPruneRefusesDirectories(t *testing.T) {
	type dirCase struct {
		name, cwd string // cwd relative to base
		setup     func(t *testing.T, base string)
		dir       string // relative to cwd
	}
	none := func(*testing.T, string) {}
	tests := []dirCase{
		{"not a dataset", ".", func(t *testing.T, base string) {
			os.WriteFile(filepath.Join(base, "data", "thesis.pdf"), nil, 0o644)
		}, "data"},
		{"empty directory", ".", func(t *testing.T, base string) { os.Mkdir(filepath.Join(base, "empty"), 0o755) }, "empty"},
		{"missing directory", ".", none, "missing"},
		{"symlinked hour directory", ".", func(t *testing.T, base string) {
			os.Symlink(filepath.Join(base, "outside"), filepath.Join(base, "data", "hour=2020-01-01T00"))
		}, "data"},
	}
	for _, dir := range []string{"link", "link/", "link//", "link/.", "link/./", "link/.//./", "link2", "link2/.", "data/../link/"} {
		tests = append(tests, dirCase{"DIR is a symlink: " + dir, ".", none, dir})
	}
	tests = append(tests, dirCase{"dot inside a symlink", "link", none, "."},
		dirCase{"dot slash inside a symlink", "link", none, "./"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			dataset(t, filepath.Join(base, "data"), currentHour(t))
			os.WriteFile(filepath.Join(base, "outside"), []byte("precious"), 0o644)
			os.Symlink(filepath.Join(base, "data"), filepath.Join(base, "link"))
			os.Symlink("link", filepath.Join(base, "link2"))
			tt.setup(t, base)
			refused(t, base, filepath.Join(base, tt.cwd), 3, tt.dir, "--keep", "1h")
		})
	}
}

// An hour directory whose name is not a real hour was not written by
// certstream-arrow: the dataset is refused, naming it, and nothing goes.
func TestPruneRefusesImpossibleHours(t *testing.T) {
	for _, h := range []string{
		"2020-99-99T99", "2020-13-01T00", "2020-00-01T00", "2020-01-00T00", "2020-01-32T00",
		"2020-02-30T00", "2021-02-29T00", "1900-02-29T00", "2020-04-31T00", "2020-01-01T24", "9999-99-99T99",
	} {
		t.Run(h, func(t *testing.T) {
			base := t.TempDir()
			root := filepath.Join(base, "data")
			dataset(t, root, currentHour(t))
			if err := os.Mkdir(filepath.Join(root, "hour="+h), 0o755); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{{"--keep", "1h"}, {"--before", "2099-01-01T00"}, {"--keep", "1h", "--dry-run"}} {
				r := refused(t, base, base, 3, append([]string{root}, args...)...)
				if !strings.Contains(r.stderr, "hour="+h) {
					t.Errorf("stderr does not name the entry: %s", r.stderr)
				}
			}
		})
	}
}
