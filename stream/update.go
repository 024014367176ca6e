// Package stream owns the CertStream side of certstream-arrow: it dials a
// CertStream WebSocket server, keeps the connection alive, reconnects when it
// fails, and decodes each message into an Update.
//
// It knows nothing of Arrow or files. The pipeline it feeds looks like this:
//
//	socket ──Client.Run──▶ bounded queue of Frames ──Decoder.Decode──▶ Update ──▶ (schema, archive)
//
// Client owns exactly one reader goroutine per connection and never waits on
// its consumer for longer than the queue allows. A Decoder is not safe for
// concurrent use; the Update it returns aliases its buffers and is valid only
// until the next call to Decode.
package stream

import "time"

// Kind says what a CertStream message carries.
type Kind uint8

// The message kinds a CertStream server sends.
const (
	KindCertificate Kind = iota + 1 // "certificate_update": one CT log entry.
	KindDomains                     // "dns_entries": the domains-only stream, names only.
	KindHeartbeat                   // "heartbeat": keepalive, nothing to archive.
)

// String returns the message_type the kind comes from.
func (k Kind) String() string {
	switch k {
	case KindCertificate:
		return "certificate_update"
	case KindDomains:
		return "dns_entries"
	case KindHeartbeat:
		return "heartbeat"
	}
	return "unknown"
}

// Bool is a JSON boolean that may also be absent or null.
type Bool uint8

// The three states of a Bool.
const (
	BoolNull Bool = iota
	BoolFalse
	BoolTrue
)

// Provenance says where a row came from.
type Provenance uint8

// The sources of a row. The zero value is the CertStream feed.
const (
	FromStream   Provenance = iota // a CertStream server sent it
	FromBackfill                   // fetched from the CT log itself
)

// String returns the provenance column's value.
func (p Provenance) String() string {
	if p == FromBackfill {
		return "backfill"
	}
	return "stream"
}

// Update is one decoded CertStream message.
//
// Byte slices alias the Decoder's buffers and stay valid only until the next
// Decode call. A nil slice means the server sent null or omitted the field; an
// empty, non-nil slice means it sent "". A zero time.Time means null.
// All strings are valid UTF-8.
type Update struct {
	Kind       Kind
	ReceivedAt time.Time // when the frame came off the socket; set by the caller

	// Present for KindCertificate.
	UpdateType   []byte
	CertIndex    int64
	HasCertIndex bool
	CertLink     []byte
	SourceURL    []byte
	SourceName   []byte
	Seen         time.Time
	SubmittedAt  time.Time // Rust servers' submission_timestamp
	EntryTime    time.Time // the CT log entry's own timestamp (ms), when known
	Provenance   Provenance
	Damaged      bool // the server sent digests of empty input (now nil) for a certificate

	Subject    []byte // leaf_cert.subject.aggregated
	SubjectCN  []byte
	SubjectO   []byte
	Issuer     []byte // leaf_cert.issuer.aggregated
	IssuerCN   []byte
	IssuerO    []byte
	NotBefore  time.Time
	NotAfter   time.Time // zero for Elixir's "no_expiration"
	Serial     []byte
	SHA1       []byte // 20-byte digest: leaf_cert.fingerprint or .sha1 (hex), else of DER; nil if neither
	SHA256     []byte // 32-byte digest: leaf_cert.sha256 (hex), else of DER; nil if neither
	SigAlg     []byte
	IsCA       Bool // leaf_cert.is_ca, else derived from basicConstraints
	DER        []byte
	ChainNames [][]byte // subject DN of each chain certificate, issuer first

	// Present for KindCertificate (all_domains) and KindDomains (data).
	Domains [][]byte
}
