package streamgen

import (
	"crypto/ecdh"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"time"
)

// certDER returns a leaf certificate in DER with the structure of a real
// one (TBSCertificate with names, validity, key and the usual extensions;
// signature algorithm and signature), so that it compresses like one: the
// shared structure (OIDs, issuer names, extension layout) repeats from one
// certificate to the next, while the key, serial, key identifier, SCTs and
// signature are random. crypto/x509 parses it, but nothing is really
// signed: it is for sizes and compression, not for verification.
func (g *Generator) certDER(domains []string, iss genIssuer, notBefore, notAfter time.Time, serial []byte) []byte {
	ecIssuer := iss.alg != "sha256, rsa"
	sigAlg := pkix.AlgorithmIdentifier{Algorithm: oidSHA256WithRSA, Parameters: asn1.NullRawValue}
	if ecIssuer {
		sigAlg = pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA384}
	}
	tbs := tbsCertificate{
		Version:   2,
		Serial:    new(big.Int).SetBytes(serial),
		Signature: sigAlg,
		Issuer:    pkix.Name{Country: []string{iss.c}, Organization: []string{iss.o}, CommonName: iss.cn}.ToRDNSequence(),
		Validity:  validity{notBefore.UTC(), notAfter.UTC()},
		Subject:   pkix.Name{CommonName: domains[0]}.ToRDNSequence(),
		PublicKey: g.publicKey(),
		Extensions: []pkix.Extension{
			{Id: oidKeyUsage, Critical: true, Value: mustMarshal(asn1.BitString{Bytes: []byte{0xa0}, BitLength: 3})},
			{Id: oidExtKeyUsage, Value: mustMarshal([]asn1.ObjectIdentifier{oidServerAuth, oidClientAuth})},
			{Id: oidBasicConstraints, Critical: true, Value: mustMarshal(struct{}{})},
			{Id: oidSubjectKeyID, Value: mustMarshal(g.der(20))},
			{Id: oidAuthorityKeyID, Value: mustMarshal(authorityKeyID{ID: sha1Sum([]byte(iss.cn))})},
			{Id: oidAuthorityInfoAccess, Value: mustMarshal([]accessDescription{
				{Method: oidCAIssuers, Location: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte("http://" + iss.cn + ".i.example-ca.net/ca.crt")}},
			})},
			{Id: oidSubjectAltName, Value: mustMarshal(sanNames(domains))},
			{Id: oidCertPolicies, Value: mustMarshal([][]asn1.ObjectIdentifier{{oidDomainValidated}})},
			{Id: oidSCTList, Value: mustMarshal(g.sctList())},
		},
	}
	tbsDER := mustMarshal(tbs)
	sig := g.der(256)
	if ecIssuer {
		sig = mustMarshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(g.der(48)), new(big.Int).SetBytes(g.der(48))})
	}
	return mustMarshal(certificate{TBS: asn1.RawValue{FullBytes: tbsDER}, SignatureAlgorithm: sigAlg,
		Signature: asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}})
}

// publicKey returns a subject public key: RSA-2048 or P-256, about as
// common as each other on CT logs today.
func (g *Generator) publicKey() subjectPublicKeyInfo {
	if g.rng.IntN(2) == 0 {
		var point []byte
		for point == nil { // a scalar out of range is astronomically rare
			if k, err := ecdh.P256().NewPrivateKey(g.der(32)); err == nil {
				point = k.PublicKey().Bytes()
			}
		}
		return subjectPublicKeyInfo{
			Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidECPublicKey, Parameters: asn1.RawValue{FullBytes: mustMarshal(oidP256)}},
			PublicKey: asn1.BitString{Bytes: point, BitLength: 8 * len(point)},
		}
	}
	n := g.der(256)
	n[0] |= 0x80
	key := mustMarshal(struct{ N, E *big.Int }{new(big.Int).SetBytes(n), big.NewInt(65537)})
	return subjectPublicKeyInfo{
		Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidRSAEncryption, Parameters: asn1.NullRawValue},
		PublicKey: asn1.BitString{Bytes: key, BitLength: 8 * len(key)},
	}
}

// sctList returns the TLS-encoded list of two signed certificate
// timestamps from known logs, as an OCTET STRING's contents.
func (g *Generator) sctList() []byte {
	var list []byte
	for range 2 {
		var sct []byte
		sct = append(sct, 0)                                        // version v1
		sct = append(sct, sctLogIDs[g.rng.IntN(len(sctLogIDs))]...) // log ID
		sct = append(sct, g.der(8)...)                              // timestamp
		sct = append(sct, 0, 0, 4, 3)                               // no extensions; ecdsa/sha256
		sig := mustMarshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(g.der(32)), new(big.Int).SetBytes(g.der(32))})
		sct = append(sct, byte(len(sig)>>8), byte(len(sig)))
		sct = append(sct, sig...)
		list = append(list, byte(len(sct)>>8), byte(len(sct)))
		list = append(list, sct...)
	}
	return append([]byte{byte(len(list) >> 8), byte(len(list))}, list...)
}

func sanNames(domains []string) []asn1.RawValue {
	names := make([]asn1.RawValue, len(domains))
	for i, d := range domains {
		names[i] = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte(d)}
	}
	return names
}

// mustMarshal marshals values whose types are fixed above: it cannot fail.
func mustMarshal(v any) []byte {
	b, err := asn1.Marshal(v)
	if err != nil {
		panic("streamgen: " + err.Error())
	}
	return b
}

type certificate struct {
	TBS                asn1.RawValue
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          asn1.BitString
}

type tbsCertificate struct {
	Version    int `asn1:"optional,explicit,default:0,tag:0"`
	Serial     *big.Int
	Signature  pkix.AlgorithmIdentifier
	Issuer     pkix.RDNSequence
	Validity   validity
	Subject    pkix.RDNSequence
	PublicKey  subjectPublicKeyInfo
	Extensions []pkix.Extension `asn1:"optional,explicit,tag:3"`
}

type validity struct{ NotBefore, NotAfter time.Time }

type subjectPublicKeyInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	PublicKey asn1.BitString
}

type authorityKeyID struct {
	ID []byte `asn1:"optional,tag:0"`
}

type accessDescription struct {
	Method   asn1.ObjectIdentifier
	Location asn1.RawValue
}

var (
	oidSHA256WithRSA       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidECDSAWithSHA384     = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidRSAEncryption       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidECPublicKey         = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidP256                = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidKeyUsage            = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidExtKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidServerAuth          = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 1}
	oidClientAuth          = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 2}
	oidBasicConstraints    = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidSubjectKeyID        = asn1.ObjectIdentifier{2, 5, 29, 14}
	oidAuthorityKeyID      = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidAuthorityInfoAccess = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 1}
	oidCAIssuers           = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 2}
	oidSubjectAltName      = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidCertPolicies        = asn1.ObjectIdentifier{2, 5, 29, 32}
	oidDomainValidated     = asn1.ObjectIdentifier{2, 23, 140, 1, 2, 1}
	oidSCTList             = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}
)

// sctLogIDs are made-up 32-byte log IDs, one per generated CT log.
var sctLogIDs = func() [][]byte {
	ids := make([][]byte, len(genLogs))
	for i, l := range genLogs {
		s := sha256.Sum256([]byte(l.url))
		ids[i] = s[:]
	}
	return ids
}()
