package seal

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/certstream-arrow/certstream-arrow/coverage"
	"github.com/certstream-arrow/certstream-arrow/stream"
)

// view is one input record batch bound to the output schema: it copies any
// of its rows into the output builders, and reads what choosing among
// copies of a key needs. Files of an older schema version (fewer columns)
// are read too; their missing columns come out null, provenance "stream".
type view struct {
	rec      arrow.RecordBatch
	copy     []func(row int) // per output column
	url      *array.LargeString
	index    *array.Int64
	sha1     *array.FixedSizeBinary
	sha256   *array.FixedSizeBinary
	kind     *array.LargeString // update_type
	der      *array.LargeBinary
	chain    *array.LargeList
	prov     *array.LargeString // nil in files older than schema 3
	seen     *array.Timestamp
	builder  *array.RecordBuilder
	rowBytes int64 // the batch's memory per row
}

// bind binds rec to the builder rb of the output schema. It fails if a
// column the output has is in rec with another type.
func bind(rec arrow.RecordBatch, rb *array.RecordBuilder) (*view, error) {
	v := &view{rec: rec, builder: rb, copy: make([]func(int), len(rb.Fields()))}
	v.rowBytes = recordBytes(rec) / max(1, rec.NumRows())
	in := rec.Schema()
	for c, f := range rb.Schema().Fields() {
		b := rb.Field(c)
		idx := in.FieldIndices(f.Name)
		if len(idx) == 0 {
			v.copy[c] = missing(b, f.Name)
			continue
		}
		col := rec.Column(idx[0])
		if !arrow.TypeEqual(col.DataType(), f.Type) {
			return nil, fmt.Errorf("column %s is %s, want %s: not this program's schema", f.Name, col.DataType(), f.Type)
		}
		cp, err := copier(b, col)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", f.Name, err)
		}
		v.copy[c] = cp
	}
	v.url, _ = column(rec, "source_url").(*array.LargeString)
	v.index, _ = column(rec, "cert_index").(*array.Int64)
	v.sha1, _ = column(rec, "fingerprint").(*array.FixedSizeBinary)
	v.sha256, _ = column(rec, "sha256").(*array.FixedSizeBinary)
	v.kind, _ = column(rec, "update_type").(*array.LargeString)
	v.der, _ = column(rec, "as_der").(*array.LargeBinary)
	v.chain, _ = column(rec, "chain_subjects").(*array.LargeList)
	v.prov, _ = column(rec, "provenance").(*array.LargeString)
	v.seen, _ = column(rec, "seen").(*array.Timestamp)
	if v.url == nil || v.index == nil || v.sha1 == nil || v.sha256 == nil || v.der == nil {
		return nil, fmt.Errorf("batch lacks source_url, cert_index, a digest or as_der: not this program's schema")
	}
	return v, nil
}

func column(rec arrow.RecordBatch, name string) arrow.Array {
	idx := rec.Schema().FieldIndices(name)
	if len(idx) == 0 {
		return nil
	}
	return rec.Column(idx[0])
}

// missing fills a column an older file lacks.
func missing(b array.Builder, name string) func(int) {
	if s, ok := b.(*array.LargeStringBuilder); ok && name == "provenance" {
		return func(int) { s.Append(stream.FromStream.String()) }
	}
	return func(int) { b.AppendNull() }
}

