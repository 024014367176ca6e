package export

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

// RecordName is the name of an exported hour's record. Hive-style readers
// (Spark, Trino, pyarrow datasets) skip names starting with an underscore,
// and globs for *.parquet do not match it.
const RecordName = "_export.json"

// RecordFormat is the record layout's version.
const RecordFormat = 1

// maxRecordBytes bounds how much of a record is read.
const maxRecordBytes = 16 << 20

// Record is what an exported hour holds and where it came from: written
// into the hour's directory of the export tree after its Parquet files.
type Record struct {
	Format       int       `json:"format"`
	Hour         string    `json:"hour"`        // 2006-01-02T15, UTC
	ManifestID   string    `json:"manifest_id"` // ID of the source hour's _manifest.json
	ExportedAt   time.Time `json:"exported_at"`
	Program      string    `json:"program_version"`
	ZstdLevel    int       `json:"zstd_level"`
	RowGroupRows int64     `json:"row_group_rows"`
	Rows         int64     `json:"rows"`
	Files        []File    `json:"files"`
}

// File is one Parquet file of an exported hour.
type File struct {
	Name      string `json:"name"`
	Source    string `json:"source"` // the sealed file it holds the rows of
	Rows      int64  `json:"rows"`
	RowGroups int    `json:"row_groups"`
	Bytes     int64  `json:"bytes"`
	SHA256    string `json:"sha256"` // hex, of the whole file
}

// ReadRecord reads the record of the hour directory dir of an export tree.
// A directory without one returns fs.ErrNotExist (wrapped).
func ReadRecord(fsys fs.FS, dir string) (*Record, error) {
	f, err := fsys.Open(path.Join(dir, RecordName))
	if err != nil {
		return nil, fmt.Errorf("export record of %s: %w", dir, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxRecordBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read export record of %s: %w", dir, err)
	}
	if len(b) > maxRecordBytes {
		return nil, fmt.Errorf("export record of %s: larger than %d bytes", dir, maxRecordBytes)
	}
	var r Record
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&r); err != nil {
		return nil, fmt.Errorf("export record of %s: %w", dir, err)
	}
	if r.Format != RecordFormat || r.ManifestID == "" {
		return nil, fmt.Errorf("export record of %s: format %d without a manifest ID, this program writes %d", dir, r.Format, RecordFormat)
	}
	return &r, nil
}

// writeRecord publishes r as dir/_export.json through the tree's durable
// helper.
func writeRecord(t *archive.Tree, dir string, r *Record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode export record: %w", err)
	}
	p, err := t.Create(dir, RecordName)
	if err != nil {
		return err
	}
	if _, err := p.Write(append(b, '\n')); err != nil {
		return errors.Join(err, p.Abort())
	}
	return p.Publish()
}

// current returns the record of hour directory dir if it says the hour
// was exported from the manifest id and its files are all there, at the
// sizes recorded.
func current(fsys fs.FS, dir, id string) (*Record, bool) {
	if fsys == nil {
		return nil, false
	}
	r, err := ReadRecord(fsys, dir)
	if err != nil || r.ManifestID != id {
		return nil, false
	}
	for _, f := range r.Files {
		fi, err := fs.Stat(fsys, path.Join(dir, f.Name))
		if err != nil || !fi.Mode().IsRegular() || fi.Size() != f.Bytes {
			return nil, false
		}
	}
	return r, true
}
