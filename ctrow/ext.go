package ctrow

import (
	"errors"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// extensions holds what a row needs from a certificate's extensions.
type extensions struct {
	dnsNames [][]byte // SAN dNSNames, in order; they alias the DER
	isCA     bool     // basicConstraints cA
}

var errExtensions = errors.New("malformed extensions")

// Extension OIDs (content bytes).
var (
	oidSAN              = string([]byte{0x55, 0x1d, 0x11})
	oidBasicConstraints = string([]byte{0x55, 0x1d, 0x13})
)

// readExtensions reads the extensions from the rest of a TBSCertificate,
// the part after the subject:
//
//	subjectPublicKeyInfo, [1] issuerUniqueID, [2] subjectUniqueID,
//	[3] EXPLICIT SEQUENCE OF Extension
//
// It reads as leniently as the servers' parser does (a BOOLEAN is true if
// its byte is not zero); when an extension occurs twice, the last one
// counts, as in certificate-transparency-go's parser.
func readExtensions(rest cryptobyte.String) (extensions, error) {
	var x extensions
	var spki, list cryptobyte.String
	var present bool
	if !rest.ReadASN1(&spki, cbasn1.SEQUENCE) ||
		!skipUniqueID(&rest, 1) || !skipUniqueID(&rest, 2) ||
		!rest.ReadOptionalASN1(&list, &present, cbasn1.Tag(3).Constructed().ContextSpecific()) {
		return x, errExtensions
	}
	if !present {
		return x, nil
	}
	var exts cryptobyte.String
	if !list.ReadASN1(&exts, cbasn1.SEQUENCE) {
		return x, errExtensions
	}
	for !exts.Empty() {
		var ext, oid, value cryptobyte.String
		if !exts.ReadASN1(&ext, cbasn1.SEQUENCE) ||
			!ext.ReadASN1(&oid, cbasn1.OBJECT_IDENTIFIER) ||
			!ext.SkipOptionalASN1(cbasn1.BOOLEAN) ||
			!ext.ReadASN1(&value, cbasn1.OCTET_STRING) {
			return x, errExtensions
		}
		var ok bool
		switch string(oid) {
		case oidSAN:
			x.dnsNames, ok = appendDNSNames(x.dnsNames[:0], value)
		case oidBasicConstraints:
			x.isCA, ok = readCA(value)
		default:
			ok = true
		}
		if !ok {
			return x, errExtensions
		}
	}
	return x, nil
}

// skipUniqueID skips an optional [n] IMPLICIT BIT STRING, primitive or not.
func skipUniqueID(s *cryptobyte.String, n uint8) bool {
	tag := cbasn1.Tag(n).ContextSpecific()
	return s.SkipOptionalASN1(tag) && s.SkipOptionalASN1(tag.Constructed())
}

// appendDNSNames appends the dNSNames ([2] IMPLICIT IA5String) of the
// GeneralNames in a SAN extension's value.
func appendDNSNames(names [][]byte, value cryptobyte.String) ([][]byte, bool) {
	var seq cryptobyte.String
	if !value.ReadASN1(&seq, cbasn1.SEQUENCE) {
		return names, false
	}
	for !seq.Empty() {
		var gn cryptobyte.String
		var tag cbasn1.Tag
		if !seq.ReadAnyASN1(&gn, &tag) {
			return names, false
		}
		if tag == cbasn1.Tag(2).ContextSpecific() {
			names = append(names, gn)
		}
	}
	return names, true
}

// readCA reads cA from a basicConstraints value: SEQUENCE { cA BOOLEAN
// DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL }.
func readCA(value cryptobyte.String) (bool, bool) {
	var seq, ca cryptobyte.String
	var present bool
	if !value.ReadASN1(&seq, cbasn1.SEQUENCE) ||
		!seq.ReadOptionalASN1(&ca, &present, cbasn1.BOOLEAN) {
		return false, false
	}
	return present && len(ca) == 1 && ca[0] != 0, true
}
