package seal

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/certstream-arrow/certstream-arrow/archive"
)

// switchIn publishes the finished work directory as the hour's content:
// manifest, rename to .ready, a last look that the hour did not change,
// the exchange, then the old files' removal.
func (s *Sealer) switchIn(hour time.Time, before hourState, m *Manifest) error {
	if err := s.opts.crash("files"); err != nil {
		return err
	}
	if err := writeManifest(s.tree, work(hour), m); err != nil {
		return err
	}
	if err := s.opts.crash("manifest"); err != nil {
		return err
	}
	if err := s.tree.Rename(workDir, path.Base(work(hour)), path.Base(ready(hour))); err != nil {
		return err
	}
	if err := s.opts.crash("ready"); err != nil {
		return err
	}
	now, err := s.state(hour)
	if err != nil || now.busy || !sameFiles(before.published, now.published) {
		return errors.Join(err, fmt.Errorf("%s: %w", HourDir(hour), ErrChanged), s.tree.RemoveAll(ready(hour)))
	}
	if err := s.tree.Exchange(ready(hour), HourDir(hour)); err != nil {
		return errors.Join(err, s.tree.RemoveAll(ready(hour)))
	}
	if err := s.opts.crash("exchanged"); err != nil {
		return err
	}
	return s.retire(hour, m)
}

func sameFiles(a, b []fs.DirEntry) bool {
	return slices.EqualFunc(a, b, func(x, y fs.DirEntry) bool { return x.Name() == y.Name() })
}

// retire empties the .ready directory of an exchanged hour: files the
// seal read are removed; anything else (a file published or begun in the
// old directory after the seal read it, a set-aside file) is moved into
// the hour, where it stays visible and the next seal takes it in.
func (s *Sealer) retire(hour time.Time, m *Manifest) error {
	old := ready(hour)
	ents, err := s.tree.ReadDir(old)
	if err != nil {
		return fmt.Errorf("list %s: %w", old, err)
	}
	for _, e := range ents {
		name := e.Name()
		switch {
		case name == ManifestName || slices.ContainsFunc(m.Sources, func(src Source) bool { return src.Name == name }):
		default:
			if err := s.tree.Move(path.Join(old, name), path.Join(HourDir(hour), name)); err != nil {
				return err
			}
			s.opts.Logger.Warn("a file reached an hour while it was being sealed; kept beside the sealed file",
				"hour", HourName(hour), "file", name)
		}
		if err := s.opts.crash("retire"); err != nil {
			return err
		}
	}
	return s.tree.RemoveAll(old)
}

// Recover finishes or undoes what an interrupted seal left under .sealing:
// a work directory (.tmp) is removed; a .ready directory that was never
// exchanged is removed (the hour still holds its files); one that was
// exchanged is retired. The two are told apart by the manifests: after the
// exchange, the hour's manifest is the new one, and it replaces the one in
// .ready (none, at an hour's first seal).
func (s *Sealer) Recover() error {
	ents, err := s.tree.ReadDir(workDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list %s: %w", workDir, err)
	}
	for _, e := range ents {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, tmpExt):
			err = s.tree.RemoveAll(path.Join(workDir, name))
		case strings.HasSuffix(name, readyExt):
			err = s.recoverReady(name)
		default:
			s.opts.Logger.Warn("unknown entry in the seal work directory, left alone", "entry", path.Join(workDir, name))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Sealer) recoverReady(name string) error {
	hour, err := time.Parse(archive.HourPrefix+archive.HourFormat+readyExt, name)
	if err != nil {
		s.opts.Logger.Warn("unknown entry in the seal work directory, left alone", "entry", path.Join(workDir, name))
		return nil
	}
	cur, err := ReadManifest(s.tree.FS(), HourDir(hour))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	prev, err := ReadManifest(s.tree.FS(), ready(hour))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	prevID := ""
	if prev != nil {
		prevID = prev.ID
	}
	if cur != nil && cur.Replaces == prevID && (prev == nil || cur.ID != prev.ID) {
		s.opts.Logger.Info("finishing an interrupted seal", "hour", HourName(hour))
		return s.retire(hour, cur)
	}
	s.opts.Logger.Info("dropping an interrupted seal; the hour keeps its files", "hour", HourName(hour))
	return s.tree.RemoveAll(ready(hour))
}
