// Package schema owns the Arrow schema of the certstream-arrow dataset and the
// mapping of a decoded stream.Update onto record batches.
//
// It does no I/O. Every column is a plain Arrow type that DuckDB's nanoarrow
// reader, pandas and polars all read: no dictionary encoding, no view types,
// no extension types. A Builder is not safe for concurrent use.
//
// The types are chosen for size on disk (see BENCHMARKS.md, "Where the disk
// bytes go"): digests are fixed_size_binary rather than hex text, and text,
// binary and list columns have 64-bit offsets (large_utf8, large_binary,
// large_list), which arrow-go's zstd compresses to fewer bytes than 32-bit
// ones. Every reader shows them as ordinary strings, blobs and lists.
//
// Columns are only ever added, at the end, with a bump of Version; a name or
// type never changes meaning, because users' saved queries depend on them.
// Version 2 changed types once, before any release: version 1 stored
// digests as colon-hex text and used 32-bit offsets. Version 3 added
// entry_timestamp and provenance at the end.
package schema

import (
	"github.com/apache/arrow-go/v18/arrow"
)

// Version is the dataset schema version, stored in every file's metadata
// under MetaSchemaVersion.
const Version = "3"

// Keys of the schema metadata written into every file.
const (
	MetaSchemaVersion  = "certstream_arrow.schema_version"
	MetaProgramVersion = "certstream_arrow.program_version"
)

// Column indexes, in schema order.
const (
	colSeen = iota
	colReceivedAt
	colUpdateType
	colCertIndex
	colCertLink
	colSourceURL
	colSourceName
	colDomains
	colSubject
	colSubjectCN
	colSubjectO
	colIssuer
	colIssuerCN
	colIssuerO
	colNotBefore
	colNotAfter
	colSerial
	colFingerprint
	colSHA256
	colSigAlg
	colIsCA
	colDER
	colChainSubjects
	colSubmittedAt
	colEntryTimestamp
	colProvenance
	numColumns
)

var (
	tsMicro  = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	tsSecond = &arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"}
	tsMilli  = &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}
	text     = arrow.BinaryTypes.LargeString
	textList = arrow.LargeListOf(text)
	sha1Type = &arrow.FixedSizeBinaryType{ByteWidth: 20}
	sha2Type = &arrow.FixedSizeBinaryType{ByteWidth: 32}
)

// fields lists every column. The comment on each is the documentation users
// see in README.md; keep them in step.
var fields = [numColumns]arrow.Field{
	colSeen:          {Name: "seen", Type: tsMicro, Nullable: true},                          // server's data.seen
	colReceivedAt:    {Name: "received_at", Type: tsMicro},                                   // when the archiver read the frame
	colUpdateType:    {Name: "update_type", Type: text, Nullable: true},                      // X509LogEntry | PrecertLogEntry
	colCertIndex:     {Name: "cert_index", Type: arrow.PrimitiveTypes.Int64, Nullable: true}, // index in the CT log
	colCertLink:      {Name: "cert_link", Type: text, Nullable: true},
	colSourceURL:     {Name: "source_url", Type: text, Nullable: true},
	colSourceName:    {Name: "source_name", Type: text, Nullable: true},
	colDomains:       {Name: "domains", Type: textList, Nullable: true}, // leaf_cert.all_domains
	colSubject:       {Name: "subject", Type: text, Nullable: true},     // aggregated subject DN
	colSubjectCN:     {Name: "subject_cn", Type: text, Nullable: true},
	colSubjectO:      {Name: "subject_o", Type: text, Nullable: true},
	colIssuer:        {Name: "issuer", Type: text, Nullable: true}, // aggregated issuer DN
	colIssuerCN:      {Name: "issuer_cn", Type: text, Nullable: true},
	colIssuerO:       {Name: "issuer_o", Type: text, Nullable: true},
	colNotBefore:     {Name: "not_before", Type: tsSecond, Nullable: true},
	colNotAfter:      {Name: "not_after", Type: tsSecond, Nullable: true},
	colSerial:        {Name: "serial_number", Type: text, Nullable: true},
	colFingerprint:   {Name: "fingerprint", Type: sha1Type, Nullable: true}, // SHA-1 digest: as sent, else of as_der
	colSHA256:        {Name: "sha256", Type: sha2Type, Nullable: true},      // SHA-256 digest: as sent, else of as_der
	colSigAlg:        {Name: "signature_algorithm", Type: text, Nullable: true},
	colIsCA:          {Name: "is_ca", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	colDER:           {Name: "as_der", Type: arrow.BinaryTypes.LargeBinary, Nullable: true}, // leaf DER; full stream only
	colChainSubjects: {Name: "chain_subjects", Type: textList, Nullable: true},              // subject DN of each chain cert
	colSubmittedAt:   {Name: "submitted_at", Type: tsMicro, Nullable: true},                 // Rust servers' submission_timestamp
	// Version 3.
	colEntryTimestamp: {Name: "entry_timestamp", Type: tsMilli, Nullable: true}, // the CT entry's own timestamp, when known
	colProvenance:     {Name: "provenance", Type: text},                         // stream | backfill
}

// New returns the dataset schema, with the schema and program versions in
// its metadata.
func New(programVersion string) *arrow.Schema {
	md := arrow.NewMetadata(
		[]string{MetaSchemaVersion, MetaProgramVersion},
		[]string{Version, programVersion},
	)
	return arrow.NewSchema(fields[:], &md)
}
