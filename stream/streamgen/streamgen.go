// Package streamgen generates realistic CertStream messages, shaped like the
// ones real servers send (see ../shared/testdata/certstream for recorded
// ones): for tests, benchmarks and an offline demo server. It never reads
// recorded data; output is deterministic for a seed.
package streamgen

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Kind selects the shape of generated messages, as the real servers'
// endpoints do.
type Kind string

// The stream kinds real servers offer.
const (
	Lite        Kind = "lite"         // no DER
	Full        Kind = "full"         // leaf and chain DER
	DomainsOnly Kind = "domains-only" // dns_entries
)

// Options shapes a Generator's messages.
type Options struct {
	Kind  Kind
	Seed  uint64
	Start time.Time     // seen of the first message; zero: 2026-05-20T12:00Z
	Step  time.Duration // seen advances this much per message; zero: 10ms
}

// Generator produces realistic CertStream messages, shaped like the
// reloading01 Rust server's recorded ones (lite ~1.5 KB, full ~5 KB): a few
// CT logs with increasing cert_index, common issuers, SAN counts with a long
// tail up to 1000, random but well-formed names, sha1/sha256 and the usual
// extensions, and on the full stream the leaf DER (structured like a real
// certificate, see certDER) and a 2-certificate chain (without DER, as that
// server sends it). Deterministic for a seed.
type Generator struct {
	opts  Options
	rng   *rand.Rand
	n     int
	index map[string]int64
}

// New returns a Generator.
func New(o Options) *Generator {
	if o.Kind == "" {
		o.Kind = Lite
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 5, 20, 12, 0, 0, 0, time.UTC)
	}
	if o.Step == 0 {
		o.Step = 10 * time.Millisecond
	}
	return &Generator{opts: o, rng: rand.New(rand.NewPCG(o.Seed, 0x5eed)), index: map[string]int64{}}
}

type genLog struct{ name, url string }

var genLogs = []genLog{
	{"Google 'Argon2026h2'", "https://ct.googleapis.com/logs/us1/argon2026h2/"},
	{"Google 'Xenon2026h2'", "https://ct.googleapis.com/logs/eu1/xenon2026h2/"},
	{"Cloudflare 'Nimbus2026'", "https://ct.cloudflare.com/logs/nimbus2026/"},
	{"Let's Encrypt 'Oak2026h2'", "https://oak.ct.letsencrypt.org/2026h2/"},
	{"DigiCert 'Wyvern2026h2'", "https://wyvern.ct.digicert.com/2026h2/"},
	{"Sectigo 'Elephant2026h2'", "https://elephant2026h2.ct.sectigo.com/"},
}

type genIssuer struct{ c, cn, o, alg string }

var genIssuers = []genIssuer{
	{"US", "R10", "Let's Encrypt", "sha256, rsa"},
	{"US", "R11", "Let's Encrypt", "sha256, rsa"},
	{"US", "E5", "Let's Encrypt", "ecdsa, sha384"},
	{"US", "WR1", "Google Trust Services", "sha256, rsa"},
	{"GB", "Sectigo RSA Domain Validation Secure Server CA", "Sectigo Limited", "sha256, rsa"},
	{"AT", "ZeroSSL ECC DV SSL CA 2", "ZeroSSL GmbH", "ecdsa, sha384"},
}

var (
	genWords = strings.Fields("login secure bank mail shop app api cdn portal www dev test cloud auth account pay my web static admin vpn files media blog status support")
	genTLDs  = strings.Fields("com net org de io co.uk nl fr app dev xyz shop online")
)

// Take returns the next n messages.
func (g *Generator) Take(n int) [][]byte {
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = g.Next()
	}
	return msgs
}

// MeanSize returns the mean length of msgs in bytes (for b.SetBytes), or 0
// for none.
func MeanSize(msgs [][]byte) int {
	if len(msgs) == 0 {
		return 0
	}
	total := 0
	for _, m := range msgs {
		total += len(m)
	}
	return total / len(msgs)
}

