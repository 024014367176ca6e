package seal

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/archive/archivetest"
	"github.com/certstream-arrow/certstream-arrow/schema"
	"github.com/certstream-arrow/certstream-arrow/stream"
	"github.com/certstream-arrow/certstream-arrow/stream/streamgen"
)

var hour0 = time.Date(2026, 11, 24, 13, 0, 0, 0, time.UTC)

// feed is what one collector receives: generated messages i in [from, to),
// except those skip drops, each received at at(i).
type feed struct {
	collector  string
	from, to   int
	skip       func(i int) bool
	at         func(i int) time.Time
	provenance stream.Provenance
	damage     func(i int) bool // send row i damaged (no digests, no DER)
}

// writeFeeds archives the feeds' rows as their collectors would, and
// returns the messages.
func writeFeeds(t testing.TB, root string, kind streamgen.Kind, n int, feeds ...feed) [][]byte {
	t.Helper()
	msgs := streamgen.New(streamgen.Options{Kind: kind, Seed: 7}).Take(n)
	for _, f := range feeds {
		now := f.at(f.from)
		ds, err := archive.Open(archive.Options{Root: root, Schema: schema.New("test"), Collector: f.collector,
			BatchRows: 100, PartitionBy: archive.ByReceived, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		var dec stream.Decoder
		for i := f.from; i < f.to; i++ {
			if f.skip != nil && f.skip(i) {
				continue
			}
			u, err := dec.Decode(msgs[i])
			if err != nil {
				t.Fatal(err)
			}
			now = f.at(i)
			u.ReceivedAt, u.Provenance = now, f.provenance
			if f.damage != nil && f.damage(i) {
				u.SHA1, u.SHA256, u.DER, u.Damaged = nil, nil, nil, true
			}
			ds.Append(u)
			ds.Tick(now)
		}
		if err := ds.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return msgs
}

func within(h time.Time) func(int) time.Time {
	return func(i int) time.Time { return h.Add(time.Duration(i) * 100 * time.Millisecond) }
}

type key struct {
	log   string
	index int64
}

// readKeys reads every published row under root the way a reader globbing
// hour=*/*.feather does (archive.Walk), and returns how many times each key
// appears and the paths of the files read.
func readKeys(t testing.TB, root string) (map[key]int, []string) {
	t.Helper()
	keys := map[key]int{}
	var paths []string
	bad, err := archive.Walk(root, archive.Visitor{
		File: func(pf archive.PublishedFile) { paths = append(paths, pf.Path) },
		Batch: func(_ archive.PublishedFile, rec arrow.RecordBatch) error {
			v, err := bindKeys(rec)
			if err != nil {
				return err
			}
			for i := range int(rec.NumRows()) {
				keys[key{strings.Clone(v.url.Value(i)), v.index.Value(i)}]++
			}
			return nil
		},
	})
	if err != nil || len(bad) > 0 {
		t.Fatalf("read %s: %v %v", root, err, bad)
	}
	return keys, paths
}

func assertOnce(t testing.TB, root string, want map[key]int) []string {
	t.Helper()
	got, files := readKeys(t, root)
	for k := range want {
		if got[k] != 1 {
			t.Errorf("%v held %d times, want once", k, got[k])
		}
	}
	for k := range got {
		if want[k] == 0 {
			t.Errorf("%v held, never sent", k)
		}
	}
	return files
}

func sealer(t testing.TB, root string, mod func(*Options)) *Sealer {
	t.Helper()
	o := Options{Root: root, Program: "test", Now: func() time.Time { return hour0.Add(24 * time.Hour) }}
	if mod != nil {
		mod(&o)
	}
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// twoCollectorsAndBackfill writes hour0 from two overlapping collectors
// with losses and a backfill of what both lost; collector b2 also receives
// neighbourKeys of their rows just after the hour (a neighbouring hour's
// duplicates).
func twoCollectorsAndBackfill(t testing.TB, root string, kind streamgen.Kind) map[key]int {
	t.Helper()
	const n = 600
	lostA := func(i int) bool { return i%7 == 0 }
	lostB := func(i int) bool { return i%5 == 0 }
	msgs := writeFeeds(t, root, kind, n,
		feed{collector: "a", from: 0, to: 400, skip: lostA, at: within(hour0)},
		feed{collector: "b", from: 200, to: n, skip: lostB, at: within(hour0.Add(5 * time.Minute))},
		feed{collector: "b2", from: 300, to: 300 + neighbourKeys, at: within(hour0.Add(time.Hour))},
		feed{collector: "backfill", from: 0, to: n, skip: func(i int) bool {
			return !(i < 200 && lostA(i) || i >= 400 && lostB(i) || i >= 200 && i < 400 && lostA(i) && lostB(i)) && i%50 != 1
		}, at: within(hour0.Add(30 * time.Minute)), provenance: stream.FromBackfill},
	)
	want := map[key]int{}
	var dec stream.Decoder
	for _, m := range msgs {
		u, _ := dec.Decode(m)
		want[key{string(u.SourceURL), u.CertIndex}] = 1
	}
	return want
}

// neighbourKeys is how many of hour0's keys b2 also receives in hour0+1.
const neighbourKeys = 20

func TestSealTwoCollectorsAndBackfill(t *testing.T) {
	for _, budget := range []int64{DefaultMemoryBudget, 64 << 10} { // in memory; spilled in many runs
		t.Run(fmt.Sprint(budget), func(t *testing.T) {
			root := t.TempDir()
			want := twoCollectorsAndBackfill(t, root, streamgen.Full)
			_, before := readKeys(t, root)
			s := sealer(t, root, func(o *Options) { o.MemoryBudget = budget; o.BatchRows = 100 })
			due, err := s.Due()
			if err != nil || !slices.Equal(due, []time.Time{hour0, hour0.Add(time.Hour)}) {
				t.Fatalf("Due = %v, %v", due, err)
			}
			for _, h := range due {
				if _, err := s.Seal(t.Context(), h); err != nil {
					t.Fatal(err)
				}
			}
			if paths := assertOnce(t, root, want); len(paths) != 2 {
				t.Fatalf("%d files after sealing, want one per hour: %v", len(paths), paths)
			}
			files := archivetest.ReadDataset(t, root)
			checkSorted(t, files[0])
			m, err := ReadManifest(os.DirFS(root), HourDir(hour0))
			if err != nil {
				t.Fatal(err)
			}
			if m.Rows != int64(len(files[0].Rows)) || len(m.Sources) != len(before)-1 || m.DuplicatesRemoved == 0 || m.NeighbourDuplicate < neighbourKeys || m.Rows != 600-neighbourKeys {
				t.Errorf("manifest: rows %d (file %d), %d sources (files %d), %d duplicates, %d neighbour duplicates",
					m.Rows, len(files[0].Rows), len(m.Sources), len(before)-1, m.DuplicatesRemoved, m.NeighbourDuplicate)
			}
			m1, _ := ReadManifest(os.DirFS(root), HourDir(hour0.Add(time.Hour)))
			// Sealed first, hour0 left the keys b2 received after the hour
			// to hour1, which keeps them.
			if m1.NeighbourDuplicate != 0 || m1.Rows != neighbourKeys {
				t.Errorf("next hour: %d rows, %d neighbour duplicates, want %d and 0", m1.Rows, m1.NeighbourDuplicate, neighbourKeys)
			}
			again, err := s.Due()
			if err != nil || len(again) != 0 {
				t.Errorf("Due after sealing = %v, %v", again, err)
			}
			if ents, _ := os.ReadDir(filepath.Join(root, workDir)); len(ents) != 0 {
				t.Errorf("work left: %v", ents)
			}
		})
	}
}

// checkSorted checks a sealed file's rows are sorted by (source_url,
// cert_index) with each key once.
func checkSorted(t testing.TB, f archivetest.File) {
	t.Helper()
	for i := 1; i < len(f.Rows); i++ {
		a, b := f.Rows[i-1], f.Rows[i]
		au, bu := a["source_url"].(string), b["source_url"].(string)
		if au > bu || au == bu && a["cert_index"].(int64) >= b["cert_index"].(int64) {
			t.Fatalf("%s: row %d (%s %d) after row %d (%s %d)", f.Path, i, bu, b["cert_index"], i-1, au, a["cert_index"])
		}
	}
}

func TestSealStagedCrashes(t *testing.T) {
	for _, step := range []string{"files", "manifest", "ready", "exchanged", "retire"} {
		t.Run(step, func(t *testing.T) {
			root := t.TempDir()
			want := twoCollectorsAndBackfill(t, root, streamgen.Lite)
			before, _ := readKeys(t, root)
			s := sealer(t, root, func(o *Options) {
				o.crash = func(at string) error {
					if at == step {
						return errCrash
					}
					return nil
				}
			})
			if _, err := s.Seal(t.Context(), hour0); !errors.Is(err, errCrash) {
				t.Fatalf("Seal = %v, want the staged crash", err)
			}
			// What a reader sees right after the crash, and once the
			// next Sealer has recovered: the hour as it was, or sealed.
			sameAsBeforeOrOnce(t, root, before, want)
			s.Close()
			s2 := sealer(t, root, nil)
			sameAsBeforeOrOnce(t, root, before, want)
			for _, h := range []time.Time{hour0, hour0.Add(time.Hour)} {
				if _, err := s2.Seal(t.Context(), h); err != nil {
					t.Fatal(err)
				}
			}
			if files := assertOnce(t, root, want); len(files) != 2 {
				t.Errorf("%d files after sealing, want 2", len(files))
			}
			if ents, _ := os.ReadDir(filepath.Join(root, workDir)); len(ents) != 0 {
				t.Errorf("work left: %v", ents)
			}
		})
	}
}

func sameAsBeforeOrOnce(t testing.TB, root string, before, once map[key]int) {
	t.Helper()
	got, _ := readKeys(t, root)
	if !maps.Equal(got, before) && !maps.Equal(got, once) {
		t.Fatalf("readers see %d keys, %d rows: neither the hour as it was (%d rows) nor each key once (%d)",
			len(got), sum(got), sum(before), len(once))
	}
}

func sum(m map[key]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func TestSealIdempotentAndReseal(t *testing.T) {
	root := t.TempDir()
	want := twoCollectorsAndBackfill(t, root, streamgen.Lite)
	s := sealer(t, root, nil)
	m1, err := s.Seal(t.Context(), hour0)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := s.Seal(t.Context(), hour0)
	if err != nil || m2.ID != m1.ID {
		t.Fatalf("second seal made %v (%v), want the first manifest", m2.ID, err)
	}
	// A backfill later adds rows to the sealed hour: a reseal takes them in.
	writeFeeds(t, root, streamgen.Lite, 601, feed{collector: "late", from: 600, to: 601, at: within(hour0.Add(50 * time.Minute))})
	msgs := streamgen.New(streamgen.Options{Kind: streamgen.Lite, Seed: 7}).Take(601)
	var dec stream.Decoder
	u, _ := dec.Decode(msgs[600])
	want[key{string(u.SourceURL), u.CertIndex}] = 1
	due, _ := s.Due()
	if !slices.Contains(due, hour0) {
		t.Fatalf("hour with a new file not due: %v", due)
	}
	m3, err := s.Seal(t.Context(), hour0)
	if err != nil {
		t.Fatal(err)
	}
	if m3.Replaces != m1.ID || m3.Rows != m1.Rows+1 {
		t.Errorf("reseal: replaces %q rows %d, want %q and %d", m3.Replaces, m3.Rows, m1.ID, m1.Rows+1)
	}
	s.Seal(t.Context(), hour0.Add(time.Hour))
	assertOnce(t, root, want)
}

func TestSealDryRunWritesNothing(t *testing.T) {
	root := t.TempDir()
	twoCollectorsAndBackfill(t, root, streamgen.Lite)
	before := archivetest.Published(t, root)
	s := sealer(t, root, func(o *Options) { o.DryRun = true })
	m, err := s.Seal(t.Context(), hour0)
	if err != nil {
		t.Fatal(err)
	}
	if after := archivetest.Published(t, root); !slices.Equal(before, after) {
		t.Errorf("dry run changed the files")
	}
	if m.Rows == 0 || m.DuplicatesRemoved == 0 || len(m.Files) != 0 {
		t.Errorf("dry run manifest: %d rows, %d duplicates, %d files", m.Rows, m.DuplicatesRemoved, len(m.Files))
	}
	if _, err := os.Stat(filepath.Join(root, HourDir(hour0), ManifestName)); err == nil {
		t.Error("dry run wrote a manifest")
	}
}

func TestSealRefusesBusyAndLocked(t *testing.T) {
	root := t.TempDir()
	twoCollectorsAndBackfill(t, root, streamgen.Lite)
	tmp := filepath.Join(root, HourDir(hour0), ".20261124T130000Z-c-01234567-000001.feather.tmp")
	os.WriteFile(tmp, nil, 0o644)
	s := sealer(t, root, nil)
	if _, err := s.Seal(t.Context(), hour0); !errors.Is(err, ErrBusy) {
		t.Errorf("Seal of an hour being written = %v, want ErrBusy", err)
	}
	if due, _ := s.Due(); slices.Contains(due, hour0) {
		t.Errorf("busy hour due")
	}
	os.Mkdir(filepath.Join(root, HourDir(hour0.Add(5*time.Hour))), 0o755)
	if m, err := s.Seal(t.Context(), hour0.Add(5*time.Hour)); m != nil || !errors.Is(err, ErrEmpty) {
		t.Errorf("Seal of an empty hour = %v, %v; want ErrEmpty", m, err)
	}
	if _, err := Open(Options{Root: root}); !errors.Is(err, archive.ErrLocked) || !strings.Contains(err.Error(), "seal") {
		t.Errorf("second Sealer = %v, want ErrLocked", err)
	}
}
