package stream_test

import (
	"testing"
	"unicode/utf8"

	"github.com/certstream-arrow/certstream-arrow/stream"
	"github.com/certstream-arrow/certstream-arrow/stream/streamgen"
	"github.com/certstream-arrow/certstream-arrow/stream/streamtest"
)

func TestDecodeSkipReasons(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		want stream.Reason
	}{
		{"empty", ``, stream.ReasonNotJSON},
		{"text", `hello`, stream.ReasonNotJSON},
		{"truncated", `{"message_type":"certificate_update","data":{"leaf_cert":{`, stream.ReasonNotJSON},
		{"trailing garbage", `{"message_type":"heartbeat"} x`, stream.ReasonNotJSON},
		{"binary garbage", "\x00\x01\xff\xfe", stream.ReasonNotJSON},
		{"array", `[1,2]`, stream.ReasonNotObject},
		{"string", `"certificate_update"`, stream.ReasonNotObject},
		{"no message_type", `{"data":{}}`, stream.ReasonUnknownType},
		{"unknown message_type", `{"message_type":"cert_update"}`, stream.ReasonUnknownType},
		{"message_type not a string", `{"message_type":7}`, stream.ReasonWrongType},
		{"missing data", `{"message_type":"certificate_update"}`, stream.ReasonMissingData},
		{"null data", `{"message_type":"certificate_update","data":null}`, stream.ReasonMissingData},
		{"data not an object", `{"message_type":"certificate_update","data":[1]}`, stream.ReasonMissingData},
		{"dns_entries without data", `{"message_type":"dns_entries"}`, stream.ReasonMissingData},
		{"no leaf_cert", `{"message_type":"certificate_update","data":{"cert_index":1}}`, stream.ReasonMissingLeaf},
		{"leaf_cert not an object", `{"message_type":"certificate_update","data":{"leaf_cert":"x"}}`, stream.ReasonMissingLeaf},
		{"cert_index as string", `{"message_type":"certificate_update","data":{"cert_index":"12","leaf_cert":{}}}`, stream.ReasonWrongType},
		{"cert_index fractional", `{"message_type":"certificate_update","data":{"cert_index":1.5,"leaf_cert":{}}}`, stream.ReasonWrongType},
		{"seen as string", `{"message_type":"certificate_update","data":{"seen":"yesterday","leaf_cert":{}}}`, stream.ReasonWrongType},
		{"seen as object", `{"message_type":"certificate_update","data":{"seen":{},"leaf_cert":{}}}`, stream.ReasonWrongType},
		{"all_domains as string", `{"message_type":"certificate_update","data":{"leaf_cert":{"all_domains":"a.example"}}}`, stream.ReasonWrongType},
		{"domain as number", `{"message_type":"certificate_update","data":{"leaf_cert":{"all_domains":[1]}}}`, stream.ReasonWrongType},
		{"CN as number", `{"message_type":"certificate_update","data":{"leaf_cert":{"subject":{"CN":5}}}}`, stream.ReasonWrongType},
		{"is_ca as string", `{"message_type":"certificate_update","data":{"leaf_cert":{"is_ca":"yes"}}}`, stream.ReasonWrongType},
		{"chain as object", `{"message_type":"certificate_update","data":{"leaf_cert":{},"chain":{}}}`, stream.ReasonWrongType},
	}
	var dec stream.Decoder
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := dec.Decode([]byte(tt.msg))
			if got := stream.ReasonOf(err); got != tt.want {
				t.Fatalf("reason %q (err %v, update %v), want %q", got, err, u, tt.want)
			}
		})
	}
}

func TestDecodeKinds(t *testing.T) {
	tests := []struct {
		msg  string
		want stream.Kind
	}{
		{`{"message_type":"heartbeat"}`, stream.KindHeartbeat},
		{`{"message_type": "heartbeat", "timestamp": 1509912803.959279}`, stream.KindHeartbeat},
		{`{"message_type":"dns_entries","data":["a.example","b.example"]}`, stream.KindDomains},
		{`{"data":{"leaf_cert":{}},"message_type":"certificate_update"}`, stream.KindCertificate},
	}
	var dec stream.Decoder
	for _, tt := range tests {
		u, err := dec.Decode([]byte(tt.msg))
		if err != nil || u.Kind != tt.want {
			t.Errorf("%s: kind %v err %v, want %v", tt.msg, u, err, tt.want)
		}
	}
}

