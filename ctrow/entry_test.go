package ctrow

import (
	"bytes"
	"errors"
	"testing"

	ct "github.com/google/certificate-transparency-go"
	"github.com/google/certificate-transparency-go/tls"
)

// leafInput encodes a MerkleTreeLeaf.
func leafInput(tb testing.TB, version ct.Version, entryType ct.LogEntryType, cert []byte) []byte {
	tb.Helper()
	te := &ct.TimestampedEntry{Timestamp: 1779302893443, EntryType: entryType}
	switch entryType {
	case ct.X509LogEntryType:
		te.X509Entry = &ct.ASN1Cert{Data: cert}
	case ct.PrecertLogEntryType:
		te.PrecertEntry = &ct.PreCert{TBSCertificate: []byte{0x30, 0x00}}
	}
	b, err := tls.Marshal(ct.MerkleTreeLeaf{Version: version, LeafType: ct.TimestampedEntryLeafType, TimestampedEntry: te})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func marshal(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := tls.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestFromRFC6962(t *testing.T) {
	cert, issuer, pre := []byte("leaf DER"), []byte("issuer DER"), []byte("precert DER")
	x509Leaf := leafInput(t, ct.V1, ct.X509LogEntryType, cert)
	chain := marshal(t, ct.CertificateChain{Entries: []ct.ASN1Cert{{Data: issuer}}})
	preLeaf := leafInput(t, ct.V1, ct.PrecertLogEntryType, nil)
	preExtra := marshal(t, ct.PrecertChainEntry{PreCertificate: ct.ASN1Cert{Data: pre}, CertificateChain: []ct.ASN1Cert{{Data: issuer}}})
	emptyChain := marshal(t, ct.CertificateChain{})

	for _, tc := range []struct {
		name           string
		leaf, extra    []byte
		typ            Type
		cert           []byte
		chain          int
		malformed      bool
		wantEmptyChain bool
	}{
		{"x509", x509Leaf, chain, X509, cert, 1, false, false},
		{"precert: the precertificate from extra_data", preLeaf, preExtra, Precert, pre, 1, false, false},
		{"x509, empty chain", x509Leaf, emptyChain, X509, cert, 0, false, true},
		{"empty leaf_input", nil, chain, 0, nil, 0, true, false},
		{"truncated leaf_input", x509Leaf[:len(x509Leaf)-1], chain, 0, nil, 0, true, false},
		{"trailing byte in leaf_input", append(bytes.Clone(x509Leaf), 0), chain, 0, nil, 0, true, false},
		{"version 2", leafInput(t, 1, ct.X509LogEntryType, cert), chain, 0, nil, 0, true, false},
		{"entry type 2", append(bytes.Clone(x509Leaf[:10]), 0, 2, 0, 0), chain, 0, nil, 0, true, false},
		{"empty extra_data", x509Leaf, nil, 0, nil, 0, true, false},
		{"truncated extra_data", x509Leaf, chain[:len(chain)-1], 0, nil, 0, true, false},
		{"precert with an x509 chain as extra_data", preLeaf, chain, 0, nil, 0, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := FromRFC6962(5, tc.leaf, tc.extra)
			if tc.malformed {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("err %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.Index != 5 || e.Timestamp != 1779302893443 || e.Type != tc.typ || !bytes.Equal(e.Cert, tc.cert) || len(e.Chain) != tc.chain {
				t.Errorf("entry %+v", e)
			}
			if tc.chain > 0 && !bytes.Equal(e.Chain[0], issuer) {
				t.Errorf("chain[0] %q, want %q", e.Chain[0], issuer)
			}
			if tc.wantEmptyChain && e.Chain == nil {
				t.Error("an empty chain is [], not unknown")
			}
		})
	}
}

// oracleRFC6962 splits an entry with certificate-transparency-go's TLS
// decoder, the reference FromRFC6962 is checked against.
func oracleRFC6962(leafInput, extraData []byte) (Entry, bool) {
	var e Entry
	var leaf ct.MerkleTreeLeaf
	if rest, err := tls.Unmarshal(leafInput, &leaf); err != nil || len(rest) > 0 ||
		leaf.Version != ct.V1 || leaf.LeafType != ct.TimestampedEntryLeafType {
		return e, false
	}
	te := leaf.TimestampedEntry
	e.Timestamp = te.Timestamp
	var chain []ct.ASN1Cert
	switch te.EntryType {
	case ct.X509LogEntryType:
		var c ct.CertificateChain
		if rest, err := tls.Unmarshal(extraData, &c); err != nil || len(rest) > 0 {
			return e, false
		}
		e.Type, e.Cert, chain = X509, te.X509Entry.Data, c.Entries
	case ct.PrecertLogEntryType:
		var p ct.PrecertChainEntry
		if rest, err := tls.Unmarshal(extraData, &p); err != nil || len(rest) > 0 {
			return e, false
		}
		e.Type, e.Cert, chain = Precert, p.PreCertificate.Data, p.CertificateChain
	default:
		return e, false
	}
	e.Chain = [][]byte{}
	for _, c := range chain {
		e.Chain = append(e.Chain, c.Data)
	}
	return e, true
}

// sameEntry reports whether FromRFC6962 and the oracle agree.
func sameEntry(got Entry, gotErr error, want Entry, wantOK bool) bool {
	if (gotErr == nil) != wantOK {
		return false
	}
	if !wantOK {
		return true
	}
	if got.Timestamp != want.Timestamp || got.Type != want.Type || !bytes.Equal(got.Cert, want.Cert) || len(got.Chain) != len(want.Chain) {
		return false
	}
	for i := range got.Chain {
		if !bytes.Equal(got.Chain[i], want.Chain[i]) {
			return false
		}
	}
	return true
}

// TestFromRFC6962Oracle checks FromRFC6962 against the TLS decoder of
// certificate-transparency-go on the real entries and on every prefix of
// one of each type.
func TestFromRFC6962Oracle(t *testing.T) {
	snaps := loadSnapshots(t, "reloading01-rust-parser-snapshot-live_ct.json")
	for _, s := range snaps {
		e, err := FromRFC6962(s.CertIndex, s.LeafInput, s.ExtraData)
		want, ok := oracleRFC6962(s.LeafInput, s.ExtraData)
		if !ok || !sameEntry(e, err, want, ok) {
			t.Errorf("%s: got %v, oracle ok %v", s.Name, err, ok)
		}
	}
	for _, s := range snaps[:2] { // a precert and an X509 entry
		for n := range len(s.ExtraData) {
			e, err := FromRFC6962(1, s.LeafInput, s.ExtraData[:n])
			want, ok := oracleRFC6962(s.LeafInput, s.ExtraData[:n])
			if !sameEntry(e, err, want, ok) {
				t.Fatalf("%s, extra_data[:%d]: got %v, oracle ok %v", s.Name, n, err, ok)
			}
		}
	}
}
