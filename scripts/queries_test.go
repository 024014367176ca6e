package scripts

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Paths relative to this directory (go test runs in scripts/).
const (
	duckdbPath  = "../../shared/tools/duckdb"
	captureDir  = "../../shared/testdata/certstream"
	placeholder = "2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824" // the docs' example SHA-256
)

// query is one statement to check, with the statements before it that it
// needs (LOAD, CREATE VIEW, CREATE TEMP TABLE), run in the same DuckDB.
type query struct {
	name, setup, sql string
}

// TestQueries runs every DuckDB query in README.md and scripts/queries.sql
// with the real DuckDB CLI against datasets made from recorded messages:
// the live files as the archiver publishes them, the same hours sealed,
// and their Parquet export. Each query must return rows on each layout it
// reads (queries of 'export/' run on the export only), and every query of
// the Feather files, pointed at the export instead, must return exactly
// what it returns on the sealed files: the export holds the same rows.
func TestQueries(t *testing.T) {
	duckdb := findDuckDB(t)
	bin := buildBinary(t)
	live := queryDataset(t, bin)
	sealed := t.TempDir()
	copyTree(t, filepath.Join(live, "data"), filepath.Join(sealed, "data"))
	run(t, bin, "seal", filepath.Join(sealed, "data"), "--after", "0s")
	run(t, bin, "verify", filepath.Join(sealed, "data"))
	run(t, bin, "export", filepath.Join(sealed, "data"), "--format", "parquet", "--out", filepath.Join(sealed, "export"))
	checkSealedOnce(t, duckdb, sealed)

	digest := strings.TrimSpace(runDuckDB(t, duckdb, live, "-csv", "-noheader", "-c",
		"LOAD nanoarrow; SELECT hex(sha256) FROM read_arrow('data/*/*.feather') WHERE sha256 IS NOT NULL LIMIT 1;"))
	if len(digest) != 64 {
		t.Fatalf("no SHA-256 in the dataset: %q", digest)
	}
	qs := documentedQueries(t)
	for _, q := range qs {
		t.Run(q.name, func(t *testing.T) {
			sql := strings.ReplaceAll(q.setup+q.sql, placeholder, digest)
			if strings.Contains(sql, "'export/") {
				rowsOf(t, duckdb, sealed, sql)
				return
			}
			rowsOf(t, duckdb, live, sql)
			want := rowsOf(t, duckdb, sealed, sql)
			got := rowsOf(t, duckdb, sealed, onExport(sql))
			if !sameRows(got, want) {
				t.Errorf("on the Parquet export:\n%v\non the sealed files:\n%v", got, want)
			}
		})
	}
}

// documentedQueries returns every query of README.md and queries.sql.
func documentedQueries(t *testing.T) []query {
	t.Helper()
	var qs []query
	for _, f := range []string{"../README.md", "queries.sql"} {
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		scripts := []string{string(text)}
		if strings.HasSuffix(f, ".md") {
			scripts = sqlBlocks(string(text))
		}
		for _, s := range scripts {
			for _, q := range splitScript(s) {
				q.name = filepath.Base(f) + "/" + q.name
				qs = append(qs, q)
			}
		}
	}
	if len(qs) < 10 {
		t.Fatalf("found %d queries, want at least 10", len(qs))
	}
	return qs
}

// rowsOf runs sql in dir and returns its rows, failing if there are none.
func rowsOf(t *testing.T, duckdb, dir, sql string) []map[string]any {
	t.Helper()
	var rows []map[string]any
	out := runDuckDB(t, duckdb, dir, "-json", "-c", sql)
	if strings.TrimSpace(out) == "" {
		t.Fatalf("no rows in %s from\n%s", dir, sql)
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) == 0 {
		t.Fatalf("output %q (%v) in %s from\n%s", out, err, dir, sql)
	}
	return rows
}

// featherGlob is how the documented queries read the Feather files.
var featherGlob = regexp.MustCompile(`read_arrow\('data/\*/\*\.feather'[^)]*\)`)

// onExport points a query of the Feather files at the Parquet export.
func onExport(sql string) string {
	return featherGlob.ReplaceAllString(sql, "read_parquet('export/*/*.parquet', hive_partitioning = true)")
}

