// Package ctrow turns a Certificate Transparency log entry into the
// stream.Update a CertStream server would have sent for it, so that rows
// backfilled from a log and rows streamed from a server are one kind of row
// to schema/ and archive/.
//
// It does no I/O and knows nothing of Arrow, files or how entries are
// fetched: ctlog/ hands it an Entry (FromRFC6962 splits a get-entries
// answer; a static-CT tile leaf fills an Entry directly). Its functions are
// safe for concurrent use; an Update aliases the Entry it was made from.
//
// # Derivation
//
// Every column is derived as the Rust servers (reloading01's
// certstream-server-rust 1.5, whose parser snapshots are the test corpus)
// derive it, which the test checks field by field against their messages:
//
//   - as_der, fingerprint, sha256: the DER of the entry's certificate; for
//     a precertificate entry, of the precertificate (poison extension and
//     all), never of the TBSCertificate or of the final certificate.
//   - subject, issuer: attributes C, CN, L, O, OU and ST, always in that
//     order, as "/C=US/CN=WR1/O=Google Trust Services"; a name with none of
//     them is "" (not null). When a type occurs twice the last one wins; a
//     value is its content bytes whatever its string type, and a value that
//     is not UTF-8 is ignored. subject_cn, subject_o, issuer_cn, issuer_o
//     are those attributes, null when absent.
//   - domains: the subject CN first, unless it is empty or the certificate
//     is a CA (basicConstraints CA:TRUE); then every SAN dNSName in order,
//     each once (exact, case-sensitive comparison, the CN included). IP
//     addresses, e-mail addresses and URIs are never domains; names are
//     neither lowercased nor IDNA-decoded.
//   - serial_number: the INTEGER's content read as unsigned, without leading
//     zero bytes, uppercase hex, two digits a byte ("00" for zero).
//   - signature_algorithm: the outer signatureAlgorithm, named as the
//     servers name it ("sha256, rsa", "ecdsa, sha384", "sha256, rsa-pss"
//     whatever the PSS hash, "ed25519"), else "unknown".
//   - is_ca: basicConstraints cA; false without the extension.
//   - chain_subjects: the aggregated subject of each chain certificate, the
//     issuer first, skipping any element that is not a certificate; null
//     when the Entry's Chain is nil, [] when it is empty.
//   - cert_index, update_type ("X509LogEntry", "PrecertLogEntry"),
//     source_url and source_name from the Entry and LogInfo; cert_link as
//     LogInfo.Link says; submitted_at and entry_timestamp are the entry's
//     own timestamp (the Rust servers' submission_timestamp).
//
// Deliberate differences from what a server sends, each for a reason:
//
//   - provenance is backfill, not stream: it tells a user which rows
//     the feed lost.
//   - seen is null: no server saw the entry. The caller, which knows when
//     and how it fetched the entry, may set Seen and must set ReceivedAt.
//   - A certificate the servers' parser rejects but whose TBSCertificate
//     can be read up to the subject still becomes a row (servers drop the
//     entry): an archive that owes every index of a log keeps what it can.
//     If its extensions cannot be read, Update returns the row with an
//     error wrapping ErrPartial: domains hold only the CN, is_ca is null.
//
// # Parsing
//
// Certificates are read by a walk of their DER (cryptobyte) that takes
// exactly the fields a row needs, as leniently as the servers' parser
// (x509-parser) does. The x509 parser of certificate-transparency-go is the
// oracle in the tests and the fuzz target, not the reader: no Go parser
// keeps names and serials as the servers render them; it refuses
// certificates the servers keep (a UTCTime with "+0000" for "Z", a
// malformed URI in a SAN); and it parses everything else too, which made
// conversion ten times slower.
package ctrow

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/certstream-arrow/certstream-arrow/stream"
)

// LinkStyle says how a log's cert_link is made.
type LinkStyle uint8

// The cert_link styles the servers use.
const (
	NoLink         LinkStyle = iota // cert_link is null
	GetEntriesLink                  // RFC 6962: "<url>/ct/v1/get-entries?start=N&end=N"
	TileLink                        // static CT: "<url>/tile/data/<path of tile N/256>", as the Rust servers send it
)

// LogInfo describes the log an entry comes from, as the feeds name it.
type LogInfo struct {
	// URL is source_url exactly as the feeds send it for this log, e.g.
	// "https://ct.googleapis.com/logs/us1/argon2026h2/"; "" is null. For
	// cert_link a trailing slash is dropped before the path is added.
	URL string
	// Name is source_name: the log list's description of the log, e.g.
	// "Google 'Argon2026h2'"; "" is null.
	Name string
	Link LinkStyle
}

