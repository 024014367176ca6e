package seal

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/schema"
	"github.com/certstream-arrow/certstream-arrow/stream"
)

// errCrash stops a seal dead at a staged step (tests).
var errCrash = errors.New("staged crash")

// Seal seals hour: its published files become one sealed file (or a few)
// and a manifest, switched in atomically (see the package comment). An
// hour with nothing new since its last seal returns its manifest as is.
// With DryRun, the manifest returned says what sealing would do and
// nothing is published. ErrBusy and ErrChanged leave the hour untouched;
// another error may leave work under .sealing, which the next Open (or
// Recover) clears.
func (s *Sealer) Seal(ctx context.Context, hour time.Time) (*Manifest, error) {
	hour = hour.UTC().Truncate(time.Hour)
	st, err := s.state(hour)
	switch {
	case err != nil:
		return nil, err
	case st.busy:
		return nil, fmt.Errorf("%s: %w", HourDir(hour), ErrBusy)
	case st.manifest != nil && !st.whole:
		return nil, fmt.Errorf("%s: its sealed files are not as its manifest lists them; run certstream-arrow verify", HourDir(hour))
	case st.manifest == nil && len(st.published) == 0:
		return nil, fmt.Errorf("%s: %w", HourDir(hour), ErrEmpty)
	case !st.unsealed():
		return st.manifest, nil
	}
	m, err := s.seal(ctx, hour, st)
	if err != nil && !errors.Is(err, errCrash) {
		err = errors.Join(err, s.tree.RemoveAll(work(hour)))
	}
	return m, err
}

func (s *Sealer) seal(ctx context.Context, hour time.Time, st hourState) (*Manifest, error) {
	id, err := newID()
	if err != nil {
		return nil, err
	}
	m := &Manifest{Format: ManifestFormat, ID: id, Hour: HourName(hour), Program: s.opts.Program, SchemaVersion: schema.Version}
	if st.manifest != nil {
		m.Replaces = st.manifest.ID
	}
	if err := s.tree.RemoveAll(work(hour)); err != nil {
		return nil, err
	}
	if err := s.tree.Mkdir(work(hour)); err != nil {
		return nil, err
	}
	out, err := s.compact(ctx, hour, id, st, m)
	if err != nil || s.opts.DryRun {
		if s.opts.DryRun && err == nil {
			err = s.tree.RemoveAll(work(hour))
		}
		return m, err
	}
	m.Files, m.Rows, m.SealedAt = out.files, out.total, s.opts.Now().UTC()
	if err := s.switchIn(hour, st, m); err != nil {
		return nil, err
	}
	return m, nil
}

// compact sorts, deduplicates and repairs the hour's rows into sealed files
// in the work directory, and fills m's sources and counts.
func (s *Sealer) compact(ctx context.Context, hour time.Time, id string, st hourState, m *Manifest) (*output, error) {
	sch := schema.New(s.opts.Program)
	rb := array.NewRecordBuilder(s.opts.Allocator, sch)
	defer rb.Release()
	srt := &sorter{tree: s.tree, dir: work(hour), schema: sch, mem: s.opts.Allocator, budget: s.opts.MemoryBudget,
		spillN: spillRows, spillB: spillBytes}
	defer srt.release()
	damaged, err := s.read(ctx, hour, st, srt, rb, m)
	if err != nil {
		return nil, err
	}
	if err := s.repair(ctx, damaged, srt, rb, sch); err != nil {
		return nil, err
	}
	nb, err := loadNeighbours(s.tree, hour)
	if err != nil {
		return nil, err
	}
	cs, err := srt.cursors(rb)
	if err != nil {
		return nil, err
	}
	out := &output{tree: s.tree, dir: work(hour), hour: hour, id: id, schema: sch, mem: s.opts.Allocator, rb: rb,
		batchRows: s.opts.BatchRows, batchBytes: s.opts.BatchBytes, fileBytes: s.opts.FileBytes, dryRun: s.opts.DryRun}
	st2 := newStats()
	mg := &merger{ctx: ctx, h: cs, neighbours: nb, out: out, stats: st2}
	if err := mg.run(); err != nil {
		out.abort()
		return nil, err
	}
	if err := out.close(); err != nil {
		out.abort()
		return nil, err
	}
	st2.fill(m)
	if s.opts.DryRun {
		m.Rows = out.total
	}
	return out, s.removeSpills(srt)
}

