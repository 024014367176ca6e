// Package schema owns the Arrow schema of the certstream-arrow dataset and the
// mapping of a decoded stream.Update onto record batches.
//
// It does no I/O. Every column is a plain Arrow type that DuckDB's nanoarrow
// reader, pandas and polars all read: no dictionary encoding, no view types,
// no extension types. A Builder is not safe for concurrent use.
//
// Columns are only ever added, at the end, with a bump of Version; a name or
// type never changes meaning, because users' saved queries depend on them.
package schema

import (
	"github.com/apache/arrow-go/v18/arrow"
)

// Version is the dataset schema version, stored in every file's metadata
// under MetaSchemaVersion.
const Version = "1"

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
	numColumns
)

var (
	tsMicro  = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	tsSecond = &arrow.TimestampType{Unit: arrow.Second, TimeZone: "UTC"}
	utf8List = arrow.ListOf(arrow.BinaryTypes.String)
)

// fields lists every column. The comment on each is the documentation users
// see in README.md; keep them in step.
var fields = [numColumns]arrow.Field{
	colSeen:          {Name: "seen", Type: tsMicro, Nullable: true},                          // server's data.seen
	colReceivedAt:    {Name: "received_at", Type: tsMicro},                                   // when the archiver read the frame
	colUpdateType:    {Name: "update_type", Type: arrow.BinaryTypes.String, Nullable: true},  // X509LogEntry | PrecertLogEntry
	colCertIndex:     {Name: "cert_index", Type: arrow.PrimitiveTypes.Int64, Nullable: true}, // index in the CT log
	colCertLink:      {Name: "cert_link", Type: arrow.BinaryTypes.String, Nullable: true},
	colSourceURL:     {Name: "source_url", Type: arrow.BinaryTypes.String, Nullable: true},
	colSourceName:    {Name: "source_name", Type: arrow.BinaryTypes.String, Nullable: true},
	colDomains:       {Name: "domains", Type: utf8List, Nullable: true},                 // leaf_cert.all_domains
	colSubject:       {Name: "subject", Type: arrow.BinaryTypes.String, Nullable: true}, // aggregated subject DN
	colSubjectCN:     {Name: "subject_cn", Type: arrow.BinaryTypes.String, Nullable: true},
	colSubjectO:      {Name: "subject_o", Type: arrow.BinaryTypes.String, Nullable: true},
	colIssuer:        {Name: "issuer", Type: arrow.BinaryTypes.String, Nullable: true}, // aggregated issuer DN
	colIssuerCN:      {Name: "issuer_cn", Type: arrow.BinaryTypes.String, Nullable: true},
	colIssuerO:       {Name: "issuer_o", Type: arrow.BinaryTypes.String, Nullable: true},
	colNotBefore:     {Name: "not_before", Type: tsSecond, Nullable: true},
	colNotAfter:      {Name: "not_after", Type: tsSecond, Nullable: true},
	colSerial:        {Name: "serial_number", Type: arrow.BinaryTypes.String, Nullable: true},
	colFingerprint:   {Name: "fingerprint", Type: arrow.BinaryTypes.String, Nullable: true}, // SHA-1, as sent
	colSHA256:        {Name: "sha256", Type: arrow.BinaryTypes.String, Nullable: true},      // as sent, or computed from as_der
	colSigAlg:        {Name: "signature_algorithm", Type: arrow.BinaryTypes.String, Nullable: true},
	colIsCA:          {Name: "is_ca", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	colDER:           {Name: "as_der", Type: arrow.BinaryTypes.Binary, Nullable: true}, // leaf DER; full stream only
	colChainSubjects: {Name: "chain_subjects", Type: utf8List, Nullable: true},         // subject DN of each chain cert
	colSubmittedAt:   {Name: "submitted_at", Type: tsMicro, Nullable: true},            // Rust servers' submission_timestamp
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
