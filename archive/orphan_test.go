package archive

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// An hour directory deleted while its file is open (by hand, or by a
// retention run with the wrong cutoff) loses nothing: the rows already in
// the vanished file and every later row are published, each once, and no
// row is counted as written that is not in a published file.
func TestHourDirectoryDeletedWhileOpen(t *testing.T) {
	cases := []struct {
		name  string
		after int // rows appended after the deletion
	}{
		{"more rows follow", 25},
		{"deleted just before publishing", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			clk := &fakeClock{now: crashHour.Add(time.Minute)}
			opts := testOptions(root, "orphan")
			opts.Now, opts.FlushInterval = clk.Now, time.Second
			d, err := Open(opts)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for ; n < 25; n++ {
				d.Append(row(n))
			}
			clk.now = clk.now.Add(2 * time.Second)
			d.Tick(clk.now) // writes the 5 left over: 3 batches in the file
			if err := os.RemoveAll(filepath.Join(root, hourDir(crashHour))); err != nil {
				t.Fatal(err)
			}
			for ; n < 25+tc.after; n++ {
				d.Append(row(n))
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			got := cindexes(t, root)
			slices.Sort(got)
			want := make([]int64, n)
			for i := range want {
				want[i] = int64(i)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("published cert_index %v, want 0..%d once each", got, n-1)
			}
			c := d.Counters()
			if c.Rows.Load() != int64(n) || c.OrphansRescued.Load() != 1 {
				t.Fatalf("counted %d rows written and %d rescues, want %d and 1", c.Rows.Load(), c.OrphansRescued.Load(), n)
			}
			if tmps := tmpFilesUnder(t, root); len(tmps) != 0 {
				t.Fatalf("temporary files left: %v", tmps)
			}
		})
	}
}

func tmpFilesUnder(t *testing.T, root string) []string {
	t.Helper()
	tmps, err := filepath.Glob(filepath.Join(root, "*", "*"+TmpSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return tmps
}
