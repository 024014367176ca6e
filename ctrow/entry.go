package ctrow

import (
	"errors"
	"fmt"
	"time"

	ct "github.com/google/certificate-transparency-go"
	"github.com/google/certificate-transparency-go/tls"
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
// the MerkleTreeLeaf, extraData the X.509 chain or the PrecertChainEntry.
// Neither is parsed beyond the TLS encoding, and trailing bytes are refused.
// Errors wrap ErrMalformed and name the index.
func FromRFC6962(index int64, leafInput, extraData []byte) (Entry, error) {
	e := Entry{Index: index}
	var leaf ct.MerkleTreeLeaf
	if err := unmarshal(leafInput, &leaf); err != nil {
		return e, malformed(index, "leaf_input", err)
	}
	if leaf.Version != ct.V1 || leaf.LeafType != ct.TimestampedEntryLeafType || leaf.TimestampedEntry == nil {
		return e, malformed(index, "leaf_input", fmt.Errorf("version %d, leaf type %d", leaf.Version, leaf.LeafType))
	}
	te := leaf.TimestampedEntry
	e.Timestamp = te.Timestamp
	switch te.EntryType {
	case ct.X509LogEntryType:
		var chain ct.CertificateChain
		if err := unmarshal(extraData, &chain); err != nil {
			return e, malformed(index, "extra_data", err)
		}
		e.Type, e.Cert, e.Chain = X509, te.X509Entry.Data, certs(chain.Entries)
	case ct.PrecertLogEntryType:
		var pre ct.PrecertChainEntry
		if err := unmarshal(extraData, &pre); err != nil {
			return e, malformed(index, "extra_data", err)
		}
		e.Type, e.Cert, e.Chain = Precert, pre.PreCertificate.Data, certs(pre.CertificateChain)
	default:
		return e, malformed(index, "leaf_input", fmt.Errorf("entry type %d", te.EntryType))
	}
	return e, nil
}

// unmarshal decodes a whole TLS structure, refusing trailing bytes.
func unmarshal(b []byte, v any) error {
	rest, err := tls.Unmarshal(b, v)
	if err == nil && len(rest) > 0 {
		err = fmt.Errorf("%d trailing bytes", len(rest))
	}
	return err
}

func malformed(index int64, field string, err error) error {
	return fmt.Errorf("entry %d: %s: %w: %v", index, field, ErrMalformed, err)
}

func certs(in []ct.ASN1Cert) [][]byte {
	out := make([][]byte, len(in))
	for i, c := range in {
		out[i] = c.Data
	}
	return out
}
