// Package streamtest provides test peers for code that consumes CertStream:
// an in-process fake CertStream server with fault injection, and the real
// messages recorded in ../shared/testdata/certstream. Generated messages
// come from package streamgen.
//
// It is for tests and benchmarks only. Recorded messages are read from the
// shared directory beside the checkout and never copied into the repository.
package streamtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Recorded is one real message from the shared test data.
type Recorded struct {
	Name string // file name, plus #n for files with several messages
	Data []byte // compact JSON, exactly one message
}

// SharedDir returns ../shared/testdata/<sub> beside the module root, failing
// the test when it is missing: CI always has it, and a silent skip would hide
// lost coverage.
func SharedDir(tb testing.TB, sub string) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("streamtest: go.mod not found above the working directory")
		}
		dir = parent
	}
	shared := filepath.Join(dir, "..", "shared", "testdata", sub)
	if _, err := os.Stat(shared); err != nil {
		tb.Fatalf("streamtest: shared test data missing (CI checks it out beside the repository): %v", err)
	}
	return shared
}

// LoadRecorded returns every recorded CertStream message: single messages
// (.json), arrays of messages, JSON Lines files, and the expected_* strings
// of the Rust parser snapshots, in a stable order.
func LoadRecorded(tb testing.TB) []Recorded {
	tb.Helper()
	dir := SharedDir(tb, "certstream")
	paths, err := filepath.Glob(filepath.Join(dir, "*.json*"))
	if err != nil {
		tb.Fatal(err)
	}
	sort.Strings(paths)
	var out []Recorded
	for _, p := range paths {
		msgs, err := loadFile(p)
		if err != nil {
			tb.Fatalf("load %s: %v", p, err)
		}
		name := filepath.Base(p)
		for i, m := range msgs {
			out = append(out, Recorded{Name: fmt.Sprintf("%s#%d", name, i), Data: m})
		}
	}
	return out
}

func loadFile(path string) ([][]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(path, ".jsonl") {
		var msgs [][]byte
		sc := bufio.NewScanner(bytes.NewReader(raw))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
				msgs = append(msgs, bytes.Clone(line))
			}
		}
		return msgs, sc.Err()
	}
	var one json.RawMessage
	if err := json.Unmarshal(raw, &one); err != nil {
		return nil, err
	}
	return splitJSON(one)
}

// splitJSON turns a message, an array of messages, or an array of parser
// snapshots (objects with expected_full/lite/domains_only strings) into
// compact messages.
func splitJSON(v json.RawMessage) ([][]byte, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(v, &items); err != nil {
		items = []json.RawMessage{v}
	}
	var out [][]byte
	for _, it := range items {
		var snap struct {
			Full    string `json:"expected_full"`
			Lite    string `json:"expected_lite"`
			Domains string `json:"expected_domains_only"`
		}
		if err := json.Unmarshal(it, &snap); err == nil && snap.Full != "" {
			out = append(out, []byte(snap.Full), []byte(snap.Lite), []byte(snap.Domains))
			continue
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, it); err != nil {
			return nil, err
		}
		out = append(out, buf.Bytes())
	}
	return out, nil
}
