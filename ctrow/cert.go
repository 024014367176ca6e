package ctrow

import (
	"encoding/asn1"
	"errors"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// front holds the fields of a certificate that the servers render from raw
// bytes: every Go parser normalises them differently from the servers, so
// they are read from the DER directly. Strings alias the DER.
type front struct {
	serial    []byte // INTEGER content, as encoded
	sigOID    []byte // outer signatureAlgorithm OID content
	issuer    dn
	subject   dn
	notBefore time.Time
	notAfter  time.Time
	rest      cryptobyte.String // the TBSCertificate after the subject
}

// ErrNotCertificate reports an entry whose Cert cannot be read as a
// certificate as far as its subject: no row can be made.
var ErrNotCertificate = errors.New("not an X.509 certificate")

// readFront walks Certificate and the head of its TBSCertificate:
//
//	Certificate ::= SEQUENCE { tbs, signatureAlgorithm, signature }
//	TBSCertificate ::= SEQUENCE { [0] version, serial, signature, issuer,
//	    validity, subject, ... }
//
// Anything after the subject is left to readExtensions. A malformed
// validity leaves the times zero rather than failing, as a time the servers
// cannot read is null to readers too.
func readFront(der []byte) (front, error) {
	var f front
	s := cryptobyte.String(der)
	var cert, tbs, sigAlg cryptobyte.String
	if !s.ReadASN1(&cert, cbasn1.SEQUENCE) ||
		!cert.ReadASN1(&tbs, cbasn1.SEQUENCE) ||
		!cert.ReadASN1(&sigAlg, cbasn1.SEQUENCE) {
		return f, ErrNotCertificate
	}
	var oid cryptobyte.String
	if sigAlg.ReadASN1(&oid, cbasn1.OBJECT_IDENTIFIER) {
		f.sigOID = oid
	}
	var serial, sig, issuer, validity, subject cryptobyte.String
	if !tbs.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) ||
		!tbs.ReadASN1(&serial, cbasn1.INTEGER) ||
		!tbs.ReadASN1(&sig, cbasn1.SEQUENCE) ||
		!tbs.ReadASN1(&issuer, cbasn1.SEQUENCE) ||
		!tbs.ReadASN1(&validity, cbasn1.SEQUENCE) ||
		!tbs.ReadASN1(&subject, cbasn1.SEQUENCE) {
		return f, ErrNotCertificate
	}
	f.serial = serial
	f.issuer = readDN(issuer)
	f.subject = readDN(subject)
	f.notBefore = readTime(&validity)
	f.notAfter = readTime(&validity)
	f.rest = tbs
	return f, nil
}

// readTime reads a UTCTime or GeneralizedTime, or returns the zero time.
// It is as lenient as the servers' parser: seconds and a "+hhmm" offset are
// optional in UTCTime, fractions of a second are allowed (and dropped) in
// GeneralizedTime.
func readTime(s *cryptobyte.String) time.Time {
	var v cryptobyte.String
	var tag cbasn1.Tag
	if !s.ReadAnyASN1(&v, &tag) {
		return time.Time{}
	}
	var layouts []string
	switch tag {
	case cbasn1.UTCTime:
		layouts = []string{"060102150405Z0700", "0601021504Z0700"}
	case cbasn1.GeneralizedTime:
		layouts = []string{"20060102150405Z0700", "20060102150405.999999999Z0700"}
	}
	for _, layout := range layouts {
		t, err := time.Parse(layout, string(v))
		if err != nil {
			continue
		}
		if tag == cbasn1.UTCTime && t.Year() >= 2050 {
			t = t.AddDate(-100, 0, 0) // RFC 5280: YY 50-99 is 19YY
		}
		if t.Year() < 1 {
			break // outside what stream.Update holds, as the decoder treats it
		}
		return t.UTC().Truncate(time.Second)
	}
	return time.Time{}
}

// dn holds the attributes of a distinguished name that the servers keep.
// A nil field means the name has no such attribute.
type dn struct {
	c, cn, l, o, ou, st []byte
}

// Attribute type OIDs (content bytes) of the attributes in dn.
var (
	oidC  = string([]byte{0x55, 0x04, 0x06})
	oidCN = string([]byte{0x55, 0x04, 0x03})
	oidL  = string([]byte{0x55, 0x04, 0x07})
	oidST = string([]byte{0x55, 0x04, 0x08})
	oidO  = string([]byte{0x55, 0x04, 0x0a})
	oidOU = string([]byte{0x55, 0x04, 0x0b})
)

