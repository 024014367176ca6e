package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchLayouts runs bench-layouts.sh on a tiny dataset (2 hours of 500
// rows, one query run), so that the script behind BENCHMARKS.md's sealed
// hours figures cannot rot: it must generate, seal, write Parquet, get the
// same answers from every layout (the script checks) and print its tables.
func TestBenchLayouts(t *testing.T) {
	duckdb := findDuckDB(t)
	work := t.TempDir()
	bin := filepath.Join(work, "certstream-arrow")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/certstream-arrow").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command("bash", "bench-layouts.sh", "--hours", "2", "--rows-per-hour", "500", "--runs", "1",
		"--seal", "--batch-rows 1000", "--seal", "--batch-rows 65536", "--bin", bin, "--duckdb", duckdb,
		"--work", filepath.Join(work, "layouts"))
	cmd.Env = append(os.Environ(), "BENCH_EXPORT=auto")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bench-layouts.sh: %v\n%s", err, out)
	}
	text := string(out)
	t.Log(text)
	for _, want := range []string{"rows=1000 ", "\nlive ", "\nsealed-1 ", "\nsealed-2 ", "\nduckdb-parquet ",
		"\nduckdb-copy ", "\ncount ", "\ndomain ", "\ngroup ", "\nlookup "} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
}