// Next returns the next message as compact JSON.
func (g *Generator) Next() []byte {
	g.n++
	if g.opts.Kind == DomainsOnly {
		b, _ := json.Marshal(map[string]any{"message_type": "dns_entries", "data": g.domains()})
		return b
	}
	b, _ := json.Marshal(g.certificate()) // fixed, well-formed types: cannot fail
	return b
}

// The field order follows the Rust servers.
type genMessage struct {
	MessageType string  `json:"message_type"`
	Data        genData `json:"data"`
}

type genData struct {
	UpdateType  string         `json:"update_type"`
	Leaf        genCert        `json:"leaf_cert"`
	Chain       []genCert      `json:"chain,omitempty"`
	CertIndex   int64          `json:"cert_index"`
	CertLink    string         `json:"cert_link"`
	Seen        float64        `json:"seen"`
	SubmittedAt float64        `json:"submission_timestamp"`
	Source      map[string]any `json:"source"`
}

type genCert struct {
	Subject    map[string]any `json:"subject"`
	Issuer     map[string]any `json:"issuer"`
	Serial     string         `json:"serial_number"`
	NotBefore  int64          `json:"not_before"`
	NotAfter   any            `json:"not_after"`
	SHA1       string         `json:"fingerprint"`
	SHA1Again  string         `json:"sha1"`
	SHA256     string         `json:"sha256"`
	SigAlg     string         `json:"signature_algorithm"`
	IsCA       bool           `json:"is_ca"`
	Domains    []string       `json:"all_domains,omitempty"`
	DER        string         `json:"as_der,omitempty"`
	Extensions map[string]any `json:"extensions"`
}

func (g *Generator) certificate() genMessage {
	lg := genLogs[g.rng.IntN(len(genLogs))]
	if g.index[lg.url] == 0 {
		g.index[lg.url] = 1_000_000_000 + g.rng.Int64N(100_000_000)
	}
	g.index[lg.url]++
	idx := g.index[lg.url]
	iss := genIssuers[g.rng.IntN(len(genIssuers))]
	seen := g.opts.Start.Add(time.Duration(g.n-1) * g.opts.Step)
	domains := g.domains()
	d := genData{
		UpdateType:  []string{"X509LogEntry", "PrecertLogEntry"}[g.rng.IntN(2)],
		Leaf:        g.leaf(domains, iss, seen),
		CertIndex:   idx,
		CertLink:    fmt.Sprintf("%sct/v1/get-entries?start=%d&end=%d", lg.url, idx, idx),
		Seen:        float64(seen.UnixMicro()) / 1e6,
		SubmittedAt: float64(seen.Add(-time.Hour).UnixMilli()) / 1e3,
		Source:      map[string]any{"name": lg.name, "url": lg.url},
	}
	if g.opts.Kind == Full {
		d.Chain = g.chain(iss)
	}
	return genMessage{MessageType: "certificate_update", Data: d}
}

