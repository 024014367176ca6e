package seal

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certstream-arrow/certstream-arrow/stream/streamgen"
)

func sealedDataset(t *testing.T) (root string, m *Manifest) {
	t.Helper()
	root = t.TempDir()
	twoCollectorsAndBackfill(t, root, streamgen.Lite)
	s := sealer(t, root, nil)
	m, err := s.Seal(t.Context(), hour0)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	return root, m
}

func only(t *testing.T, root string) HourReport {
	t.Helper()
	reps, err := Verify(root, func(h time.Time) bool { return h.Equal(hour0) })
	if err != nil || len(reps) != 1 {
		t.Fatalf("Verify = %v, %v", reps, err)
	}
	return reps[0]
}

func TestVerify(t *testing.T) {
	cases := []struct {
		name    string
		damage  func(t *testing.T, root string, m *Manifest)
		problem string // "" : none
	}{
		{"as sealed", func(*testing.T, string, *Manifest) {}, ""},
		{"bit rot", func(t *testing.T, root string, m *Manifest) {
			p := filepath.Join(root, HourDir(hour0), m.Files[0].Name)
			b, _ := os.ReadFile(p)
			b[len(b)/2] ^= 0x10
			os.WriteFile(p, b, 0o644)
		}, "SHA-256"},
		{"truncated", func(t *testing.T, root string, m *Manifest) {
			os.Truncate(filepath.Join(root, HourDir(hour0), m.Files[0].Name), 100)
		}, "bytes, its manifest says"},
		{"removed", func(t *testing.T, root string, m *Manifest) {
			os.Remove(filepath.Join(root, HourDir(hour0), m.Files[0].Name))
		}, "no such file"},
		{"manifest edited", func(t *testing.T, root string, m *Manifest) {
			m.Rows++
			m.Logs[0].Held = m.Logs[0].Held[1:]
			b, _ := json.Marshal(m)
			os.WriteFile(filepath.Join(root, HourDir(hour0), ManifestName), b, 0o644)
		}, "manifest says"},
		{"manifest garbled", func(t *testing.T, root string, m *Manifest) {
			os.WriteFile(filepath.Join(root, HourDir(hour0), ManifestName), []byte("{"), 0o644)
		}, "manifest of"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root, m := sealedDataset(t)
			c.damage(t, root, m)
			rep := only(t, root)
			got := strings.Join(rep.Problems, "; ")
			if c.problem == "" && !rep.OK() || c.problem != "" && !strings.Contains(got, c.problem) {
				t.Errorf("problems %q, want one with %q", got, c.problem)
			}
		})
	}
}

func TestVerifyListsUnsealed(t *testing.T) {
	root, _ := sealedDataset(t)
	writeFeeds(t, root, streamgen.Lite, 601, feed{collector: "late", from: 600, to: 601, at: within(hour0.Add(50 * time.Minute))})
	rep := only(t, root)
	if !rep.OK() || len(rep.Unsealed) != 1 {
		t.Errorf("problems %v, unsealed %v: want none and one", rep.Problems, rep.Unsealed)
	}
	reps, _ := Verify(root, nil)
	if len(reps) != 2 || reps[1].Manifest != nil || len(reps[1].Unsealed) == 0 {
		t.Errorf("the unsealed next hour: %+v", reps)
	}
}
