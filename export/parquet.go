package export

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/seal"
)

// Ext ends the name of every Parquet file of an export.
const Ext = ".parquet"

// partPrefix starts every Parquet file's name.
const partPrefix = "part-"

// Keys of the metadata written into every Parquet file, besides the Arrow
// schema's own (certstream_arrow.schema_version, .program_version).
const (
	MetaManifestID = "certstream_arrow.manifest_id"
	MetaSealedFile = "certstream_arrow.sealed_file"
)

// dictionaryColumns are the columns written with a dictionary: few
// distinct values per row group. The others are near-unique (digests,
// serials, names, as_der, times to the microsecond), where a dictionary
// only costs (measured: 133.4 B/row with a dictionary on every column,
// 118.4 with these, 123.3 with none). A dictionary that outgrows its page
// limit falls back to plain encoding by itself.
var dictionaryColumns = []string{
	"update_type", "source_url", "source_name", "subject_o", "issuer", "issuer_cn", "issuer_o",
	"not_before", "not_after", "signature_algorithm", "chain_subjects.list.element", "provenance",
}

// sliceRows is how many rows are handed to the Parquet writer at a time,
// so that a row group is cut within this many rows of RowGroupBytes
// (8192 full rows are about 6 MB).
const sliceRows = 8192

// PartName returns the name of the Parquet file holding the rows of the
// sealed file sealed: sealed-20261124T13-5be0a1c2-001.feather becomes
// part-20261124T13-5be0a1c2-001.parquet.
func PartName(sealed string) string {
	s := strings.TrimSuffix(strings.TrimPrefix(sealed, "sealed-"), archive.Ext)
	return partPrefix + s + Ext
}

// writerProperties returns the Parquet settings of every file.
func (e *Exporter) writerProperties() (*parquet.WriterProperties, pqarrow.ArrowWriterProperties) {
	opts := []parquet.WriterProperty{
		parquet.WithAllocator(e.opts.Allocator),
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithCompressionLevel(e.opts.ZstdLevel),
		parquet.WithMaxRowGroupLength(e.opts.RowGroupRows),
		parquet.WithDictionaryDefault(false),
		parquet.WithStats(true),
		parquet.WithStatsFor("as_der", false), // min and max of certificates prune nothing
	}
	for _, c := range dictionaryColumns {
		opts = append(opts, parquet.WithDictionaryFor(c, true))
	}
	return parquet.NewWriterProperties(opts...),
		pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema(), pqarrow.WithAllocator(e.opts.Allocator))
}

// copier copies the sealed files of one hour, batch by batch, into one
// Parquet file each, in the work directory dir.
type copier struct {
	e        *Exporter
	dir      string
	manifest *seal.Manifest
	cur      *part            // the file being written
	rows     map[string]int64 // rows read, by sealed file
	files    []File           // published
}

// write appends a batch of the sealed file source, finishing the previous
// file first if it was another.
func (c *copier) write(source string, b arrow.RecordBatch) error {
	if c.cur != nil && c.cur.source != source {
		if err := c.finish(); err != nil {
			return err
		}
	}
	if c.cur == nil {
		p, err := c.e.newPart(c.dir, source, b.Schema(), c.manifest.ID)
		if err != nil {
			return err
		}
		c.cur = p
	}
	c.rows[source] += b.NumRows()
	return c.cur.write(b, c.e.opts.sliceRows, c.e.opts.RowGroupBytes)
}

// finish publishes the file being written, if any.
func (c *copier) finish() error {
	if c.cur == nil {
		return nil
	}
	f, err := c.cur.publish()
	c.cur = nil
	if err != nil {
		return err
	}
	c.files = append(c.files, f)
	return c.e.opts.crash("part")
}

// abort drops the file being written, if any.
func (c *copier) abort() {
	if c.cur != nil {
		c.cur.abort()
		c.cur = nil
	}
}

// check compares the rows read with the manifest, file by file: a sealed
// file replaced by a new seal while the hour was read is missed whole.
func (c *copier) check() error {
	for _, f := range c.manifest.Files {
		if got := c.rows[f.Name]; got != f.Rows {
			return fmt.Errorf("read %d rows of %s, its manifest says %d (was the hour sealed again meanwhile? run the export again)",
				got, f.Name, f.Rows)
		}
	}
	return nil
}

// part is one Parquet file being written under its temporary name.
type part struct {
	source string
	p      *archive.Pending
	w      *pqarrow.FileWriter
	cut    bool // the row group is full: start another before the next rows
}

func (e *Exporter) newPart(dir, source string, sch *arrow.Schema, manifestID string) (*part, error) {
	p, err := e.tree.Create(dir, PartName(source))
	if err != nil {
		return nil, err
	}
	props, aprops := e.writerProperties()
	w, err := pqarrow.NewFileWriter(sch, p, props, aprops)
	if err == nil {
		err = errors.Join(w.AppendKeyValueMetadata(MetaManifestID, manifestID), w.AppendKeyValueMetadata(MetaSealedFile, source))
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("parquet writer for %s: %w", source, err), p.Abort())
	}
	return &part{source: source, p: p, w: w}, nil
}

// write appends the batch b, slice rows at a time, into buffered row
// groups of at most RowGroupRows rows (the writer cuts those itself) and
// about maxBytes compressed bytes in finished pages.
func (pt *part) write(b arrow.RecordBatch, slice, maxBytes int64) (err error) {
	defer func() {
		if p := recover(); p != nil { // arrow-go's writer panics on some invalid input
			err = fmt.Errorf("write %s: %v", pt.p.Name(), p)
		}
	}()
	for off := int64(0); off < b.NumRows(); off += slice {
		if pt.cut {
			if err := pt.w.NewBufferedRowGroupChecked(); err != nil {
				return fmt.Errorf("write %s: %w", pt.p.Name(), err)
			}
			pt.cut = false
		}
		s := b.NewSlice(off, min(off+slice, b.NumRows()))
		err := pt.w.WriteBuffered(s)
		s.Release()
		if err != nil {
			return fmt.Errorf("write %s: %w", pt.p.Name(), err)
		}
		pt.cut = pt.w.RowGroupTotalCompressedBytes() >= maxBytes
	}
	return nil
}

// publish writes the file's footer and publishes it.
func (pt *part) publish() (f File, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = errors.Join(fmt.Errorf("finish %s: %v", pt.p.Name(), p), pt.p.Abort())
		}
	}()
	if err := pt.w.Close(); err != nil {
		return File{}, errors.Join(fmt.Errorf("finish %s: %w", pt.p.Name(), err), pt.p.Abort())
	}
	md, err := pt.w.FileMetadata()
	if err != nil {
		return File{}, errors.Join(fmt.Errorf("finish %s: %w", pt.p.Name(), err), pt.p.Abort())
	}
	f = File{Name: pt.p.Name(), Source: pt.source, Rows: md.NumRows, RowGroups: md.NumRowGroups(),
		Bytes: pt.p.Size(), SHA256: hex.EncodeToString(pt.p.SHA256())}
	return f, pt.p.Publish()
}

// abort drops the file.
func (pt *part) abort() {
	defer func() { _ = recover() }() // a writer that panicked may panic again on Close
	_ = pt.p.Abort()
	_ = pt.w.Close() // frees the writer's buffers; its bytes go to a file already removed
}
