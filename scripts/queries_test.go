package scripts

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
// with the real DuckDB CLI against a dataset imported from recorded
// messages, and checks that each returns rows.
func TestQueries(t *testing.T) {
	duckdb := findDuckDB(t)
	root := queryDataset(t)
	digest := strings.TrimSpace(runDuckDB(t, duckdb, root, "-csv", "-noheader", "-c",
		"LOAD nanoarrow; SELECT hex(sha256) FROM read_arrow('data/*/*.feather') WHERE sha256 IS NOT NULL LIMIT 1;"))
	if len(digest) != 64 {
		t.Fatalf("no SHA-256 in the dataset: %q", digest)
	}
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
	for _, q := range qs {
		t.Run(q.name, func(t *testing.T) {
			sql := strings.ReplaceAll(q.setup+q.sql, placeholder, digest)
			var rows []map[string]any
			out := runDuckDB(t, duckdb, root, "-json", "-c", sql)
			if strings.TrimSpace(out) == "" {
				t.Fatalf("no rows from\n%s", sql)
			}
			if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) == 0 {
				t.Fatalf("output %q (%v) from\n%s", out, err, sql)
			}
		})
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
func queryDataset(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "certstream-arrow")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/certstream-arrow").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	lite := filepath.Join(captureDir, "reloading01-rust-live-2026-lite.jsonl")
	extra := filepath.Join(dir, "example.jsonl")
	if err := os.WriteFile(extra, renamed(t, lite, "login.example.com"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{filepath.Join(captureDir, "reloading01-rust-live-2026-full.jsonl"), lite, extra} {
		cmd := exec.Command(bin, "import", f, "-o", filepath.Join(dir, "data"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("import %s: %v\n%s", f, err, out)
		}
	}
	return dir
}

// renamed returns the first message of a capture with its names replaced
// by name.
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
