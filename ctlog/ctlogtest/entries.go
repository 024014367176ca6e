// Package ctlogtest provides fake Certificate Transparency logs for tests
// of package ctlog and its users: an RFC 6962 log and a static-CT log
// (c2sp.org/static-ct-api), each a real HTTP peer on loopback
// (httptest), serving the same entries, signing tree heads with a fresh
// ECDSA P-256 key, with fault knobs (short pages, 429 with Retry-After,
// 503, slow answers, a corrupted tile, a bad signature, tampered
// get-entries pages and audit paths).
//
// Entries come from the real CT entries in ../shared/testdata (read in
// place, never copied into the repository) or are generated for volume.
// It is for tests and benchmarks only.
package ctlogtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/certstream-arrow/certstream-arrow/stream/streamtest"
	ct "github.com/google/certificate-transparency-go"
	ctx509 "github.com/google/certificate-transparency-go/x509"
)

// Entry is one log entry as the fakes hold it.
type Entry struct {
	Timestamp     int64  // milliseconds
	Precert       bool   // precert_entry rather than x509_entry
	Cert          []byte // the certificate, or the pre-certificate as submitted
	TBS           []byte // precert: the TBSCertificate as logged (poison removed)
	IssuerKeyHash [32]byte
	Chain         [][]byte // issuer first

	// LeafInput and ExtraData, when set, are served by the RFC 6962 fake
	// as they are instead of being rebuilt (real recorded bytes).
	LeafInput, ExtraData []byte
}

// SharedDir returns ../shared/testdata/<sub> beside the module root,
// failing the test when it is missing (CI checks it out there).
func SharedDir(tb testing.TB, sub string) string { return streamtest.SharedDir(tb, sub) }

// Snapshot is one recorded entry of the parser snapshot.
type Snapshot struct {
	Name      string `json:"name"`
	LogURL    string `json:"log_url"`
	CertIndex int64  `json:"cert_index"`
	LeafInput []byte `json:"leaf_input"`
	ExtraData []byte `json:"extra_data"`
}

// LoadSnapshot returns the 40 real entries (Google Argon2026h2 and
// Cloudflare Nimbus2026, x509 and precert) of
// certstream/reloading01-rust-parser-snapshot-live_ct.json, as recorded
// and as fake-log entries.
func LoadSnapshot(tb testing.TB) ([]Snapshot, []Entry) {
	tb.Helper()
	path := filepath.Join(SharedDir(tb, "certstream"), "reloading01-rust-parser-snapshot-live_ct.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var snaps []Snapshot
	if err := json.Unmarshal(raw, &snaps); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	entries := make([]Entry, len(snaps))
	for i, s := range snaps {
		if entries[i], err = entryFromRFC6962(s.LeafInput, s.ExtraData); err != nil {
			tb.Fatalf("%s %s: %v", path, s.Name, err)
		}
	}
	return snaps, entries
}

func entryFromRFC6962(leafInput, extraData []byte) (Entry, error) {
	raw, err := ct.RawLogEntryFromLeaf(0, &ct.LeafEntry{LeafInput: leafInput, ExtraData: extraData})
	if err != nil {
		return Entry{}, err
	}
	te := raw.Leaf.TimestampedEntry
	e := Entry{Timestamp: int64(te.Timestamp), Cert: raw.Cert.Data, LeafInput: leafInput, ExtraData: extraData}
	for _, c := range raw.Chain {
		e.Chain = append(e.Chain, c.Data)
	}
	if te.EntryType == ct.PrecertLogEntryType {
		e.Precert = true
		e.TBS = te.PrecertEntry.TBSCertificate
		e.IssuerKeyHash = te.PrecertEntry.IssuerKeyHash
	}
	return e, nil
}

// Generate returns n entries for volume: a pool of generated certificates
// and precertificates under one generated CA, reused in turn with
// increasing timestamps from 2026-01-01. Alternate entries are precerts.
func Generate(tb testing.TB, n int) []Entry {
	tb.Helper()
	genOnce.Do(func() { genPool = newPool(tb) })
	if genPool == nil {
		tb.Fatal("ctlogtest: generating certificates failed")
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	out := make([]Entry, n)
	for i := range out {
		out[i] = genPool[i%2][(i/2)%poolSize]
		out[i].Timestamp = base + int64(i)
	}
	return out
}

// The generated certificates are made once per process: key generation
// and signing dominate otherwise, under -race most of all.
const poolSize = 64

var (
	genOnce sync.Once
	genPool *[2][poolSize]Entry
)

func newPool(tb testing.TB) *[2][poolSize]Entry {
	caKey, ca := newCA(tb)
	keyHash := sha256.Sum256(ca.RawSubjectPublicKeyInfo)
	var certs [2][poolSize]Entry
	for i := range poolSize {
		for p := range 2 {
			der := newLeaf(tb, caKey, ca, i, p == 1)
			e := Entry{Cert: der, Chain: [][]byte{ca.Raw}, Precert: p == 1}
			if e.Precert {
				e.IssuerKeyHash = keyHash
				e.TBS = precertTBS(tb, der)
			}
			certs[p][i] = e
		}
	}
	return &certs
}

func newCA(tb testing.TB) (*ecdsa.PrivateKey, *x509.Certificate) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ctlogtest CA", Organization: []string{"ctlogtest"}},
		NotBefore: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return key, ca
}

var oidPoison = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 3}

func newLeaf(tb testing.TB, caKey *ecdsa.PrivateKey, ca *x509.Certificate, i int, precert bool) []byte {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	name := fmt.Sprintf("host%d.ctlogtest.example", i)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(int64(1000 + 2*i)), Subject: pkix.Name{CommonName: name},
		DNSNames:  []string{name, "www." + name},
		NotBefore: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC),
	}
	if precert {
		tmpl.SerialNumber.Add(tmpl.SerialNumber, big.NewInt(1))
		tmpl.ExtraExtensions = []pkix.Extension{{Id: oidPoison, Critical: true, Value: []byte{0x05, 0x00}}}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

func precertTBS(tb testing.TB, der []byte) []byte {
	tb.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	tbs, err := ctx509.RemoveCTPoison(c.RawTBSCertificate)
	if err != nil {
		tb.Fatal(err)
	}
	return tbs
}
