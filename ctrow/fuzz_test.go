package ctrow

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/google/certificate-transparency-go/x509"

	"github.com/certstream-arrow/certstream-arrow/stream"
)

// FuzzFromRFC6962 feeds get-entries pieces through FromRFC6962 and Update:
// neither may panic, and every row keeps the Update contract.
func FuzzFromRFC6962(f *testing.F) {
	for _, s := range loadSnapshots(f, "reloading01-rust-parser-snapshot-live_ct.json") {
		f.Add(s.LeafInput, s.ExtraData)
	}
	f.Fuzz(func(t *testing.T, leafInput, extraData []byte) {
		e, err := FromRFC6962(1, leafInput, extraData)
		if want, ok := oracleRFC6962(leafInput, extraData); !sameEntry(e, err, want, ok) {
			t.Fatalf("FromRFC6962 %+v, %v; certificate-transparency-go's decoder %+v, ok %v", e, err, want, ok)
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		checkRow(t, e, LogInfo{URL: "https://ct.example/", Name: "Example", Link: GetEntriesLink})
	})
}

// FuzzUpdate feeds certificate bytes to Update directly.
func FuzzUpdate(f *testing.F) {
	for _, der := range realCerts(f) {
		f.Add(der)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		checkRow(t, Entry{Index: 3, Type: Precert, Cert: der, Chain: [][]byte{der, nil}}, LogInfo{Link: TileLink})
		checkWalk(t, der)
	})
}

// checkWalk compares the extension walk with certificate-transparency-go's
// x509 parser on a certificate both read.
func checkWalk(t *testing.T, der []byte) {
	t.Helper()
	cert, err := x509.ParseCertificate(der)
	if cert == nil || x509.IsFatal(err) {
		return
	}
	f, err := readFront(der)
	if err != nil {
		t.Fatalf("the x509 parser reads a certificate the walk does not: %v", err)
	}
	x, err := readExtensions(f.rest)
	if err != nil {
		t.Fatalf("the x509 parser reads extensions the walk does not: %v", err)
	}
	if !slices.Equal(strs(x.dnsNames), cert.DNSNames) || x.isCA != (cert.BasicConstraintsValid && cert.IsCA) {
		t.Errorf("walk %q CA %v, x509 parser %q CA %v", strs(x.dnsNames), x.isCA, cert.DNSNames, cert.IsCA)
	}
}

// checkRow converts e and checks what holds for every row.
func checkRow(t *testing.T, e Entry, log LogInfo) {
	t.Helper()
	u, err := Update(e, log)
	switch {
	case err == nil || errors.Is(err, ErrPartial):
		if u == nil {
			t.Fatalf("no row with error %v", err)
		}
	case errors.Is(err, ErrNotCertificate) || errors.Is(err, ErrType):
		if u != nil {
			t.Fatalf("row with error %v", err)
		}
		return
	default:
		t.Fatalf("unexpected error %v", err)
	}
	if sum := sha256.Sum256(e.Cert); !bytes.Equal(u.SHA256, sum[:]) || !bytes.Equal(u.DER, e.Cert) {
		t.Error("digest or DER not of the entry's certificate")
	}
	for _, s := range [][]byte{u.UpdateType, u.CertLink, u.SourceURL, u.SourceName, u.Subject, u.SubjectCN,
		u.SubjectO, u.Issuer, u.IssuerCN, u.IssuerO, u.Serial, u.SigAlg} {
		if !utf8.Valid(s) {
			t.Errorf("invalid UTF-8 %q", s)
		}
	}
	for _, list := range [][][]byte{u.Domains, u.ChainNames} {
		for _, s := range list {
			if !utf8.Valid(s) {
				t.Errorf("invalid UTF-8 %q", s)
			}
		}
	}
	if u.Kind != stream.KindCertificate || u.Subject == nil || u.Issuer == nil || u.Domains == nil {
		t.Errorf("kind %v, subject %q, issuer %q, domains %q", u.Kind, u.Subject, u.Issuer, u.Domains)
	}
}