// copier returns a function appending row i of col to b, for every type
// the dataset schema uses.
func copier(b array.Builder, col arrow.Array) (func(int), error) {
	switch a := col.(type) {
	case *array.Timestamp:
		tb := b.(*array.TimestampBuilder)
		return nullable(a, b, func(i int) { tb.Append(a.Value(i)) }), nil
	case *array.Int64:
		ib := b.(*array.Int64Builder)
		return nullable(a, b, func(i int) { ib.Append(a.Value(i)) }), nil
	case *array.Boolean:
		bb := b.(*array.BooleanBuilder)
		return nullable(a, b, func(i int) { bb.Append(a.Value(i)) }), nil
	case *array.LargeString:
		sb := b.(*array.LargeStringBuilder)
		return nullable(a, b, func(i int) { sb.Append(a.Value(i)) }), nil
	case *array.LargeBinary:
		bb := b.(*array.BinaryBuilder)
		return nullable(a, b, func(i int) { bb.Append(a.Value(i)) }), nil
	case *array.FixedSizeBinary:
		fb := b.(*array.FixedSizeBinaryBuilder)
		return nullable(a, b, func(i int) { fb.Append(a.Value(i)) }), nil
	case *array.LargeList:
		lb := b.(*array.LargeListBuilder)
		vals, ok := a.ListValues().(*array.LargeString)
		vb, vok := lb.ValueBuilder().(*array.LargeStringBuilder)
		if !ok || !vok {
			return nil, fmt.Errorf("list of %s: want large_list<large_utf8>", a.ListValues().DataType())
		}
		return nullable(a, b, func(i int) {
			lb.Append(true)
			start, end := a.ValueOffsets(i)
			for j := start; j < end; j++ {
				if vals.IsNull(int(j)) {
					vb.AppendNull()
				} else {
					vb.Append(vals.Value(int(j)))
				}
			}
		}), nil
	}
	return nil, fmt.Errorf("type %s not in the dataset schema", col.DataType())
}

func nullable(a arrow.Array, b array.Builder, value func(int)) func(int) {
	return func(i int) {
		if a.IsNull(i) {
			b.AppendNull()
			return
		}
		value(i)
	}
}

// emit appends row i to the output builders.
func (v *view) emit(i int) {
	for _, cp := range v.copy {
		cp(i)
	}
}

// keyed reports whether row i names a CT log entry.
func (v *view) keyed(i int) bool { return v.url.IsValid(i) && v.index.IsValid(i) }

// damaged reports whether row i does not identify its certificate.
func (v *view) damaged(i int) bool {
	return coverage.Damaged(value(v.sha1, i), value(v.sha256, i), binValue(v.der, i))
}

// backfilled reports whether row i was fetched from its log.
func (v *view) backfilled(i int) bool {
	return v.prov != nil && v.prov.IsValid(i) && v.prov.Value(i) == stream.FromBackfill.String()
}

// fingerprint is what two copies of one key must share to agree: the
// certificate's SHA-256 and the entry type.
func (v *view) fingerprint(i int) string {
	kind := ""
	if v.kind != nil && v.kind.IsValid(i) {
		kind = v.kind.Value(i)
	}
	return string(value(v.sha256, i)) + "\x00" + kind
}

// richness orders agreeing copies: one with the certificate's DER, then
// one with a chain.
func (v *view) richness(i int) int {
	n := 0
	if len(binValue(v.der, i)) > 0 {
		n += 2
	}
	if v.chain != nil && v.chain.IsValid(i) {
		if start, end := v.chain.ValueOffsets(i); end > start {
			n++
		}
	}
	return n
}

// seenAt returns row i's seen value, or the largest int64 when null.
func (v *view) seenAt(i int) int64 {
	if v.seen == nil || v.seen.IsNull(i) {
		return 1<<63 - 1
	}
	return int64(v.seen.Value(i))
}

func value(a *array.FixedSizeBinary, i int) []byte {
	if a.IsNull(i) {
		return nil
	}
	return a.Value(i)
}

func binValue(a *array.LargeBinary, i int) []byte {
	if a.IsNull(i) {
		return nil
	}
	return a.Value(i)
}

// bindKeys reads only rec's keys.
func bindKeys(rec arrow.RecordBatch) (*view, error) {
	v := &view{rec: rec}
	v.url, _ = column(rec, "source_url").(*array.LargeString)
	v.index, _ = column(rec, "cert_index").(*array.Int64)
	if v.url == nil || v.index == nil {
		return nil, fmt.Errorf("batch lacks source_url or cert_index: not this program's schema")
	}
	return v, nil
}