func (s *Sealer) removeSpills(srt *sorter) error {
	var errs []error
	for _, name := range srt.spills {
		errs = append(errs, s.tree.Remove(path.Join(srt.dir, name)))
	}
	return errors.Join(errs...)
}

// read feeds the hour's published files to the sorter, records them as
// m's sources, and returns the keys of damaged rows. A file that cannot be
// read stops the seal: sealing it away would lose what it holds.
func (s *Sealer) read(ctx context.Context, hour time.Time, st hourState, srt *sorter, rb *array.RecordBuilder, m *Manifest) ([]Key, error) {
	want := map[string]bool{}
	for _, e := range st.published {
		want[e.Name()] = true
	}
	var damaged []Key
	var src *Source
	bad, err := archive.Walk(s.tree.Name(), archive.Visitor{
		Hour: func(h time.Time) bool { return h.Equal(hour) },
		Skip: func(pf archive.PublishedFile) bool {
			if !want[path.Base(pf.Path)] {
				return true
			}
			m.Sources = append(m.Sources, Source{Name: path.Base(pf.Path)})
			src = &m.Sources[len(m.Sources)-1]
			return false
		},
		Batch: func(_ archive.PublishedFile, rec arrow.RecordBatch) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			src.Rows += rec.NumRows()
			v, err := bind(rec, rb)
			if err != nil {
				return err
			}
			damaged = appendDamaged(damaged, v)
			return srt.add(v)
		},
		File: func(pf archive.PublishedFile) { src.Bytes = pf.Size },
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", HourDir(hour), err)
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("read %s: %s cannot be read (%w); move it out of the hour before sealing", HourDir(hour), bad[0].Path, bad[0].Err)
	}
	if len(m.Sources) != len(want) {
		return nil, fmt.Errorf("%s: %w", HourDir(hour), ErrChanged)
	}
	return damaged, nil
}

// appendDamaged appends the keys of v's damaged rows.
func appendDamaged(keys []Key, v *view) []Key {
	for i := range int(v.rec.NumRows()) {
		if v.keyed(i) && v.damaged(i) {
			keys = append(keys, Key{Log: strings.Clone(v.url.Value(i)), Index: v.index.Value(i)})
		}
	}
	return keys
}

// repair asks the Repairer for the damaged rows' entries and adds the rows
// it fetches to the sorter, where they meet the damaged copies.
func (s *Sealer) repair(ctx context.Context, keys []Key, srt *sorter, rb *array.RecordBuilder, sch *arrow.Schema) error {
	if s.opts.Repairer == nil || s.opts.DryRun || len(keys) == 0 {
		return nil
	}
	slices.SortFunc(keys, func(a, b Key) int {
		return cmp.Or(strings.Compare(a.Log, b.Log), cmp.Compare(a.Index, b.Index))
	})
	keys = slices.CompactFunc(keys, func(a, b Key) bool { return a == b })
	b := schema.NewBuilder(s.opts.Allocator, sch)
	defer b.Release()
	var addErr error
	flush := func() error {
		if b.Len() == 0 {
			return nil
		}
		rec := b.NewRecordBatch()
		defer rec.Release()
		v, err := bind(rec, rb)
		if err == nil {
			err = srt.add(v)
		}
		addErr = err
		return addErr
	}
	err := s.opts.Repairer.Repair(ctx, keys, func(_ Key, u *stream.Update) error {
		u.Provenance = stream.FromBackfill
		b.Append(u)
		if b.Len() >= spillRows {
			return flush()
		}
		return nil
	})
	if addErr != nil {
		return addErr
	}
	if err := errors.Join(flush(), ctx.Err()); err != nil {
		return err
	}
	if err != nil {
		s.opts.Logger.Warn("some damaged rows could not be repaired; they stay as the feed sent them", "err", err)
	}
	return nil
}
