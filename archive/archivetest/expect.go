package archivetest

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// Expect returns the row a message must become, computed with
// encoding/json independently of the stream decoder, and false for
// messages that produce no row (heartbeats, unknown types, garbage).
// received_at is left out: only the archiver knows it.
func Expect(msg []byte) (Row, bool) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(msg))
	dec.UseNumber()
	if dec.Decode(&m) != nil {
		return nil, false
	}
	if data, ok := m["data"].(map[string]any); ok {
		if _, text := data["seen"].(string); text {
			return nil, false // wrong type: skipped
		}
	}
	switch m["message_type"] {
	case "dns_entries":
		names, ok := strList(m["data"])
		if !ok || names == nil {
			return nil, false
		}
		row := emptyRow()
		row["domains"] = names
		return row, true
	case "certificate_update":
		data, _ := m["data"].(map[string]any)
		leaf, _ := data["leaf_cert"].(map[string]any)
		if leaf == nil {
			return nil, false
		}
		return certRow(data, leaf), true
	}
	return nil, false
}

var columns = strings.Fields(`seen update_type cert_index cert_link source_url source_name domains subject subject_cn
	subject_o issuer issuer_cn issuer_o not_before not_after serial_number fingerprint sha256 signature_algorithm
	is_ca as_der chain_subjects submitted_at entry_timestamp provenance`)

func emptyRow() Row {
	row := Row{}
	for _, c := range columns {
		row[c] = nil
	}
	row["provenance"] = "stream"
	return row
}

func certRow(data, leaf map[string]any) Row {
	row := emptyRow()
	row["seen"] = tsOf(data["seen"], time.Microsecond)
	row["submitted_at"] = tsOf(data["submission_timestamp"], time.Microsecond)
	row["entry_timestamp"] = tsOf(data["submission_timestamp"], time.Millisecond)
	row["update_type"] = strOf(data["update_type"])
	if n, ok := data["cert_index"].(json.Number); ok {
		v, _ := n.Int64()
		row["cert_index"] = v
	}
	row["cert_link"] = strOf(data["cert_link"])
	row["source_url"] = strOf(path(data, "source", "url"))
	row["source_name"] = strOf(path(data, "source", "name"))
	if names, _ := strList(leaf["all_domains"]); names != nil {
		row["domains"] = names
	}
	for col, p := range map[string][]string{
		"subject": {"subject", "aggregated"}, "subject_cn": {"subject", "CN"}, "subject_o": {"subject", "O"},
		"issuer": {"issuer", "aggregated"}, "issuer_cn": {"issuer", "CN"}, "issuer_o": {"issuer", "O"},
		"serial_number": {"serial_number"}, "signature_algorithm": {"signature_algorithm"},
	} {
		row[col] = strOf(path(leaf, p...))
	}
	sent := leaf["fingerprint"]
	if sent == nil {
		sent = leaf["sha1"]
	}
	row["fingerprint"] = digestOf(sent, sha1.Size)
	row["sha256"] = digestOf(leaf["sha256"], sha256.Size)
	if row["fingerprint"] == emptySHA1 || row["sha256"] == emptySHA256 {
		row["fingerprint"], row["sha256"] = nil, nil // digests of nothing: the row is damaged
	}
	row["not_before"] = tsOf(leaf["not_before"], time.Second)
	row["not_after"] = tsOf(leaf["not_after"], time.Second)
	if s, ok := leaf["as_der"].(string); ok {
		if der, err := base64.StdEncoding.DecodeString(s); err == nil && len(der) > 0 {
			row["as_der"] = der
			if row["fingerprint"] == nil {
				sum := sha1.Sum(der)
				row["fingerprint"] = strings.ToUpper(hex.EncodeToString(sum[:]))
			}
			if row["sha256"] == nil {
				sum := sha256.Sum256(der)
				row["sha256"] = strings.ToUpper(hex.EncodeToString(sum[:]))
			}
		}
	}
	row["is_ca"] = isCA(leaf)
	if chain, ok := data["chain"].([]any); ok {
		names := []string{}
		for _, c := range chain {
			cm, _ := c.(map[string]any)
			s, _ := path(cm, "subject", "aggregated").(string)
			names = append(names, s)
		}
		row["chain_subjects"] = names
	}
	return row
}

func isCA(leaf map[string]any) any {
	if b, ok := leaf["is_ca"].(bool); ok {
		return b
	}
	bc, _ := path(leaf, "extensions", "basicConstraints").(string)
	switch {
	case bc == "CA:TRUE" || strings.HasPrefix(bc, "CA:TRUE,"):
		return true
	case bc == "CA:FALSE":
		return false
	}
	return nil
}

func path(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

func strOf(v any) any {
	if s, ok := v.(string); ok {
		return s
	}
	return nil
}

func strList(v any) ([]string, bool) {
	items, ok := v.([]any)
	if !ok {
		return nil, v == nil
	}
	out := []string{}
	for _, it := range items {
		if s, ok := it.(string); ok {
			out = append(out, s)
		}
	}
	return out, true
}

func tsOf(v any, unit time.Duration) any {
	n, ok := v.(json.Number)
	if !ok {
		return nil
	}
	f, err := n.Float64()
	if err != nil {
		return nil
	}
	return Time(f, unit)
}

// Digests of empty input, as digestOf returns them.
const (
	emptySHA1   = "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709"
	emptySHA256 = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
)

var hexPairs = regexp.MustCompile(`^[0-9A-Fa-f]{2}(:?[0-9A-Fa-f]{2})*$`)

// digestOf returns a digest sent as hex text (colons optional) as
// uppercase hex without colons, or nil unless it is size bytes long.
func digestOf(v any, size int) any {
	text, ok := v.(string)
	if !ok {
		return nil
	}
	if !hexPairs.MatchString(text) {
		return nil
	}
	b, _ := hex.DecodeString(strings.ReplaceAll(text, ":", ""))
	if len(b) != size {
		return nil
	}
	return strings.ToUpper(hex.EncodeToString(b))
}

// SameRows fails the test unless got and want hold the same rows, in any
// order, ignoring the columns in ignore. It reports the first differences.
func SameRows(tb testing.TB, got, want []Row, ignore ...string) {
	tb.Helper()
	key := func(r Row) string {
		c := Row{}
		for k, v := range r {
			c[k] = v
		}
		for _, k := range ignore {
			delete(c, k)
		}
		return fmt.Sprintf("%v", map[string]any(c))
	}
	count := map[string]int{}
	for _, r := range got {
		count[key(r)]++
	}
	for _, r := range want {
		count[key(r)]--
	}
	var diffs []string
	for k, n := range count {
		if n != 0 {
			diffs = append(diffs, fmt.Sprintf("%+d × %.600s", n, k))
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		tb.Fatalf("rows differ: got %d, want %d; +n = extra in files, -n = missing from files; first differences:\n%s",
			len(got), len(want), strings.Join(diffs[:min(len(diffs), 6)], "\n"))
	}
}
