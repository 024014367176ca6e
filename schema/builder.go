package schema

import (
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/certstream-arrow/certstream-arrow/stream"
)

// Builder accumulates rows, one per archived stream.Update, and cuts them
// into record batches. Its column builders are reused from one batch to the
// next. A Builder is not safe for concurrent use; Release it when done.
type Builder struct {
	rb    *array.RecordBuilder
	rows  int
	bytes int64 // of the rows since the last NewRecordBatch; see Bytes

	strs    [numColumns]*array.BinaryBuilder // string and binary columns, nil elsewhere
	digests [numColumns]*array.FixedSizeBinaryBuilder
	width   [numColumns]int // of each digest column
	times   [numColumns]*array.TimestampBuilder
	units   [numColumns]arrow.TimeUnit // of each timestamp column
	index   *array.Int64Builder
	isCA    *array.BooleanBuilder
	domains *array.LargeListBuilder
	chain   *array.LargeListBuilder
}

// NewBuilder returns a Builder for schema s, which must come from New.
func NewBuilder(mem memory.Allocator, s *arrow.Schema) *Builder {
	b := &Builder{rb: array.NewRecordBuilder(mem, s)}
	for i, f := range b.rb.Fields() {
		switch fb := f.(type) {
		case *array.LargeStringBuilder:
			b.strs[i] = fb.BinaryBuilder
		case *array.BinaryBuilder:
			b.strs[i] = fb
		case *array.FixedSizeBinaryBuilder:
			b.digests[i] = fb
			b.width[i] = fb.Type().(*arrow.FixedSizeBinaryType).ByteWidth
		case *array.TimestampBuilder:
			b.times[i] = fb
			b.units[i] = fb.Type().(*arrow.TimestampType).Unit
		}
	}
	b.index = b.rb.Field(colCertIndex).(*array.Int64Builder)
	b.isCA = b.rb.Field(colIsCA).(*array.BooleanBuilder)
	b.domains = b.rb.Field(colDomains).(*array.LargeListBuilder)
	b.chain = b.rb.Field(colChainSubjects).(*array.LargeListBuilder)
	return b
}

// Len returns the number of rows appended since the last NewRecordBatch.
func (b *Builder) Len() int { return b.rows }

// Bytes returns the bytes the rows appended since the last NewRecordBatch
// hold in the builders: their strings, lists and DER, plus a fixed cost per
// row for offsets, digests, times and validity. It is what a batch costs in
// memory before compression, so callers can cut a batch by bytes as well as
// by rows.
func (b *Builder) Bytes() int64 { return b.bytes }

// rowOverhead is what one row takes in the builders besides its variable
// data: 8-byte offsets for 13 string and list columns, 52 bytes of digests,
// 6 timestamps, the index, and validity bits.
const rowOverhead = 13*8 + 52 + 6*8 + 8 + 4

// Append adds u as one row. Heartbeats must not be appended. Every field that
// u leaves null is null in the row; nothing in u can make Append fail.
func (b *Builder) Append(u *stream.Update) {
	b.rows++
	b.bytes += rowOverhead
	b.appendTime(colSeen, u.Seen)
	b.appendTime(colReceivedAt, u.ReceivedAt)
	b.appendStr(colUpdateType, u.UpdateType)
	if u.HasCertIndex {
		b.index.Append(u.CertIndex)
	} else {
		b.index.AppendNull()
	}
	b.appendStr(colCertLink, u.CertLink)
	b.appendStr(colSourceURL, u.SourceURL)
	b.appendStr(colSourceName, u.SourceName)
	b.appendList(b.domains, u.Domains)
	b.appendStr(colSubject, u.Subject)
	b.appendStr(colSubjectCN, u.SubjectCN)
	b.appendStr(colSubjectO, u.SubjectO)
	b.appendStr(colIssuer, u.Issuer)
	b.appendStr(colIssuerCN, u.IssuerCN)
	b.appendStr(colIssuerO, u.IssuerO)
	b.appendTime(colNotBefore, u.NotBefore)
	b.appendTime(colNotAfter, u.NotAfter)
	b.appendStr(colSerial, u.Serial)
	b.appendDigest(colFingerprint, u.SHA1)
	b.appendDigest(colSHA256, u.SHA256)
	b.appendStr(colSigAlg, u.SigAlg)
	switch u.IsCA {
	case stream.BoolTrue:
		b.isCA.Append(true)
	case stream.BoolFalse:
		b.isCA.Append(false)
	default:
		b.isCA.AppendNull()
	}
	b.appendStr(colDER, u.DER)
	b.appendList(b.chain, u.ChainNames)
	b.appendTime(colSubmittedAt, u.SubmittedAt)
	b.appendTime(colEntryTimestamp, u.EntryTime)
	b.appendProvenance(u.Provenance)
}

