package archive

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"
)

// Names of the layout.
const (
	HourPrefix = "hour="         // partition directory prefix
	HourFormat = "2006-01-02T15" // partition directory time, UTC
	Ext        = ".feather"      // published files
	TmpSuffix  = ".tmp"          // files being written, after Ext
	salvageTmp = ".salvage" + TmpSuffix
	nameTime   = "20060102T150405Z"
	lockPrefix = ".collector-"
	lockSuffix = ".lock"
)

// validCollector is what a collector name may be: it appears in file names
// and lock names, so it is short and plain.
var validCollector = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`)

// CheckCollector returns an error unless name is a valid collector name.
func CheckCollector(name string) error {
	if !validCollector.MatchString(name) {
		return fmt.Errorf("collector %q: want 1 to 32 lower-case letters, digits and inner dashes", name)
	}
	return nil
}

// DefaultCollector derives a collector name from the host name, so that
// two archivers started by mistake on one host with one root collide.
func DefaultCollector() string {
	host, _ := os.Hostname()
	host, _, _ = strings.Cut(strings.ToLower(host), ".")
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, host)
	name = strings.Trim(name[:min(len(name), 32)], "-")
	if CheckCollector(name) != nil {
		return "collector"
	}
	return name
}

// hourDir returns the partition directory of hour.
func hourDir(hour time.Time) string {
	return HourPrefix + hour.UTC().Format(HourFormat)
}

// isHourDir reports whether name is a partition directory name.
func isHourDir(name string) bool {
	s, ok := strings.CutPrefix(name, HourPrefix)
	if !ok {
		return false
	}
	_, err := time.Parse(HourFormat, s)
	return err == nil
}

// fileName returns a published file's base name: open time, collector,
// run id (random per start) and sequence number.
func fileName(opened time.Time, collector, run string, seq int) string {
	return fmt.Sprintf("%s-%s-%s-%06d%s", opened.UTC().Format(nameTime), collector, run, seq, Ext)
}

func tmpName(final string) string     { return "." + final + TmpSuffix }
func salvageName(final string) string { return "." + final + salvageTmp }
func lockName(collector string) string {
	return lockPrefix + collector + lockSuffix
}

// parseTmp recognises a temporary file left by a writer and returns the
// final name it was meant to get and the collector that wrote it.
func parseTmp(base string) (final, collector string, ok bool) {
	if !strings.HasPrefix(base, ".") || !strings.HasSuffix(base, Ext+TmpSuffix) || strings.HasSuffix(base, salvageTmp) {
		return "", "", false
	}
	final = strings.TrimSuffix(base[1:], TmpSuffix)
	collector, ok = collectorOf(final)
	return final, collector, ok
}

// collectorOf extracts the collector from a file name made by fileName.
func collectorOf(final string) (string, bool) {
	const head, tail = len(nameTime) + 1, len("-01234567-000001") + len(Ext)
	if len(final) <= head+tail {
		return "", false
	}
	c := final[head : len(final)-tail]
	return c, CheckCollector(c) == nil
}
