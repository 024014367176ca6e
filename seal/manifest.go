package seal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"time"

	"github.com/certstream-arrow/certstream-arrow/archive"
)

// ManifestName is the manifest's file name in a sealed hour's directory.
// Globs for *.feather do not match it, and Hive-style readers (Spark,
// Trino, pyarrow datasets) skip names starting with an underscore.
const ManifestName = "_manifest.json"

// ManifestFormat is the manifest layout's version.
const ManifestFormat = 1

// maxManifestBytes bounds how much of a manifest is read.
const maxManifestBytes = 64 << 20

// Manifest records what a sealed hour holds and how it was made. It is
// written next to the sealed files, after them, and read by inspect,
// verify and export.
type Manifest struct {
	Format        int       `json:"format"`
	ID            string    `json:"id"`       // random, new at each seal of the hour
	Replaces      string    `json:"replaces"` // ID of the manifest this seal replaced ("" at the first)
	Hour          string    `json:"hour"`     // 2006-01-02T15, UTC
	SealedAt      time.Time `json:"sealed_at"`
	Program       string    `json:"program_version"`
	SchemaVersion string    `json:"schema_version"`

	Files   []File   `json:"files"`   // the sealed files, in order
	Sources []Source `json:"sources"` // the files it was made from, now gone
	Rows    int64    `json:"rows"`    // rows in Files

	// What sealing did.
	DuplicatesRemoved  int64 `json:"duplicates_removed"`   // copies of a (log, index) already kept
	NeighbourDuplicate int64 `json:"neighbour_duplicates"` // rows whose (log, index) a neighbouring hour holds, left to it
	Repaired           int64 `json:"repaired"`             // damaged rows replaced by the entry fetched from its log
	DamagedKept        int64 `json:"damaged_kept"`         // damaged rows no repair was available for
	ConflictsResolved  int64 `json:"conflicts_resolved"`   // keys whose copies differed; the one fetched from the log was kept
	ConflictsKept      int64 `json:"conflicts_kept"`       // keys whose differing copies were all kept (no copy from the log)
	Conflicts          []Key `json:"conflicts,omitempty"`  // the first of those keys
	Unkeyed            int64 `json:"unkeyed"`              // rows without a log and index, kept as they are

	Logs []Log `json:"logs"` // per CT log, by source_url
}

// File is one sealed file of an hour.
type File struct {
	Name   string `json:"name"`
	Rows   int64  `json:"rows"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"` // hex, of the whole file
}

// Source is one file a seal read.
type Source struct {
	Name  string `json:"name"`
	Rows  int64  `json:"rows"`
	Bytes int64  `json:"bytes"`
}

// Key names one CT log entry.
type Key struct {
	Log   string `json:"log"`
	Index int64  `json:"index"`
}

// Log is what a sealed hour holds of one CT log.
type Log struct {
	URL   string `json:"source_url"`
	Rows  int64  `json:"rows"`
	First int64  `json:"first"` // lowest cert_index held
	Last  int64  `json:"last"`  // highest
	Holes int64  `json:"holes"` // indexes between First and Last not held
	// Held lists the cert_index ranges held, inclusive: neighbouring
	// hours' seals read it to drop the keys this hour already holds.
	Held              [][2]int64 `json:"held"`
	DuplicatesRemoved int64      `json:"duplicates_removed"`
	Repaired          int64      `json:"repaired"`
	DamagedKept       int64      `json:"damaged_kept"`
}

// HourName formats hour as manifests and hour directories spell it.
func HourName(hour time.Time) string { return hour.UTC().Format(archive.HourFormat) }

// HourDir returns the dataset directory of hour, relative to the root.
func HourDir(hour time.Time) string { return archive.HourPrefix + HourName(hour) }

// ReadManifest reads the manifest of the hour directory dir of fsys. A
// directory without one returns fs.ErrNotExist (wrapped).
func ReadManifest(fsys fs.FS, dir string) (*Manifest, error) {
	f, err := fsys.Open(path.Join(dir, ManifestName))
	if err != nil {
		return nil, fmt.Errorf("manifest of %s: %w", dir, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read manifest of %s: %w", dir, err)
	}
	if len(b) > maxManifestBytes {
		return nil, fmt.Errorf("manifest of %s: larger than %d bytes", dir, maxManifestBytes)
	}
	return decodeManifest(b, dir)
}

func decodeManifest(b []byte, dir string) (*Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest of %s: %w", dir, err)
	}
	switch {
	case m.Format != ManifestFormat:
		return nil, fmt.Errorf("manifest of %s: format %d, this program reads %d", dir, m.Format, ManifestFormat)
	case m.ID == "" || len(m.Files) == 0 && m.Rows != 0:
		return nil, fmt.Errorf("manifest of %s: incomplete", dir)
	}
	return &m, nil
}

// writeManifest publishes m as dir/_manifest.json through the tree's
// durable helper.
func writeManifest(t *archive.Tree, dir string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	p, err := t.Create(dir, ManifestName)
	if err != nil {
		return err
	}
	if _, err := p.Write(append(b, '\n')); err != nil {
		return errors.Join(err, p.Abort())
	}
	return p.Publish()
}

// Sealed reports whether name is a sealed file's name.
func Sealed(name string) bool {
	return len(name) > len(sealedPrefix) && name[:len(sealedPrefix)] == sealedPrefix && path.Ext(name) == archive.Ext
}

// sealedPrefix starts every sealed file's name.
const sealedPrefix = "sealed-"

// sealedName returns the name of the n-th (from 1) sealed file of the seal
// id of hour.
func sealedName(hour time.Time, id string, n int) string {
	return fmt.Sprintf("%s%s-%s-%03d%s", sealedPrefix, hour.UTC().Format("20060102T15"), id, n, archive.Ext)
}