// provenances are the provenance column's values, by stream.Provenance.
var provenances = [...][]byte{stream.FromStream: []byte("stream"), stream.FromBackfill: []byte("backfill")}

func (b *Builder) appendProvenance(p stream.Provenance) {
	if int(p) >= len(provenances) {
		p = stream.FromStream
	}
	b.appendStr(colProvenance, provenances[p])
}

// NewRecordBatch returns the rows appended so far as a record batch and
// resets the Builder. The caller releases the batch.
//
// The next batch's buffers are reserved at the sizes this one reached, plus
// an eighth: batches are alike, and growing buffers from nothing by doubling
// copies each one several times and leaves as much garbage again.
func (b *Builder) NewRecordBatch() arrow.RecordBatch {
	rows := b.rows
	var data [numColumns]int
	for i, sb := range b.strs {
		if sb != nil {
			data[i] = sb.DataLen()
		}
	}
	domains, domainsData := listSize(b.domains)
	chain, chainData := listSize(b.chain)
	b.rows, b.bytes = 0, 0
	rec := b.rb.NewRecordBatch()

	grow := func(n int) int { return n + n/8 }
	b.rb.Reserve(grow(rows))
	for i, sb := range b.strs {
		if sb != nil {
			sb.ReserveData(grow(data[i]))
		}
	}
	reserveList(b.domains, grow(domains), grow(domainsData))
	reserveList(b.chain, grow(chain), grow(chainData))
	return rec
}

// listSize returns how many strings a list column holds, and their bytes.
func listSize(lb *array.LargeListBuilder) (values, data int) {
	vb := lb.ValueBuilder().(*array.LargeStringBuilder)
	return vb.Len(), vb.DataLen()
}

func reserveList(lb *array.LargeListBuilder, values, data int) {
	vb := lb.ValueBuilder().(*array.LargeStringBuilder)
	vb.Reserve(values)
	vb.ReserveData(data)
}

// Release frees the Builder's buffers.
func (b *Builder) Release() { b.rb.Release() }

func (b *Builder) appendStr(col int, v []byte) {
	if v == nil {
		b.strs[col].AppendNull()
		return
	}
	b.strs[col].Append(v)
	b.bytes += int64(len(v))
}

// appendDigest appends a digest of the column's width; anything else is null.
func (b *Builder) appendDigest(col int, v []byte) {
	if len(v) != b.width[col] {
		b.digests[col].AppendNull()
		return
	}
	b.digests[col].Append(v)
}

// appendTime appends t in the column's unit; the zero time is null.
func (b *Builder) appendTime(col int, t time.Time) {
	tb := b.times[col]
	if t.IsZero() {
		tb.AppendNull()
		return
	}
	switch b.units[col] {
	case arrow.Second:
		tb.Append(arrow.Timestamp(t.Unix()))
	case arrow.Millisecond:
		tb.Append(arrow.Timestamp(t.UnixMilli()))
	default:
		tb.Append(arrow.Timestamp(t.UnixMicro()))
	}
}

func (b *Builder) appendList(lb *array.LargeListBuilder, items [][]byte) {
	if items == nil {
		lb.AppendNull()
		return
	}
	lb.Append(true)
	vb := lb.ValueBuilder().(*array.LargeStringBuilder).BinaryBuilder
	for _, s := range items {
		vb.Append(s)
		b.bytes += int64(len(s)) + 8
	}
}
