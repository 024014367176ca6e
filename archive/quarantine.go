package archive

import (
	"fmt"
	"path"
)

// badSuffix ends the name of a temporary file set aside because salvage
// cannot read it: .NAME.feather.bad, next to where NAME.feather would be.
// It starts with a dot and does not end in .feather or .feather.tmp, so no
// dataset reader, no Walk and no salvage pass ever picks it up again.
const badSuffix = ".bad"

// badName returns the name a temporary file meant to become final is set
// aside under.
func badName(final string) string { return "." + final + badSuffix }

// quarantine renames dir/tmp aside to badName(final) without replacing
// anything, so its bytes stay for inspection but are never read again, and
// counts and logs it with why.
func (s *salvager) quarantine(dir, tmp, final, why string, sc *scan) error {
	if err := s.fsys.rename(dir, tmp, badName(final)); err != nil {
		return fmt.Errorf("set aside %s: %w", path.Join(dir, tmp), err)
	}
	s.report.Quarantined++
	s.log.Warn("temporary file cannot be salvaged; set aside", "file", path.Join(dir, badName(final)),
		"reason", why, "bytes", sc.size, "rows_published", sc.rows)
	return nil
}

// reason says in a few words why sc's file is corrupt.
func (sc *scan) reason() string {
	if sc.badMagic {
		return "not an Arrow file"
	}
	return sc.readErr.Error()
}
