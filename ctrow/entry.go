package ctrow

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/cryptobyte"
)

// Type is the kind of a CT log entry.
type Type uint8

// The entry types of RFC 6962 and c2sp.org/static-ct-api. The zero Type is
// invalid, so that an Entry nobody filled in is refused.
const (
	X509    Type = iota + 1 // an issued certificate: "X509LogEntry"
	Precert                 // a precertificate: "PrecertLogEntry"
)

// String returns the update_type the servers send for the type.
func (t Type) String() string {
	switch t {
	case X509:
		return "X509LogEntry"
	case Precert:
		return "PrecertLogEntry"
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// Entry is one CT log entry, split into the pieces a row is made of. Both
// log APIs map onto it without parsing any certificate:
//
//   - RFC 6962 get-entries: FromRFC6962(index, leaf_input, extra_data).
//   - A static-CT data tile leaf: Timestamp and Type from the
//     TimestampedEntry; Cert is the X.509 certificate of an x509_entry or
//     the pre_certificate of a precert_entry (not its tbs_certificate);
//     Chain holds the issuers fetched by the leaf's chain fingerprints, in
//     order.
//
// Entry does not copy: its slices may alias the caller's buffers.
type Entry struct {
	Index     int64  // the entry's index in the log: cert_index
	Timestamp uint64 // the TimestampedEntry's timestamp, in milliseconds since the epoch
	Type      Type
	// Cert is the DER the row describes: the certificate of an X509 entry,
	// the precertificate (with its poison extension, signed by its issuer)
	// of a Precert entry, as the servers send it in as_der.
	Cert []byte
	// Chain is the DER of each certificate of the submitted chain, the
	// issuer of Cert first. An element that is not a certificate is left
	// out of the row, as the servers leave it out. Nil means no chain is
	// known (chain_subjects null); empty, that the log holds none.
	Chain [][]byte
}

// Time returns the entry's timestamp as a time.
func (e *Entry) Time() time.Time {
	return time.UnixMilli(int64(e.Timestamp)).UTC()
}

// ErrMalformed reports leaf_input or extra_data that do not follow RFC 6962.
var ErrMalformed = errors.New("malformed RFC 6962 entry")

// FromRFC6962 splits an entry of an RFC 6962 get-entries answer: leafInput is
// the MerkleTreeLeaf, extraData the X.509 chain or the PrecertChainEntry
// (RFC 6962 sections 3.4 and 4.6). Nothing is copied or parsed beyond the
// TLS encoding; an empty certificate and trailing bytes are refused. Errors
// wrap ErrMalformed and name the index.
//
// It reads the encoding with cryptobyte rather than certificate-transparency-go's
// reflective tls.Unmarshal, which the tests use as its oracle: that one
// allocated 66 KB an entry.
func FromRFC6962(index int64, leafInput, extraData []byte) (Entry, error) {
	e := Entry{Index: index}
	leaf := cryptobyte.String(leafInput)
	var version, leafType uint8
	var entryType uint16
	if !leaf.ReadUint8(&version) || !leaf.ReadUint8(&leafType) ||
		!leaf.ReadUint64(&e.Timestamp) || !leaf.ReadUint16(&entryType) {
		return e, malformed(index, "leaf_input", "truncated")
	}
	if version != 0 || leafType != 0 {
		return e, malformed(index, "leaf_input", fmt.Sprintf("version %d, leaf type %d", version, leafType))
	}
	extra := cryptobyte.String(extraData)
	var ok bool
	switch entryType {
	case 0:
		e.Type = X509
		ok = readCert(&leaf, &e.Cert)
	case 1:
		var tbs cryptobyte.String
		e.Type = Precert
		ok = leaf.Skip(32) && leaf.ReadUint24LengthPrefixed(&tbs) && !tbs.Empty()
		ok = ok && readCert(&extra, &e.Cert)
	default:
		return e, malformed(index, "leaf_input", fmt.Sprintf("entry type %d", entryType))
	}
	var exts cryptobyte.String
	if !ok || !leaf.ReadUint16LengthPrefixed(&exts) || !leaf.Empty() {
		return e, malformed(index, "leaf_input or extra_data", "bad certificate or trailing bytes")
	}
	if e.Chain, ok = readChain(&extra); !ok || !extra.Empty() {
		return e, malformed(index, "extra_data", "bad chain or trailing bytes")
	}
	return e, nil
}

// readCert reads an ASN1Cert: opaque<1..2^24-1>.
func readCert(s *cryptobyte.String, out *[]byte) bool {
	var c cryptobyte.String
	if !s.ReadUint24LengthPrefixed(&c) || c.Empty() {
		return false
	}
	*out = c
	return true
}

// readChain reads ASN1Cert certificate_chain<0..2^24-1>; an empty chain is
// [], not nil.
func readChain(s *cryptobyte.String) ([][]byte, bool) {
	var list cryptobyte.String
	if !s.ReadUint24LengthPrefixed(&list) {
		return nil, false
	}
	chain := [][]byte{}
	for !list.Empty() {
		var c []byte
		if !readCert(&list, &c) {
			return nil, false
		}
		chain = append(chain, c)
	}
	return chain, true
}

func malformed(index int64, field, detail string) error {
	return fmt.Errorf("entry %d: %s: %w: %s", index, field, ErrMalformed, detail)
}