// An Update stays valid until the next Decode, and the next Decode does not
// inherit any field from the previous message.
func TestDecodeResetsBetweenMessages(t *testing.T) {
	var dec stream.Decoder
	full := streamgen.New(streamgen.Options{Kind: streamgen.Full}).Next()
	if _, err := dec.Decode(full); err != nil {
		t.Fatal(err)
	}
	u, err := dec.Decode([]byte(`{"message_type":"certificate_update","data":{"leaf_cert":{}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if u.DER != nil || u.Domains != nil || u.ChainNames != nil || u.SHA256 != nil || !u.Seen.IsZero() || u.HasCertIndex {
		t.Fatalf("fields carried over from the previous message: %+v", u)
	}
}

func TestRecordedMessagesDecode(t *testing.T) {
	var dec stream.Decoder
	for _, rec := range streamtest.LoadRecorded(t) {
		if _, err := dec.Decode(rec.Data); err != nil {
			t.Errorf("%s: %v", rec.Name, err)
		}
	}
}

// FuzzDecode: no input panics, every failure has a reason, every string
// handed on is valid UTF-8 (polars and pandas reject invalid utf8 columns),
// and digests are nil or of their exact size.
func FuzzDecode(f *testing.F) {
	for _, rec := range streamtest.LoadRecorded(f) {
		f.Add(rec.Data)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		var dec stream.Decoder
		u, err := dec.Decode(msg)
		if err != nil {
			if stream.ReasonOf(err) == "" {
				t.Fatalf("error without a reason: %v", err)
			}
			return
		}
		for _, s := range append([][]byte{u.UpdateType, u.CertLink, u.SourceURL, u.SourceName, u.Subject, u.SubjectCN,
			u.SubjectO, u.Issuer, u.IssuerCN, u.IssuerO, u.Serial, u.SigAlg}, append(u.Domains, u.ChainNames...)...) {
			if !utf8.Valid(s) {
				t.Fatalf("invalid UTF-8 %q", s)
			}
		}
		if u.SHA1 != nil && len(u.SHA1) != 20 || u.SHA256 != nil && len(u.SHA256) != 32 {
			t.Fatalf("digests of %d and %d bytes", len(u.SHA1), len(u.SHA256))
		}
	})
}

// "chain":[] decodes to an empty list, never null, whether or not the
// decoder has seen a chain before: the row must not depend on the
// messages that came earlier.
func TestDecodeEmptyChainSameOnEveryDecoder(t *testing.T) {
	empty := []byte(`{"message_type":"certificate_update","data":{"leaf_cert":{},"chain":[]}}`)
	withChain := []byte(`{"message_type":"certificate_update","data":{"leaf_cert":{},"chain":[{"subject":{"aggregated":"/CN=R1"}}]}}`)
	for _, tt := range []struct {
		name  string
		first []byte // decoded before the message under test, or nil
	}{
		{"fresh decoder", nil},
		{"after a chain", withChain},
		{"after an empty chain", empty},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var dec stream.Decoder
			if tt.first != nil {
				if _, err := dec.Decode(tt.first); err != nil {
					t.Fatal(err)
				}
			}
			u, err := dec.Decode(empty)
			if err != nil {
				t.Fatal(err)
			}
			if u.ChainNames == nil || len(u.ChainNames) != 0 {
				t.Fatalf("chain_subjects %#v, want an empty list", u.ChainNames)
			}
		})
	}
}

// A digest of empty input is never a certificate's (certstream-server-go
// 1.9 sends them for static-CT precertificates, with no DER): both digests
// become null and the update is marked damaged, unless the DER is there to
// give the real ones.
func TestDecodeEmptyInputDigests(t *testing.T) {
	const sha1Empty = `"fingerprint":"DA:39:A3:EE:5E:6B:4B:0D:32:55:BF:EF:95:60:18:90:AF:D8:07:09"`
	const sha256Empty = `"sha256":"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"`
	for _, tt := range []struct {
		name        string
		leaf        string
		damaged     bool
		wantDigests bool
	}{
		{"both empty, no DER", sha1Empty + `,` + sha256Empty, true, false},
		{"sha256 empty only", sha256Empty, true, false},
		{"empty digests, DER sent", sha1Empty + `,` + sha256Empty + `,"as_der":"MAA="`, false, true},
		{"real digest", `"sha256":"00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"`, false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var dec stream.Decoder
			u, err := dec.Decode([]byte(`{"message_type":"certificate_update","data":{"leaf_cert":{` + tt.leaf + `}}}`))
			if err != nil {
				t.Fatal(err)
			}
			if u.Damaged != tt.damaged || (u.SHA256 != nil) != tt.wantDigests {
				t.Fatalf("damaged %v sha256 %x, want damaged %v and digests %v", u.Damaged, u.SHA256, tt.damaged, tt.wantDigests)
			}
			if stream.IsEmptyDigest(u.SHA1, u.SHA256) {
				t.Fatalf("an empty-input digest was kept: %x %x", u.SHA1, u.SHA256)
			}
			var c stream.Counters
			c.Decoded(u)
			if got := c.Damaged.Load() == 1; got != tt.damaged {
				t.Fatalf("counted damaged %v, want %v", got, tt.damaged)
			}
		})
	}
}
