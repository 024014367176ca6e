package ctrow

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	stdx509 "crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/certstream-arrow/certstream-arrow/stream"
	"github.com/certstream-arrow/certstream-arrow/stream/streamtest"
)

// genCert returns a self-signed certificate for cn with the given SAN
// extension value (raw DER), or the usual DNS SANs when san is nil.
func genCert(tb testing.TB, cn string, dns []string, san []byte) []byte {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &stdx509.Certificate{
		SerialNumber: big.NewInt(0x0102),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC),
		DNSNames:     dns,
	}
	if san != nil {
		tmpl.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Value: san}}
	}
	der, err := stdx509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

// sanValue encodes GeneralNames from (tag, value) pairs.
func sanValue(tb testing.TB, names ...any) []byte {
	tb.Helper()
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		for i := 0; i < len(names); i += 2 {
			tag := cbasn1.Tag(names[i].(int)).ContextSpecific()
			b.AddASN1(tag, func(b *cryptobyte.Builder) { b.AddBytes([]byte(names[i+1].(string))) })
		}
	})
	return b.BytesOrPanic()
}

func TestUpdate(t *testing.T) {
	for _, tc := range []struct {
		name     string
		der      []byte
		domains  []string
		isCA     stream.Bool
		wantErr  error
		wantNoUp bool
	}{
		{"plain", genCert(t, "a.test", []string{"a.test", "b.test"}, nil), []string{"a.test", "b.test"}, stream.BoolFalse, nil, false},
		{"URI SAN the x509 parser refuses: read by the fallback walk",
			genCert(t, "a.test", nil, sanValue(t, 2, "b.test", 6, "http://[::1", 2, "c.test")),
			[]string{"a.test", "b.test", "c.test"}, stream.BoolFalse, nil, false},
		{"SAN value that is not GeneralNames: partial row",
			genCert(t, "a.test", nil, []byte{0x04, 0x00}), []string{"a.test"}, stream.BoolNull, ErrPartial, false},
		{"not a certificate", []byte("garbage"), nil, 0, ErrNotCertificate, true},
		{"empty", nil, nil, 0, ErrNotCertificate, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := Update(Entry{Index: 7, Type: X509, Cert: tc.der}, LogInfo{})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "entry 7") {
				t.Errorf("error %q does not name the index", err)
			}
			if (u == nil) != tc.wantNoUp {
				t.Fatalf("update %v, want none: %v", u, tc.wantNoUp)
			}
			if u == nil {
				return
			}
			if got := strs(u.Domains); !slices.Equal(got, tc.domains) {
				t.Errorf("domains %q, want %q", got, tc.domains)
			}
			if u.IsCA != tc.isCA {
				t.Errorf("is_ca %v, want %v", u.IsCA, tc.isCA)
			}
			if !bytes.Equal(u.DER, tc.der) || string(u.Serial) != "0102" || string(u.SigAlg) != "ecdsa, sha256" {
				t.Errorf("der/serial/sig: %d bytes, %s, %s", len(u.DER), u.Serial, u.SigAlg)
			}
		})
	}
}

func TestUpdateType(t *testing.T) {
	der := genCert(t, "a.test", nil, nil)
	for _, tc := range []struct {
		typ  Type
		want string
		err  error
	}{
		{X509, "X509LogEntry", nil},
		{Precert, "PrecertLogEntry", nil},
		{0, "", ErrType},
		{9, "", ErrType},
	} {
		u, err := Update(Entry{Type: tc.typ, Cert: der}, LogInfo{})
		if !errors.Is(err, tc.err) || err == nil && string(u.UpdateType) != tc.want {
			t.Errorf("type %v: update %v, err %v; want %s, %v", tc.typ, u, err, tc.want, tc.err)
		}
	}
}

