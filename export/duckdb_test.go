package export

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certstream-arrow/certstream-arrow/stream/streamgen"
)

// duckdbPath is the DuckDB CLI beside the checkout (go test runs in export/).
const duckdbPath = "../../shared/tools/duckdb"

// findDuckDB returns the DuckDB CLI's path, skipping the test when it is
// absent, except under CI=true, where it must be there.
func findDuckDB(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(duckdbPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI needs the DuckDB CLI: %v", err)
		}
		t.Skipf("no DuckDB CLI: %v", err)
	}
	return p
}

func duckdb(t *testing.T, bin string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, append([]string{"-batch"}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("duckdb %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.String()
}

// DuckDB reads the export, hive partitions and all, as the same rows, of
// the same types, as the sealed Feather files: every time column a
// TIMESTAMP WITH TIME ZONE, digests and as_der BLOBs, lists VARCHAR[].
func TestDuckDBReadsExport(t *testing.T) {
	bin := findDuckDB(t)
	root, out := t.TempDir(), t.TempDir()
	sealHour(t, root, hour0, sealing{id: "aaaa0001", files: []int{1200, 300}, batchRows: 500, kind: streamgen.Lite, seed: 1})
	sealHour(t, root, hour0.Add(3600e9), sealing{id: "bbbb0001", files: []int{600}, batchRows: 250, kind: streamgen.Full, seed: 2})
	o := testOptions(root, out)
	o.RowGroupRows, o.ZstdLevel = 1000, DefaultZstdLevel
	export(t, o)

	feather := "FROM read_arrow('" + root + "/*/sealed-*.feather')"
	parquet := "FROM read_parquet('" + out + "/*/*.parquet', hive_partitioning = true)"
	types := func(from string) string {
		return duckdb(t, bin, "-csv", "-noheader", "-c", "LOAD nanoarrow; DESCRIBE SELECT * "+from+";")
	}
	ft, pt := types(feather), types(parquet)
	if ft != pt {
		t.Fatalf("column types differ:\nFeather:\n%s\nParquet:\n%s", ft, pt)
	}
	for _, want := range []string{"seen,TIMESTAMP WITH TIME ZONE", "not_before,TIMESTAMP WITH TIME ZONE", "entry_timestamp,TIMESTAMP WITH TIME ZONE",
		"sha256,BLOB", "fingerprint,BLOB", "as_der,BLOB", "domains,VARCHAR[]", "chain_subjects,VARCHAR[]", "hour,VARCHAR"} {
		if !strings.Contains(pt, want+",") {
			t.Errorf("Parquet columns lack %q:\n%s", want, pt)
		}
	}
	rows := func(from string) string {
		return duckdb(t, bin, "-json", "-c", "LOAD nanoarrow; SELECT * "+from+" ORDER BY hour, source_url, cert_index;")
	}
	fr, pr := rows(feather), rows(parquet)
	if fr != pr || strings.Count(pr, `"cert_index"`) != 2100 {
		t.Fatalf("rows differ or are missing: Feather %d bytes, Parquet %d bytes, %d rows",
			len(fr), len(pr), strings.Count(pr, `"cert_index"`))
	}
	groups := duckdb(t, bin, "-csv", "-noheader", "-c",
		"SELECT count(DISTINCT (file_name, row_group_id)), max(row_group_num_rows) FROM parquet_metadata('"+out+"/*/*.parquet');")
	if strings.TrimSpace(groups) != "4,1000" {
		t.Errorf("row groups (count, most rows): %s", groups)
	}
}
