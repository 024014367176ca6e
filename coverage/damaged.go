package coverage

import (
	"encoding/hex"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/certstream-arrow/certstream-arrow/stream"
)

// Damaged reports whether a certificate row, given its fingerprint (SHA-1),
// sha256 and as_der values (nil for null), does not identify its
// certificate:
//
//   - either digest is the digest of empty input (files written before the
//     decoder stored such digests as null), or
//   - neither digest is present and as_der is null or empty (files written
//     after: the same row, with the empty digests stored as null).
//
// One valid digest is enough: lite feeds send digests without DER, and
// those rows are whole. Damaged rows still count as held (backfill never
// writes a second row for a key the dataset holds); sealing repairs them
// from the log.
func Damaged(sha1Sum, sha256Sum, der []byte) bool {
	if stream.IsEmptyDigest(sha1Sum, sha256Sum) {
		return true
	}
	return len(sha1Sum) == 0 && len(sha256Sum) == 0 && len(der) == 0
}

// damageColumns reads the three columns Damaged needs from a batch of
// either schema version: digests are fixed_size_binary in version 2 and
// colon-hex text in version 1.
type damageColumns struct {
	sha1, sha256 func(int) []byte
	der          binaryColumn
}

// binaryColumn is a binary column with 32- or 64-bit offsets, or a
// fixed_size_binary one.
type binaryColumn interface {
	arrow.Array
	Value(int) []byte
}

// textColumn is a string column with 32- or 64-bit offsets.
type textColumn interface {
	arrow.Array
	Value(int) string
}

// newDamageColumns returns the readers, or false when rec lacks a column.
func newDamageColumns(rec arrow.RecordBatch) (damageColumns, bool) {
	var d damageColumns
	d.sha1 = digestReader(column(rec, "fingerprint"))
	d.sha256 = digestReader(column(rec, "sha256"))
	d.der, _ = column(rec, "as_der").(binaryColumn)
	return d, d.sha1 != nil && d.sha256 != nil && d.der != nil
}

// damaged applies Damaged to row i.
func (d damageColumns) damaged(i int) bool {
	var der []byte
	if d.der.IsValid(i) {
		der = d.der.Value(i)
	}
	return Damaged(d.sha1(i), d.sha256(i), der)
}

// digestReader returns a function giving row i's digest, nil when null, or
// nil when a is not a digest column.
func digestReader(a arrow.Array) func(int) []byte {
	switch c := a.(type) {
	case *array.FixedSizeBinary:
		return func(i int) []byte {
			if c.IsNull(i) {
				return nil
			}
			return c.Value(i)
		}
	case textColumn: // schema 1: colon-hex text
		return func(i int) []byte {
			if c.IsNull(i) {
				return nil
			}
			b, _ := hex.DecodeString(strings.ReplaceAll(c.Value(i), ":", ""))
			return b
		}
	}
	return nil
}

// column returns rec's column called name, or nil.
func column(rec arrow.RecordBatch, name string) arrow.Array {
	if idx := rec.Schema().FieldIndices(name); len(idx) > 0 {
		return rec.Column(idx[0])
	}
	return nil
}