func (g *Generator) leaf(domains []string, iss genIssuer, seen time.Time) genCert {
	serial := g.der(16)
	serial[0] &= 0x7f
	notBefore, notAfterTime := seen.Add(-time.Hour), seen.Add(90*24*time.Hour)
	notAfter := any(notAfterTime.Unix())
	if g.rng.IntN(500) == 0 {
		notAfter = "no_expiration" // Elixir's spelling for a missing date
	}
	var der []byte
	if g.opts.Kind == Full {
		der = g.certDER(domains, iss, notBefore, notAfterTime, serial)
	} else {
		der = g.der(900 + len(domains)*40) // only hashed: no need for structure
	}
	sum := sha256.Sum256(der)
	ski := g.der(20)
	c := genCert{
		Subject:   map[string]any{"CN": domains[0], "aggregated": "/CN=" + domains[0]},
		Issuer:    dn(iss.c, iss.cn, iss.o),
		Serial:    fmt.Sprintf("%X", serial),
		NotBefore: notBefore.Unix(),
		NotAfter:  notAfter,
		SHA1:      colonHex(sha1Sum(der)),
		SHA256:    colonHex(sum[:]),
		SigAlg:    iss.alg,
		Domains:   domains,
		Extensions: map[string]any{
			"authorityInfoAccess":    fmt.Sprintf("URI:http://%s.o.example-ca.net/, URI:http://%s.i.example-ca.net/ca.crt", iss.cn, iss.cn),
			"authorityKeyIdentifier": "keyid:" + strings.ToLower(colonHex(sha1Sum([]byte(iss.cn)))),
			"basicConstraints":       "CA:FALSE",
			"certificatePolicies":    "Policy: 2.23.140.1.2.1\n",
			"extendedKeyUsage":       "serverAuth",
			"keyUsage":               "Digital Signature, Key Encipherment",
			"subjectAltName":         "DNS:" + strings.Join(domains, ", DNS:"),
			"subjectKeyIdentifier":   "keyid:" + strings.ToLower(colonHex(ski)),
		},
	}
	c.SHA1Again = c.SHA1
	if g.rng.IntN(3) > 0 {
		c.Extensions["ctlPoisonByte"] = true
	}
	if g.opts.Kind == Full {
		c.DER = base64.StdEncoding.EncodeToString(der)
	}
	return c
}

// chain returns the issuer's intermediate and root, without DER, as the
// Rust servers send them on the full stream.
func (g *Generator) chain(iss genIssuer) []genCert {
	root := dn("US", "ISRG Root X1", "Internet Security Research Group")
	inter := genCert{Subject: dn(iss.c, iss.cn, iss.o), Issuer: root, Serial: "8A7D3E13D62F30EF2386BD29076B34F8",
		NotBefore: 1709683200, NotAfter: 1899072000, SigAlg: "sha256, rsa", IsCA: true,
		Extensions: map[string]any{"basicConstraints": "CA:TRUE, pathlen:0", "keyUsage": "Digital Signature, Certificate Sign, CRL Sign"}}
	top := genCert{Subject: root, Issuer: root, Serial: "8210CFB0D240E3594463E0BB63828B00",
		NotBefore: 1433399616, NotAfter: 2064551616, SigAlg: "sha256, rsa", IsCA: true,
		Extensions: map[string]any{"basicConstraints": "CA:TRUE", "keyUsage": "Certificate Sign, CRL Sign"}}
	for _, c := range []*genCert{&inter, &top} {
		c.SHA1 = colonHex(sha1Sum([]byte(c.Serial)))
		c.SHA1Again = c.SHA1
		sum := sha256.Sum256([]byte(c.Serial))
		c.SHA256 = colonHex(sum[:])
	}
	return []genCert{inter, top}
}

// domains returns a SAN list: usually one to three names, with a long tail
// up to 1000 as seen on real CT logs.
func (g *Generator) domains() []string {
	n := 1 + g.rng.IntN(3)
	switch r := g.rng.IntN(1000); {
	case r == 0:
		n = 100 + g.rng.IntN(901)
	case r < 20:
		n = 10 + g.rng.IntN(90)
	}
	base := fmt.Sprintf("%s-%s%d.%s", genWords[g.rng.IntN(len(genWords))], genWords[g.rng.IntN(len(genWords))],
		g.rng.IntN(10000), genTLDs[g.rng.IntN(len(genTLDs))])
	out := []string{base}
	for i := 1; i < n; i++ {
		if i == 1 {
			out = append(out, "*."+base)
			continue
		}
		out = append(out, fmt.Sprintf("%s%d.%s", genWords[g.rng.IntN(len(genWords))], i, base))
	}
	return out
}

func (g *Generator) der(n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := g.rng.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func dn(c, cn, o string) map[string]any {
	return map[string]any{"C": c, "CN": cn, "O": o, "aggregated": fmt.Sprintf("/C=%s/CN=%s/O=%s", c, cn, o)}
}

func sha1Sum(b []byte) []byte {
	s := sha1.Sum(b)
	return s[:]
}

func colonHex(b []byte) string {
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = fmt.Sprintf("%02X", x)
	}
	return strings.Join(parts, ":")
}