// readDN reads a Name (the content of its SEQUENCE) the way the Rust
// servers' x509-parser walk does: attributes in encoded order, a later one
// of a type replacing an earlier one, the value's content bytes kept
// whatever their string type if they are valid UTF-8 and skipped if not.
// A malformed tail ends the walk and keeps what was read.
func readDN(name cryptobyte.String) dn {
	var d dn
	for !name.Empty() {
		var rdn cryptobyte.String
		if !name.ReadASN1(&rdn, cbasn1.SET) {
			return d
		}
		for !rdn.Empty() {
			var atv, oid, value cryptobyte.String
			var tag cbasn1.Tag
			if !rdn.ReadASN1(&atv, cbasn1.SEQUENCE) ||
				!atv.ReadASN1(&oid, cbasn1.OBJECT_IDENTIFIER) ||
				!atv.ReadAnyASN1(&value, &tag) {
				return d
			}
			if dst := d.field(string(oid)); dst != nil && utf8.Valid(value) {
				*dst = nonNil(value)
			}
		}
	}
	return d
}

func (d *dn) field(oid string) *[]byte {
	switch oid {
	case oidC:
		return &d.c
	case oidCN:
		return &d.cn
	case oidL:
		return &d.l
	case oidO:
		return &d.o
	case oidOU:
		return &d.ou
	case oidST:
		return &d.st
	}
	return nil
}

// aggregated renders the name as the servers' "aggregated" string: the
// attributes present, in the fixed order C, CN, L, O, OU, ST, each as
// "/KEY=value". A name without any of them gives "", never null.
func (d *dn) aggregated() []byte {
	parts := [...]struct {
		key string
		v   []byte
	}{{"/C=", d.c}, {"/CN=", d.cn}, {"/L=", d.l}, {"/O=", d.o}, {"/OU=", d.ou}, {"/ST=", d.st}}
	n := 0
	for _, p := range parts {
		if p.v != nil {
			n += len(p.key) + len(p.v)
		}
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		if p.v != nil {
			out = append(out, p.key...)
			out = append(out, p.v...)
		}
	}
	return out
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// serialHex renders the serial number's content bytes as the servers do:
// read as an unsigned big-endian number (a negative serial is not
// sign-corrected), leading zero bytes dropped, two uppercase hex digits a
// byte; zero is "00".
func serialHex(content []byte) []byte {
	for len(content) > 1 && content[0] == 0 {
		content = content[1:]
	}
	if len(content) == 0 {
		content = []byte{0}
	}
	const digits = "0123456789ABCDEF"
	out := make([]byte, 0, 2*len(content))
	for _, b := range content {
		out = append(out, digits[b>>4], digits[b&0xf])
	}
	return out
}

// sigAlgNames maps signature algorithm OIDs (content bytes) to the servers'
// names; any other OID is "unknown".
var sigAlgNames = map[string]string{}

func init() {
	for name, arcs := range map[string][]int{
		"md2, rsa":        {1, 2, 840, 113549, 1, 1, 2},
		"md5, rsa":        {1, 2, 840, 113549, 1, 1, 4},
		"sha1, rsa":       {1, 2, 840, 113549, 1, 1, 5},
		"sha256, rsa":     {1, 2, 840, 113549, 1, 1, 11},
		"sha384, rsa":     {1, 2, 840, 113549, 1, 1, 12},
		"sha512, rsa":     {1, 2, 840, 113549, 1, 1, 13},
		"sha256, rsa-pss": {1, 2, 840, 113549, 1, 1, 10}, // whatever the PSS hash
		"dsa, sha1":       {1, 2, 840, 10040, 4, 3},
		"dsa, sha256":     {2, 16, 840, 1, 101, 3, 4, 3, 2},
		"ecdsa, sha1":     {1, 2, 840, 10045, 4, 1},
		"ecdsa, sha256":   {1, 2, 840, 10045, 4, 3, 2},
		"ecdsa, sha384":   {1, 2, 840, 10045, 4, 3, 3},
		"ecdsa, sha512":   {1, 2, 840, 10045, 4, 3, 4},
		"ed25519":         {1, 3, 101, 112},
	} {
		sigAlgNames[oidContent(arcs)] = name
	}
}

// oidContent returns the DER content bytes of an OID.
func oidContent(arcs []int) string {
	der, err := asn1.Marshal(asn1.ObjectIdentifier(arcs))
	if err != nil {
		panic(err) // a constant table above; never reached
	}
	return string(der[2:])
}

func sigAlgName(oid []byte) []byte {
	if name, ok := sigAlgNames[string(oid)]; ok {
		return []byte(name)
	}
	return []byte("unknown")
}
