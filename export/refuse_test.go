package export

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certstream-arrow/certstream-arrow/seal"
	"github.com/certstream-arrow/certstream-arrow/stream/streamgen"
)

// A sealed hour that is not as its manifest says fails with an error
// naming the problem; its earlier export stays as it was, whole, and the
// other hours are exported.
func TestExportRefusesDamagedHour(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, dir string, m *seal.Manifest)
		want   string
	}{
		{"a byte changed", func(t *testing.T, dir string, m *seal.Manifest) {
			p := filepath.Join(dir, m.Files[0].Name)
			b, _ := os.ReadFile(p)
			b[len(b)/2] ^= 0x40
			os.WriteFile(p, b, 0o644)
		}, "the file changed after it was sealed"},
		{"truncated", func(t *testing.T, dir string, m *seal.Manifest) {
			os.Truncate(filepath.Join(dir, m.Files[1].Name), 1000)
		}, "1000 bytes, its manifest says"},
		{"missing", func(t *testing.T, dir string, m *seal.Manifest) {
			os.Remove(filepath.Join(dir, m.Files[0].Name))
		}, "no such file"},
		{"a path in the manifest", func(t *testing.T, dir string, m *seal.Manifest) {
			m.Files[0].Name = "../hour=2026-11-24T14/" + m.Files[0].Name
		}, "not a sealed file name"},
		{"another hour's manifest", func(t *testing.T, dir string, m *seal.Manifest) {
			m.Hour = "2026-11-24T15"
		}, `manifest is of hour "2026-11-24T15"`},
		{"more rows than the file holds", func(t *testing.T, dir string, m *seal.Manifest) {
			m.Files[0].Rows++
			m.Rows++
		}, "rows of sealed-20261124T13-aaaa0002-001.feather, its manifest says"},
		{"not an Arrow file", func(t *testing.T, dir string, m *seal.Manifest) {
			p := filepath.Join(dir, m.Files[0].Name)
			os.WriteFile(p, []byte(strings.Repeat("not arrow ", 100)), 0o644)
			m.Files[0].Bytes, m.Files[0].SHA256 = digest(t, p)
		}, "read hour=2026-11-24T13/sealed-"},
		{"an unreadable manifest", func(t *testing.T, dir string, m *seal.Manifest) {
			m.Format = 99
		}, "format 99"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, out := t.TempDir(), t.TempDir()
			h1 := hour0.Add(time.Hour)
			sealHour(t, root, hour0, sealing{id: "aaaa0001", files: []int{120}, batchRows: 50, kind: streamgen.Lite, seed: 1})
			sealHour(t, root, h1, sealing{id: "bbbb0001", files: []int{80}, batchRows: 50, kind: streamgen.Lite, seed: 2})
			export(t, testOptions(root, out))
			_, before := exportedRows(t, out, hour0)

			dir := filepath.Join(root, seal.HourDir(hour0))
			os.RemoveAll(dir)
			m := sealHour(t, root, hour0, sealing{id: "aaaa0002", files: []int{100, 100}, batchRows: 50, kind: streamgen.Lite, seed: 3})
			sealHour(t, root, h1.Add(time.Hour), sealing{id: "cccc0001", files: []int{60}, batchRows: 50, kind: streamgen.Lite, seed: 4})
			tc.damage(t, dir, m)
			writeManifest(t, root, hour0, m)

			res := export(t, testOptions(root, out))
			if got := statuses(res); got != "2026-11-24T13:failed 2026-11-24T14:up to date 2026-11-24T15:exported" {
				t.Fatalf("statuses %s (%v)", got, res[0].Err)
			}
			t.Logf("%v", res[0].Err)
			if res[0].Err == nil || !strings.Contains(res[0].Err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", res[0].Err, tc.want)
			}
			rec, after := exportedRows(t, out, hour0)
			sameOrder(t, after, before)
			if rec.ManifestID != "aaaa0001" {
				t.Errorf("the failed hour's export now says manifest %s", rec.ManifestID)
			}
			exportedRows(t, out, h1.Add(time.Hour))
			if ents, _ := os.ReadDir(filepath.Join(out, workDir)); len(ents) > 0 {
				t.Errorf("left in the work directory: %v", ents)
			}
		})
	}
}