// sameRows compares two results as multisets of rows (queries may order
// ties differently).
func sameRows(a, b []map[string]any) bool {
	key := func(rows []map[string]any) []string {
		out := make([]string, len(rows))
		for i, r := range rows {
			j, _ := json.Marshal(r)
			out[i] = string(j)
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(key(a), key(b))
}

// checkSealedOnce checks, on the sealed files, that each certificate of
// each CT log entry is there once, and on the export, that it holds the
// same rows.
func checkSealedOnce(t *testing.T, duckdb, dir string) {
	t.Helper()
	count := func(from string) string {
		return strings.TrimSpace(runDuckDB(t, duckdb, dir, "-csv", "-noheader", "-c", "LOAD nanoarrow; SELECT count(*), "+
			"count(DISTINCT (source_url, cert_index, sha256)) FROM "+from+" WHERE cert_index IS NOT NULL;"))
	}
	sealed := count("read_arrow('data/*/*.feather')")
	if n := strings.Split(sealed, ","); len(n) != 2 || n[0] != n[1] || n[0] == "0" {
		t.Errorf("sealed files: %s rows, distinct certificates of entries", sealed)
	}
	if exported := count("read_parquet('export/*/*.parquet')"); exported != sealed {
		t.Errorf("export: %s rows, distinct; sealed files: %s", exported, sealed)
	}
}

// findDuckDB returns the DuckDB CLI's path, skipping the test when it is
// absent, except under CI=true, where it must be there.
func findDuckDB(t *testing.T) string {
	t.Helper()
	path, err := filepath.Abs(duckdbPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI needs the DuckDB CLI: %v", err)
		}
		t.Skipf("no DuckDB CLI: %v", err)
	}
	return path
}

// queryDataset imports the recorded full and lite captures, plus one lite
// certificate renamed to login.example.com so that the name searches find
// something, into DIR/data and returns DIR.
func queryDataset(t *testing.T, bin string) string {
	t.Helper()
	dir := t.TempDir()
	lite := filepath.Join(captureDir, "reloading01-rust-live-2026-lite.jsonl")
	extra := filepath.Join(dir, "example.jsonl")
	if err := os.WriteFile(extra, renamed(t, lite, "login.example.com"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{filepath.Join(captureDir, "reloading01-rust-live-2026-full.jsonl"), lite, extra} {
		run(t, bin, "import", f, "-o", filepath.Join(dir, "data"))
	}
	return dir
}

// buildBinary builds the program.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "certstream-arrow")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/certstream-arrow").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// run runs the program, failing the test on a non-zero exit.
func run(t *testing.T, bin string, args ...string) {
	t.Helper()
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("certstream-arrow %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// copyTree copies the published files and directories under from to to.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// renamed returns the first message of a capture with its names replaced
// by name, as another entry of the same log.
func renamed(t *testing.T, capture, name string) []byte {
	t.Helper()
	f, err := os.Open(capture)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	if !sc.Scan() {
		t.Fatalf("%s: empty: %v", capture, sc.Err())
	}
	var msg struct {
		MessageType string                     `json:"message_type"`
		Data        map[string]json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(sc.Bytes(), &msg); err != nil {
		t.Fatal(err)
	}
	var leaf map[string]any
	if err := json.Unmarshal(msg.Data["leaf_cert"], &leaf); err != nil {
		t.Fatal(err)
	}
	leaf["all_domains"] = []string{name}
	leaf["subject"] = map[string]any{"CN": name, "aggregated": "/CN=" + name}
	b, err := json.Marshal(leaf)
	if err != nil {
		t.Fatal(err)
	}
	msg.Data["leaf_cert"] = b
	msg.Data["cert_index"] = json.RawMessage("999999999") // an entry of its own: sealing keeps one row per entry
	out, err := json.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}

// runDuckDB runs the CLI in dir (so that 'data/...' globs find the
// dataset) and returns its standard output, failing on any error.
func runDuckDB(t *testing.T, duckdb, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(duckdb, append([]string{"-batch"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("duckdb %v: %v\n%s\n%s", args, err, stderr, out)
	}
	return string(out)
}

// sqlBlocks returns the contents of the ```sql fenced blocks of a
// Markdown document, indented ones (inside list items) included.
func sqlBlocks(md string) []string {
	var blocks []string
	var cur []string
	in := false
	for _, line := range strings.Split(md, "\n") {
		switch trimmed := strings.TrimSpace(line); {
		case !in && trimmed == "```sql":
			in, cur = true, nil
		case in && trimmed == "```":
			in = false
			blocks = append(blocks, strings.Join(cur, "\n"))
		case in:
			cur = append(cur, line)
		}
	}
	return blocks
}

// splitScript splits a script into its queries: each SELECT, named by the
// comment above it, with the setup statements before it. INSTALL lines are
// dropped (no network in tests; the extension is linked in).
func splitScript(script string) []query {
	var qs []query
	var setup, comment string
	var stmt []string
	inComment := false
	for _, line := range strings.Split(script, "\n") {
		trimmed := strings.TrimSpace(line)
		wasComment := inComment
		inComment = strings.HasPrefix(trimmed, "--")
		switch {
		case inComment:
			if len(stmt) == 0 && !wasComment { // a comment's first line names it
				comment = strings.TrimSpace(strings.TrimPrefix(trimmed, "--"))
			}
			continue
		case trimmed == "", strings.HasPrefix(strings.ToUpper(trimmed), "INSTALL "):
			continue
		}
		stmt = append(stmt, line)
		if !strings.HasSuffix(trimmed, ";") {
			continue
		}
		s := strings.Join(stmt, "\n") + "\n"
		stmt = nil
		if !strings.HasPrefix(strings.ToUpper(strings.TrimSpace(s)), "SELECT") {
			setup += s
			comment = ""
			continue
		}
		name := comment
		if name == "" {
			name = fmt.Sprintf("query %d", len(qs)+1)
		}
		qs = append(qs, query{name: name, setup: setup, sql: s})
		comment = ""
	}
	return qs
}