func TestDomains(t *testing.T) {
	many := make([]string, 40)
	for i := range many {
		many[i] = string(rune('a'+i%20)) + ".test" // each twice
	}
	for _, tc := range []struct {
		name string
		cn   []byte
		isCA bool
		sans []string
		want []string
	}{
		{"CN first, not repeated", []byte("b.test"), false, []string{"a.test", "b.test"}, []string{"b.test", "a.test"}},
		{"CN that is no DNS name still first", []byte("rcgen self signed cert"), false, []string{"x.test"}, []string{"rcgen self signed cert", "x.test"}},
		{"a CA's CN left out", []byte("Root CA"), true, []string{"ca.test"}, []string{"ca.test"}},
		{"empty CN left out", []byte{}, false, []string{"a.test"}, []string{"a.test"}},
		{"no CN, no SAN: empty, not null", nil, false, nil, []string{}},
		{"case kept, compared exactly", []byte("A.test"), false, []string{"a.test", "A.test"}, []string{"A.test", "a.test"}},
		{"SAN duplicates once", nil, false, []string{"a.test", "a.test"}, []string{"a.test"}},
		{"many SANs (set) duplicates once", []byte("a.test"), false, many, many[:20]},
		{"not UTF-8 left out", nil, false, []string{"\xff.test", "a.test"}, []string{"a.test"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := domains(tc.cn, tc.isCA, byteSlices(tc.sans))
			if got == nil || !slices.Equal(strs(got), tc.want) {
				t.Errorf("domains = %q, want %q", strs(got), tc.want)
			}
		})
	}
}

func TestCertLink(t *testing.T) {
	for _, tc := range []struct {
		name  string
		log   LogInfo
		index int64
		want  any
	}{
		{"RFC 6962, trailing slash", LogInfo{URL: "https://ct.example/log/", Link: GetEntriesLink}, 12, "https://ct.example/log/ct/v1/get-entries?start=12&end=12"},
		{"RFC 6962, no trailing slash", LogInfo{URL: "https://ct.example/log", Link: GetEntriesLink}, 12, "https://ct.example/log/ct/v1/get-entries?start=12&end=12"},
		{"static CT tile", LogInfo{URL: "https://mon.example/", Link: TileLink}, 256*1234067 + 5, "https://mon.example/tile/data/x001/x234/067"},
		{"none", LogInfo{URL: "https://ct.example/"}, 12, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkOptional(t, "cert_link", certLink(tc.log, tc.index), tc.want)
		})
	}
}

func TestLogInfo(t *testing.T) {
	u, err := Update(Entry{Type: X509, Cert: genCert(t, "a.test", nil, nil), Timestamp: 1779302893443},
		LogInfo{URL: "https://ct.example/", Name: "Bad \xff name", Link: GetEntriesLink})
	if err != nil {
		t.Fatal(err)
	}
	if string(u.SourceURL) != "https://ct.example/" || string(u.SourceName) != "Bad \uFFFD name" {
		t.Errorf("source %q %q", u.SourceURL, u.SourceName)
	}
	if want := time.UnixMilli(1779302893443); !u.SubmittedAt.Equal(want) || !u.Seen.IsZero() {
		t.Errorf("submitted_at %v, want %v; seen %v, want null", u.SubmittedAt, want, u.Seen)
	}
	u, _ = Update(Entry{Type: X509, Cert: genCert(t, "a.test", nil, nil)}, LogInfo{URL: "https://\xff/", Link: TileLink})
	if string(u.CertLink) != "https://\uFFFD/tile/data/000" || string(u.SourceURL) != "https://\uFFFD/" {
		t.Errorf("invalid UTF-8 in the URL: %q %q", u.CertLink, u.SourceURL)
	}
	u, _ = Update(Entry{Type: X509, Cert: genCert(t, "a.test", nil, nil)}, LogInfo{})
	if u.SourceURL != nil || u.SourceName != nil || u.CertLink != nil || u.ChainNames != nil {
		t.Errorf("empty LogInfo and chain: %q %q %q %q, want null", u.SourceURL, u.SourceName, u.CertLink, u.ChainNames)
	}
}

