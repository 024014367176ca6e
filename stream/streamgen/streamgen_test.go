package streamgen_test

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/certstream-arrow/certstream-arrow/stream/streamgen"
)

// The full stream's DER is a certificate crypto/x509 parses, and it agrees
// with the message: names, serial, issuer, validity and sha256.
func TestFullDERIsACertificate(t *testing.T) {
	g := streamgen.New(streamgen.Options{Kind: streamgen.Full, Seed: 3})
	for i := range 500 {
		var m struct {
			Data struct {
				Leaf struct {
					DER       string   `json:"as_der"`
					Domains   []string `json:"all_domains"`
					Serial    string   `json:"serial_number"`
					SHA256    string   `json:"sha256"`
					NotBefore int64    `json:"not_before"`
					Issuer    struct {
						CN string `json:"CN"`
					} `json:"issuer"`
				} `json:"leaf_cert"`
			} `json:"data"`
		}
		if err := json.Unmarshal(g.Next(), &m); err != nil {
			t.Fatal(err)
		}
		leaf := m.Data.Leaf
		der, err := base64.StdEncoding.DecodeString(leaf.DER)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		sum := sha256.Sum256(der)
		if !slices.Equal(c.DNSNames, leaf.Domains) || fmt.Sprintf("%X", c.SerialNumber) != strings.TrimLeft(leaf.Serial, "0") ||
			c.Issuer.CommonName != leaf.Issuer.CN || c.NotBefore.Unix() != leaf.NotBefore ||
			fmt.Sprintf("%X", sum) != strings.ReplaceAll(leaf.SHA256, ":", "") {
			t.Fatalf("message %d: certificate %v %X %s %v, message %v %s %s %d", i, c.DNSNames, c.SerialNumber,
				c.Issuer.CommonName, c.NotBefore, leaf.Domains, leaf.Serial, leaf.Issuer.CN, leaf.NotBefore)
		}
	}
}

// The same seed gives the same messages.
func TestDeterministic(t *testing.T) {
	for _, kind := range []streamgen.Kind{streamgen.Lite, streamgen.Full, streamgen.DomainsOnly} {
		a, b := streamgen.New(streamgen.Options{Kind: kind, Seed: 9}), streamgen.New(streamgen.Options{Kind: kind, Seed: 9})
		for i := range 50 {
			if x, y := a.Next(), b.Next(); string(x) != string(y) {
				t.Fatalf("%s message %d differs", kind, i)
			}
		}
	}
}

func BenchmarkNext(b *testing.B) {
	for _, kind := range []streamgen.Kind{streamgen.Lite, streamgen.Full} {
		b.Run("stream="+string(kind), func(b *testing.B) {
			g := streamgen.New(streamgen.Options{Kind: kind, Seed: 1})
			b.ReportAllocs()
			for b.Loop() {
				g.Next()
			}
		})
	}
}
