package ctlog

import (
	"fmt"
	"time"

	"filippo.io/sunlight"
	ct "github.com/google/certificate-transparency-go"
)

// EntryType is the TimestampedEntry's entry type.
type EntryType uint8

const (
	X509Entry    EntryType = 0 // x509_entry: a certificate
	PrecertEntry EntryType = 1 // precert_entry: a precertificate
)

func (t EntryType) String() string {
	switch t {
	case X509Entry:
		return "x509"
	case PrecertEntry:
		return "precert"
	}
	return fmt.Sprintf("EntryType(%d)", uint8(t))
}

// Entry is one log entry, as both protocols describe it. See the package
// doc for the contract of each field.
type Entry struct {
	Index     int64
	Timestamp int64 // TimestampedEntry.timestamp, milliseconds since the epoch
	Type      EntryType

	// LeafDER is the certificate for X509Entry, the pre-certificate as
	// submitted (poison extension, issuer's signature) for PrecertEntry.
	LeafDER []byte
	// Chain is the issuer chain, issuer of LeafDER first.
	Chain [][]byte

	// TBS and IssuerKeyHash are the PreCert of the Merkle leaf
	// (PrecertEntry only): the TBSCertificate as logged, poison removed.
	TBS           []byte
	IssuerKeyHash [32]byte

	// LeafInput is the MerkleTreeLeaf whose hash is the tree's leaf hash.
	LeafInput []byte
	// ExtraData is the RFC 6962 get-entries extra_data; nil for static-CT.
	ExtraData []byte
}

// Time returns the entry's timestamp.
func (e *Entry) Time() time.Time { return time.UnixMilli(e.Timestamp) }

// ParseRFC6962Entry decodes an RFC 6962 get-entries leaf_input
// (MerkleTreeLeaf) and extra_data into an Entry. Only x509 and precert
// entries with nothing trailing are accepted.
func ParseRFC6962Entry(index int64, leafInput, extraData []byte) (Entry, error) {
	raw, err := ct.RawLogEntryFromLeaf(index, &ct.LeafEntry{LeafInput: leafInput, ExtraData: extraData})
	if err != nil {
		return Entry{}, fmt.Errorf("entry %d: %w", index, err)
	}
	te := raw.Leaf.TimestampedEntry
	if raw.Leaf.Version != ct.V1 || raw.Leaf.LeafType != ct.TimestampedEntryLeafType || te == nil {
		return Entry{}, fmt.Errorf("entry %d: unsupported leaf version %d type %d", index, raw.Leaf.Version, raw.Leaf.LeafType)
	}
	if te.Timestamp > 1<<63-1 {
		return Entry{}, fmt.Errorf("entry %d: timestamp %d out of range", index, te.Timestamp)
	}
	e := Entry{
		Index: index, Timestamp: int64(te.Timestamp),
		LeafDER: raw.Cert.Data, Chain: derChain(raw.Chain),
		LeafInput: leafInput, ExtraData: extraData,
	}
	if te.EntryType == ct.PrecertLogEntryType {
		e.Type = PrecertEntry
		e.TBS = te.PrecertEntry.TBSCertificate
		e.IssuerKeyHash = te.PrecertEntry.IssuerKeyHash
	}
	return e, nil
}

func derChain(chain []ct.ASN1Cert) [][]byte {
	if len(chain) == 0 {
		return nil
	}
	out := make([][]byte, len(chain))
	for i, c := range chain {
		out[i] = c.Data
	}
	return out
}

// ReadTileLeaf decodes the next c2sp.org/static-ct-api TileLeaf of a data
// tile, returning the entry (Chain left empty: the leaf only names its
// issuers), their fingerprints and the rest of the tile. The leaf must
// carry the leaf_index extension; Index is taken from it.
func ReadTileLeaf(tile []byte) (Entry, [][32]byte, []byte, error) {
	le, rest, err := sunlight.ReadTileLeaf(tile)
	if err != nil {
		return Entry{}, nil, rest, err
	}
	e := Entry{
		Index: le.LeafIndex, Timestamp: le.Timestamp,
		LeafDER:   le.Certificate,
		LeafInput: le.MerkleTreeLeaf(),
	}
	if le.IsPrecert {
		e.Type = PrecertEntry
		e.TBS = le.Certificate
		e.IssuerKeyHash = le.IssuerKeyHash
		e.LeafDER = le.PreCertificate
	}
	return e, le.ChainFingerprints, rest, nil
}
