package stream

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// Reason classifies why a message was not archived. Reasons are stable strings
// so that logs and counters can be keyed by them.
type Reason string

// The reasons a message is skipped.
const (
	ReasonNotJSON     Reason = "not_json"     // not parseable JSON (including truncated)
	ReasonNotObject   Reason = "not_object"   // valid JSON, but not an object
	ReasonUnknownType Reason = "unknown_type" // message_type missing or not one we know
	ReasonMissingData Reason = "missing_data" // no usable "data"
	ReasonMissingLeaf Reason = "missing_leaf" // certificate_update without leaf_cert
	ReasonWrongType   Reason = "wrong_type"   // a known field has a JSON type it never legally has
	ReasonOversize    Reason = "oversize"     // larger than the read limit; counted by Client, not Decode
)

// DecodeError reports a message that cannot be archived.
type DecodeError struct {
	Reason Reason
	Detail string
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("%s: %s", e.Reason, e.Detail)
}

// ReasonOf returns the Reason of a *DecodeError, or "" for other errors.
func ReasonOf(err error) Reason {
	var de *DecodeError
	if errors.As(err, &de) {
		return de.Reason
	}
	return ""
}

func skip(r Reason, format string, args ...any) error {
	return &DecodeError{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// Times outside this range are treated as null rather than overflowing.
var (
	minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
)

// Decoder decodes CertStream messages from every known server dialect:
// CaliDog's Elixir and Python servers, certstream-server-go and the Rust
// servers. Key order, integer or float times, omitted or null fields and
// unknown extra fields are all accepted.
//
// A Decoder is not safe for concurrent use. The zero value is ready to use.
type Decoder struct {
	parser  fastjson.Parser
	u       Update
	domains [][]byte
	chain   [][]byte
	der     []byte
	sha1    [sha1.Size]byte
	sha256  [sha256.Size]byte
	fixed   []byte // UTF-8 repairs of invalid strings
}

// Decode decodes one message. The returned Update aliases the Decoder's
// buffers (and msg) and is valid until the next call to Decode. Errors are
// *DecodeError; any message that decodes without error is worth archiving
// except heartbeats, which have Kind KindHeartbeat.
func (d *Decoder) Decode(msg []byte) (*Update, error) {
	v, err := d.parser.ParseBytes(msg)
	if err != nil {
		return nil, skip(ReasonNotJSON, "%v", err)
	}
	if v.Type() != fastjson.TypeObject {
		return nil, skip(ReasonNotObject, "top-level %s", v.Type())
	}
	d.u = Update{}
	d.fixed = d.fixed[:0]
	mt, err := d.str(v.Get("message_type"), "message_type")
	if err != nil {
		return nil, err
	}
	switch string(mt) {
	case "certificate_update":
		d.u.Kind = KindCertificate
		err = d.certificate(v.Get("data"))
	case "dns_entries":
		d.u.Kind = KindDomains
		err = d.dnsEntries(v.Get("data"))
	case "heartbeat":
		d.u.Kind = KindHeartbeat
	default:
		return nil, skip(ReasonUnknownType, "message_type %.64q", mt)
	}
	if err != nil {
		return nil, err
	}
	return &d.u, nil
}

func (d *Decoder) dnsEntries(data *fastjson.Value) error {
	if isNull(data) || data.Type() != fastjson.TypeArray {
		return skip(ReasonMissingData, "dns_entries without a data array")
	}
	names, err := d.strList(data, d.domains[:0], "data")
	d.domains, d.u.Domains = names, names
	return err
}

func (d *Decoder) certificate(data *fastjson.Value) error {
	if isNull(data) || data.Type() != fastjson.TypeObject {
		return skip(ReasonMissingData, "certificate_update without a data object")
	}
	leaf := data.Get("leaf_cert")
	if isNull(leaf) || leaf.Type() != fastjson.TypeObject {
		return skip(ReasonMissingLeaf, "certificate_update without leaf_cert")
	}
	u := &d.u
	err := d.strings(data, "", []field{
		{&u.UpdateType, []string{"update_type"}},
		{&u.CertLink, []string{"cert_link"}},
		{&u.SourceURL, []string{"source", "url"}},
		{&u.SourceName, []string{"source", "name"}},
	})
	if err != nil {
		return err
	}
	if u.Seen, err = timeOf(data.Get("seen"), "seen", false); err != nil {
		return err
	}
	if u.SubmittedAt, err = timeOf(data.Get("submission_timestamp"), "submission_timestamp", false); err != nil {
		return err
	}
	// The Rust servers' submission_timestamp is the entry's own
	// (TimestampedEntry) timestamp, in milliseconds.
	u.EntryTime = u.SubmittedAt.Truncate(time.Millisecond)
	if u.CertIndex, u.HasCertIndex, err = intOf(data.Get("cert_index"), "cert_index"); err != nil {
		return err
	}
	if err := d.leaf(leaf); err != nil {
		return err
	}
	return d.chainNames(data.Get("chain"))
}

func (d *Decoder) leaf(leaf *fastjson.Value) error {
	u := &d.u
	err := d.strings(leaf, "leaf_cert.", []field{
		{&u.Subject, []string{"subject", "aggregated"}},
		{&u.SubjectCN, []string{"subject", "CN"}},
		{&u.SubjectO, []string{"subject", "O"}},
		{&u.Issuer, []string{"issuer", "aggregated"}},
		{&u.IssuerCN, []string{"issuer", "CN"}},
		{&u.IssuerO, []string{"issuer", "O"}},
		{&u.Serial, []string{"serial_number"}},
		{&u.SHA1, []string{"fingerprint"}},
		{&u.SHA256, []string{"sha256"}},
		{&u.SigAlg, []string{"signature_algorithm"}},
	})
	if err != nil {
		return err
	}
	if u.SHA1 == nil {
		if u.SHA1, err = d.str(leaf.Get("sha1"), "leaf_cert.sha1"); err != nil {
			return err
		}
	}
	u.SHA1 = parseDigest(d.sha1[:], u.SHA1)
	u.SHA256 = parseDigest(d.sha256[:], u.SHA256)
	dropEmptyDigests(u)
	if u.NotBefore, err = timeOf(leaf.Get("not_before"), "leaf_cert.not_before", true); err != nil {
		return err
	}
	if u.NotAfter, err = timeOf(leaf.Get("not_after"), "leaf_cert.not_after", true); err != nil {
		return err
	}
	if u.IsCA, err = d.isCA(leaf); err != nil {
		return err
	}
	if err := d.leafDER(leaf.Get("as_der")); err != nil {
		return err
	}
	names, err := d.strList(leaf.Get("all_domains"), d.domains[:0], "leaf_cert.all_domains")
	d.domains, u.Domains = names, names
	return err
}

// isCA reads leaf_cert.is_ca (certstream-server-go, Rust), falling back to
// the basicConstraints extension text that every dialect sends.
func (d *Decoder) isCA(leaf *fastjson.Value) (Bool, error) {
	switch v := leaf.Get("is_ca"); {
	case isNull(v):
	case v.Type() == fastjson.TypeTrue:
		return BoolTrue, nil
	case v.Type() == fastjson.TypeFalse:
		return BoolFalse, nil
	default:
		return BoolNull, skip(ReasonWrongType, "leaf_cert.is_ca is %s", v.Type())
	}
	bc, err := d.str(leaf.Get("extensions", "basicConstraints"), "leaf_cert.extensions.basicConstraints")
	switch {
	case err != nil:
		return BoolNull, err
	case string(bc) == "CA:TRUE" || len(bc) > 8 && string(bc[:8]) == "CA:TRUE,":
		return BoolTrue, nil
	case string(bc) == "CA:FALSE":
		return BoolFalse, nil
	}
	return BoolNull, nil
}

// leafDER decodes as_der. Servers that are not the full stream omit it;
// placeholders that are not base64 (old READMEs, redacted captures) yield
// null rather than rejecting an otherwise good certificate.
func (d *Decoder) leafDER(v *fastjson.Value) error {
	b64, err := d.str(v, "leaf_cert.as_der")
	if err != nil || len(b64) == 0 {
		return err
	}
	n := base64.StdEncoding.DecodedLen(len(b64))
	if cap(d.der) < n {
		d.der = make([]byte, n)
	}
	n, err = base64.StdEncoding.Decode(d.der[:n], b64)
	if err != nil || n == 0 {
		return nil
	}
	d.u.DER = d.der[:n]
	d.u.Damaged = false // the digests come from the DER itself
	if d.u.SHA1 == nil {
		d.sha1 = sha1.Sum(d.u.DER)
		d.u.SHA1 = d.sha1[:]
	}
	if d.u.SHA256 == nil {
		d.sha256 = sha256.Sum256(d.u.DER)
		d.u.SHA256 = d.sha256[:]
	}
	return nil
}

func (d *Decoder) chainNames(v *fastjson.Value) error {
	d.chain = d.chain[:0]
	if isNull(v) {
		return nil
	}
	certs, err := v.Array()
	if err != nil {
		return skip(ReasonWrongType, "chain is %s", v.Type())
	}
	for _, c := range certs {
		if c.Type() != fastjson.TypeObject {
			return skip(ReasonWrongType, "chain element is %s", c.Type())
		}
		name, err := d.str(c.Get("subject", "aggregated"), "chain[].subject.aggregated")
		if err != nil {
			return err
		}
		if name == nil {
			name = []byte{}
		}
		d.chain = append(d.chain, name)
	}
	if d.chain == nil {
		d.chain = [][]byte{} // "chain":[] is an empty list, not null, on every decoder
	}
	d.u.ChainNames = d.chain
	return nil
}

// field names a string field to read into dst.
type field struct {
	dst  *[]byte
	path []string
}

// strings reads each field of obj, stopping at the first wrong type.
func (d *Decoder) strings(obj *fastjson.Value, prefix string, fields []field) error {
	for _, f := range fields {
		s, err := d.str(obj.Get(f.path...), "")
		if err != nil {
			return skip(ReasonWrongType, "%s%s is %s, want string", prefix, joinPath(f.path), obj.Get(f.path...).Type())
		}
		*f.dst = s
	}
	return nil
}

func joinPath(path []string) string {
	s := path[0]
	for _, p := range path[1:] {
		s += "." + p
	}
	return s
}

// str returns a string field: nil for missing or null, an error for any
// other non-string type. Invalid UTF-8 is repaired with U+FFFD.
func (d *Decoder) str(v *fastjson.Value, field string) ([]byte, error) {
	if isNull(v) {
		return nil, nil
	}
	b, err := v.StringBytes()
	if err != nil {
		return nil, skip(ReasonWrongType, "%s is %s, want string", field, v.Type())
	}
	if b == nil {
		return []byte{}, nil
	}
	if !utf8.Valid(b) {
		start := len(d.fixed)
		d.fixed = appendValidUTF8(d.fixed, b)
		return d.fixed[start:len(d.fixed):len(d.fixed)], nil
	}
	return b, nil
}

func (d *Decoder) strList(v *fastjson.Value, dst [][]byte, field string) ([][]byte, error) {
	if isNull(v) {
		return nil, nil
	}
	items, err := v.Array()
	if err != nil {
		return nil, skip(ReasonWrongType, "%s is %s, want array", field, v.Type())
	}
	for _, it := range items {
		s, err := d.str(it, field+"[]")
		if err != nil {
			return nil, err
		}
		if s == nil {
			continue // a null name carries nothing; keep the others
		}
		dst = append(dst, s)
	}
	if dst == nil {
		dst = [][]byte{}
	}
	return dst, nil
}

// timeOf reads seconds since the epoch, sent as an integer or a float.
// With textIsNull, a string is null rather than an error: Elixir sends
// "no_expiration" for a certificate's dates.
func timeOf(v *fastjson.Value, field string, textIsNull bool) (time.Time, error) {
	if isNull(v) || textIsNull && v.Type() == fastjson.TypeString {
		return time.Time{}, nil
	}
	f, err := v.Float64()
	if err != nil {
		return time.Time{}, skip(ReasonWrongType, "%s is %s, want number", field, v.Type())
	}
	if math.IsNaN(f) || f < float64(minTime) || f > float64(maxTime) {
		return time.Time{}, nil
	}
	sec := math.Floor(f)
	usec := math.Round((f - sec) * 1e6)
	return time.Unix(int64(sec), int64(usec)*1000).UTC(), nil
}

func intOf(v *fastjson.Value, field string) (int64, bool, error) {
	if isNull(v) {
		return 0, false, nil
	}
	if n, err := v.Int64(); err == nil {
		return n, true, nil
	}
	f, err := v.Float64()
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false, skip(ReasonWrongType, "%s is %s, want integer", field, v.Type())
	}
	return int64(f), true, nil
}

func isNull(v *fastjson.Value) bool {
	return v == nil || v.Type() == fastjson.TypeNull
}

// parseDigest decodes a digest sent as hex, with or without colons
// ("AB:CD:…", "abcd…"), into dst, which has the digest's size. It returns
// nil unless text holds exactly that many bytes.
func parseDigest(dst, text []byte) []byte {
	n := 0
	for i := 0; i < len(text); {
		if text[i] == ':' && i > 0 {
			i++
		}
		if i+1 >= len(text) || n == len(dst) {
			return nil
		}
		hi, ok1 := unhex(text[i])
		lo, ok2 := unhex(text[i+1])
		if !ok1 || !ok2 {
			return nil
		}
		dst[n] = hi<<4 | lo
		n++
		i += 2
	}
	if n != len(dst) {
		return nil
	}
	return dst
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func appendValidUTF8(dst, b []byte) []byte {
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, "\uFFFD"...)
		} else {
			dst = append(dst, b[:size]...)
		}
		b = b[size:]
	}
	return dst
}