// Errors of Update besides ErrNotCertificate. Each is wrapped in an error
// naming the entry's index.
var (
	// ErrPartial reports a row made without the certificate's extensions.
	// The row is returned with the error and is worth archiving.
	ErrPartial = errors.New("certificate extensions unreadable: domains from the CN only, is_ca null")
	// ErrType reports an Entry whose Type is neither X509 nor Precert.
	ErrType = errors.New("unknown entry type")
)

// Update returns the row a CertStream server would have sent for e. The
// Update's byte slices alias e.Cert and e.Chain; everything else is its own.
// On an error wrapping ErrPartial the Update is returned too; on any other
// error it is nil. Update never panics, whatever the bytes in e.
func Update(e Entry, log LogInfo) (*stream.Update, error) {
	if e.Type != X509 && e.Type != Precert {
		return nil, fmt.Errorf("entry %d: %w %d", e.Index, ErrType, e.Type)
	}
	f, err := readFront(e.Cert)
	if err != nil {
		return nil, fmt.Errorf("entry %d: %w", e.Index, err)
	}
	u := &stream.Update{
		Kind:         stream.KindCertificate,
		UpdateType:   []byte(e.Type.String()),
		CertIndex:    e.Index,
		HasCertIndex: true,
		CertLink:     certLink(log, e.Index),
		SourceURL:    text(log.URL),
		SourceName:   text(log.Name),
		SubmittedAt:  e.Time(),
		EntryTime:    e.Time(),
		Provenance:   stream.FromBackfill,
		Subject:      f.subject.aggregated(),
		SubjectCN:    f.subject.cn,
		SubjectO:     f.subject.o,
		Issuer:       f.issuer.aggregated(),
		IssuerCN:     f.issuer.cn,
		IssuerO:      f.issuer.o,
		NotBefore:    f.notBefore,
		NotAfter:     f.notAfter,
		Serial:       serialHex(f.serial),
		SigAlg:       sigAlgName(f.sigOID),
		DER:          e.Cert,
		ChainNames:   chainNames(e.Chain),
	}
	sum1, sum256 := sha1.Sum(e.Cert), sha256.Sum256(e.Cert)
	u.SHA1, u.SHA256 = sum1[:], sum256[:]

	x, err := readExtensions(f.rest)
	if err != nil {
		u.IsCA = stream.BoolNull
		u.Domains = domains(f.subject.cn, false, nil)
		return u, fmt.Errorf("entry %d: %w: %v", e.Index, ErrPartial, err)
	}
	u.IsCA = stream.BoolFalse
	if x.isCA {
		u.IsCA = stream.BoolTrue
	}
	u.Domains = domains(f.subject.cn, x.isCA, x.dnsNames)
	return u, nil
}

// domains lists the CN (unless empty or a CA's) and then each SAN dNSName
// not listed yet. Names that are not UTF-8 are left out.
func domains(cn []byte, isCA bool, sans [][]byte) [][]byte {
	out := make([][]byte, 0, 1+len(sans))
	if len(cn) > 0 && !isCA {
		out = append(out, cn)
	}
	var seen map[string]bool
	if len(sans) > 16 {
		seen = make(map[string]bool, len(sans)+1)
		for _, d := range out {
			seen[string(d)] = true
		}
	}
	for _, name := range sans {
		if !utf8.Valid(name) || listed(out, seen, name) {
			continue
		}
		out = append(out, name)
		if seen != nil {
			seen[string(name)] = true
		}
	}
	return out
}

// listed reports whether name is in out, by a scan when few names are
// expected and by the seen set otherwise.
func listed(out [][]byte, seen map[string]bool, name []byte) bool {
	if seen != nil {
		return seen[string(name)]
	}
	for _, d := range out {
		if bytes.Equal(d, name) {
			return true
		}
	}
	return false
}

func chainNames(chain [][]byte) [][]byte {
	if chain == nil {
		return nil
	}
	out := make([][]byte, 0, len(chain))
	for _, der := range chain {
		if f, err := readFront(der); err == nil {
			out = append(out, f.subject.aggregated())
		}
	}
	return out
}

func certLink(log LogInfo, index int64) []byte {
	base := strings.ToValidUTF8(strings.TrimRight(log.URL, "/"), "\uFFFD")
	switch log.Link {
	case GetEntriesLink:
		n := strconv.FormatInt(index, 10)
		return []byte(base + "/ct/v1/get-entries?start=" + n + "&end=" + n)
	case TileLink:
		return []byte(base + "/tile/data/" + tilePath(uint64(index)/256))
	}
	return nil
}

// tilePath encodes a tile index as c2sp.org/tlog-tiles does: groups of
// three digits, all but the last prefixed with "x" ("x001/x234/067").
func tilePath(n uint64) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n /= 1000; n > 0; n /= 1000 {
		s = fmt.Sprintf("x%03d/", n%1000) + s
	}
	return s
}

// text returns s as bytes, null when empty, with invalid UTF-8 repaired as
// stream.Update requires.
func text(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(strings.ToValidUTF8(s, "\uFFFD"))
}
