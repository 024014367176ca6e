package seal

import (
	"context"
	"slices"
	"testing"

	"github.com/certstream-arrow/certstream-arrow/archive/archivetest"
	"github.com/certstream-arrow/certstream-arrow/stream"
	"github.com/certstream-arrow/certstream-arrow/stream/streamgen"
)

// logRepairer serves entries from the generated messages, as a log would.
type logRepairer struct {
	msgs  map[key][]byte
	asked []Key
}

func (r *logRepairer) Repair(_ context.Context, keys []Key, emit func(Key, *stream.Update) error) error {
	r.asked = keys
	var dec stream.Decoder
	for _, k := range keys {
		m, ok := r.msgs[key{k.Log, k.Index}]
		if !ok {
			continue
		}
		u, _ := dec.Decode(m)
		if err := emit(k, u); err != nil {
			return err
		}
	}
	return nil
}

func TestSealRepairsDamagedRows(t *testing.T) {
	root := t.TempDir()
	damaged := func(i int) bool { return i%10 == 3 }
	msgs := writeFeeds(t, root, streamgen.Lite, 500,
		feed{collector: "a", from: 0, to: 500, at: within(hour0), damage: damaged})
	rep := &logRepairer{msgs: map[key][]byte{}}
	var dec stream.Decoder
	for i, m := range msgs {
		if i == 13 {
			continue // the log cannot serve this one: its row stays damaged
		}
		u, _ := dec.Decode(m)
		rep.msgs[key{string(u.SourceURL), u.CertIndex}] = m
	}
	s := sealer(t, root, func(o *Options) { o.Repairer = rep })
	m, err := s.Seal(t.Context(), hour0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.asked) != 50 || !slices.IsSortedFunc(rep.asked, func(a, b Key) int {
		return compareRefs(ref{url: a.Log, index: a.Index, keyed: true}, ref{url: b.Log, index: b.Index, keyed: true})
	}) {
		t.Errorf("asked for %d keys (sorted: %v), want the 50 damaged ones", len(rep.asked), rep.asked)
	}
	if m.Repaired != 49 || m.DamagedKept != 1 || m.Rows != 500 {
		t.Errorf("manifest: %d repaired, %d damaged kept, %d rows; want 49, 1, 500", m.Repaired, m.DamagedKept, m.Rows)
	}
	files := archivetest.ReadDataset(t, root)
	var backfilled, noDigest int
	for _, r := range archivetest.AllRows(files) {
		if r["provenance"] == "backfill" {
			backfilled++
		}
		if r["sha256"] == nil {
			noDigest++
		}
	}
	if backfilled != 49 || noDigest != 1 {
		t.Errorf("%d rows from the log, %d without a digest; want 49 and 1", backfilled, noDigest)
	}
}