// realCerts returns every certificate in ../shared/testdata/x509, by name.
func realCerts(tb testing.TB) map[string][]byte {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(streamtest.SharedDir(tb, "x509"), "*", "*"))
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		switch filepath.Ext(f) {
		case ".der":
			out[filepath.Base(f)] = raw
		case ".pem":
			for i := 0; ; i++ {
				var b *pem.Block
				if b, raw = pem.Decode(raw); b == nil {
					break
				}
				out[filepath.Base(f)+"#"+string(rune('0'+i))] = b.Bytes
			}
		}
	}
	if len(out) < 60 {
		tb.Fatalf("%d certificates in the shared x509 test data, want 60 or more", len(out))
	}
	return out
}

// TestRealCertificates converts every shared test certificate, the
// deliberately malformed ones included, and checks some known rows.
func TestRealCertificates(t *testing.T) {
	certs := realCerts(t)
	for name, der := range certs {
		if _, err := Update(Entry{Type: X509, Cert: der}, LogInfo{}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, tc := range []struct {
		file, subject string
		domains       []string
		notAfter      string
		isCA          stream.Bool
	}{
		{"emb.der", "/C=PH/CN=119.92.161.5/L=Quezon City/O=Environmental Management Bureau (EMB)/ST=Metro Manila",
			[]string{"119.92.161.5"}, "2018-12-21T07:41:06Z", stream.BoolFalse}, // IP SAN only: the CN
		{"equifax.der", "/C=US/O=Equifax/OU=Equifax Secure Certificate Authority", []string{}, "2018-08-22T16:41:51Z", stream.BoolTrue},
		{"device-cert.der", "/C=AU/CN=ABC123/O=Some-Organization/OU=Device Certificate/ST=Some-State",
			[]string{"ABC123"}, "9999-12-31T23:59:59Z", stream.BoolFalse},
		// A UTCTime with "+0000": the x509 parser refuses it, the servers' does not.
		// L is a T61String holding UTF-8: its bytes as they are, not Latin-1 decoded.
		{"ftp.eurofins.se.der", "/C=se/CN=SE01FWAA/L=Lidk\u00f6ping/O=Eurofins", []string{"SE01FWAA"}, "2036-03-10T12:40:10Z", stream.BoolFalse},
		{"merge-delay-monitor-precert.der", "/C=GB/L=London/O=Google Certificate Transparency",
			[]string{"flowers-to-the-world.com"}, "2018-12-08T23:18:05Z", stream.BoolFalse},
	} {
		t.Run(tc.file, func(t *testing.T) {
			u, err := Update(Entry{Type: X509, Cert: certs[tc.file]}, LogInfo{})
			if err != nil {
				t.Fatal(err)
			}
			if string(u.Subject) != tc.subject || !slices.Equal(strs(u.Domains), tc.domains) || u.IsCA != tc.isCA ||
				u.NotAfter.Format(time.RFC3339) != tc.notAfter {
				t.Errorf("got %q %q is_ca %v not_after %v\nwant %q %q is_ca %v not_after %s",
					u.Subject, strs(u.Domains), u.IsCA, u.NotAfter, tc.subject, tc.domains, tc.isCA, tc.notAfter)
			}
		})
	}
}

// TestExtensionWalkAgrees checks the extension walk against
// certificate-transparency-go's x509 parser on every shared certificate
// both read.
func TestExtensionWalkAgrees(t *testing.T) {
	for name, der := range realCerts(t) {
		t.Run(name, func(t *testing.T) { checkWalk(t, der) })
	}
}

func byteSlices(ss []string) [][]byte {
	var out [][]byte
	for _, s := range ss {
		out = append(out, []byte(s))
	}
	return out
}

func strs(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = string(b)
	}
	return out
}
