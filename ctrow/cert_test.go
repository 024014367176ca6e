package ctrow

import (
	"encoding/asn1"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// atv is one attribute of a test name; plus puts it in the previous RDN.
type atv struct {
	oid   []int
	tag   cbasn1.Tag
	value string
	plus  bool
}

var (
	cn = []int{2, 5, 4, 3}
	c  = []int{2, 5, 4, 6}
	l  = []int{2, 5, 4, 7}
	st = []int{2, 5, 4, 8}
	o  = []int{2, 5, 4, 10}
	ou = []int{2, 5, 4, 11}
	// Attributes the servers leave out of the aggregated name.
	email  = []int{1, 2, 840, 113549, 1, 9, 1}
	serial = []int{2, 5, 4, 5}
)

// nameContent encodes attributes as the content of a Name SEQUENCE.
func nameContent(tb testing.TB, attrs []atv) cryptobyte.String {
	tb.Helper()
	var rdns [][]atv
	for _, a := range attrs {
		if a.plus && len(rdns) > 0 {
			rdns[len(rdns)-1] = append(rdns[len(rdns)-1], a)
		} else {
			rdns = append(rdns, []atv{a})
		}
	}
	var b cryptobyte.Builder
	for _, rdn := range rdns {
		b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
			for _, a := range rdn {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(asn1.ObjectIdentifier(a.oid))
					b.AddASN1(a.tag, func(b *cryptobyte.Builder) { b.AddBytes([]byte(a.value)) })
				})
			}
		})
	}
	out, err := b.Bytes()
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func TestReadDN(t *testing.T) {
	utf8s, printable, bmp := cbasn1.Tag(12), cbasn1.Tag(19), cbasn1.Tag(30)
	for _, tc := range []struct {
		name       string
		attrs      []atv
		aggregated string
		cn, o      any // string, or nil for absent
	}{
		{"empty", nil, "", nil, nil},
		{"fixed order, not encoded order",
			[]atv{{oid: st, tag: printable, value: "WA"}, {oid: cn, tag: printable, value: "x.test"}, {oid: c, tag: printable, value: "US"},
				{oid: ou, tag: utf8s, value: "Unit"}, {oid: o, tag: utf8s, value: "Org"}, {oid: l, tag: utf8s, value: "Redmond"}},
			"/C=US/CN=x.test/L=Redmond/O=Org/OU=Unit/ST=WA", "x.test", "Org"},
		{"last of a type wins", []atv{{oid: cn, tag: utf8s, value: "first"}, {oid: cn, tag: utf8s, value: "second"}},
			"/CN=second", "second", nil},
		{"multi-valued RDN", []atv{{oid: o, tag: utf8s, value: "Org"}, {oid: cn, tag: utf8s, value: "x", plus: true}},
			"/CN=x/O=Org", "x", "Org"},
		{"other attributes left out", []atv{{oid: email, tag: cbasn1.Tag(22), value: "a@b.test"}, {oid: serial, tag: printable, value: "123"}},
			"", nil, nil},
		{"empty value kept", []atv{{oid: cn, tag: utf8s, value: ""}}, "/CN=", "", nil},
		{"not UTF-8: ignored, earlier value kept", []atv{{oid: cn, tag: utf8s, value: "ok"}, {oid: cn, tag: cbasn1.Tag(20), value: "Lidk\xf6ping"}},
			"/CN=ok", "ok", nil},
		{"BMPString content bytes as they are", []atv{{oid: cn, tag: bmp, value: "\x00a\x00b"}}, "/CN=\x00a\x00b", "\x00a\x00b", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := readDN(nameContent(t, tc.attrs))
			if got := string(d.aggregated()); got != tc.aggregated {
				t.Errorf("aggregated %q, want %q", got, tc.aggregated)
			}
			checkOptional(t, "cn", d.cn, tc.cn)
			checkOptional(t, "o", d.o, tc.o)
		})
	}
}

func TestReadDNMalformed(t *testing.T) {
	good := nameContent(t, []atv{{oid: cn, tag: 12, value: "kept"}})
	for _, tc := range []struct {
		name string
		tail []byte
	}{
		{"truncated SET", []byte{0x31, 0x05, 0x30}},
		{"not a SET", []byte{0x30, 0x00}},
		{"ATV without value", []byte{0x31, 0x07, 0x30, 0x05, 0x06, 0x03, 0x55, 0x04, 0x0a}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := readDN(append(append([]byte{}, good...), tc.tail...))
			if string(d.aggregated()) != "/CN=kept" {
				t.Errorf("aggregated %q, want what preceded the damage", d.aggregated())
			}
		})
	}
}

func checkOptional(tb testing.TB, field string, got []byte, want any) {
	tb.Helper()
	switch {
	case want == nil && got != nil:
		tb.Errorf("%s %q, want absent", field, got)
	case want != nil && (got == nil || string(got) != want.(string)):
		tb.Errorf("%s %q (nil %v), want %q", field, got, got == nil, want)
	}
}

func TestSerialHex(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content []byte
		want    string
	}{
		{"sign byte dropped", []byte{0x00, 0xb9, 0x97}, "B997"},
		{"leading zero nibble kept", []byte{0x06, 0xb1}, "06B1"},
		{"zero", []byte{0x00}, "00"},
		{"empty content", nil, "00"},
		{"non-minimal zeros dropped", []byte{0x00, 0x00, 0x01}, "01"},
		{"negative read as unsigned", []byte{0xff, 0x01}, "FF01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(serialHex(tc.content)); got != tc.want {
				t.Errorf("serialHex(%x) = %s, want %s", tc.content, got, tc.want)
			}
		})
	}
}

func TestSigAlgName(t *testing.T) {
	for _, tc := range []struct {
		oid  []int
		want string
	}{
		{[]int{1, 2, 840, 113549, 1, 1, 11}, "sha256, rsa"},
		{[]int{1, 2, 840, 113549, 1, 1, 10}, "sha256, rsa-pss"},
		{[]int{1, 2, 840, 10045, 4, 3, 3}, "ecdsa, sha384"},
		{[]int{1, 3, 101, 112}, "ed25519"},
		{[]int{1, 3, 101, 113}, "unknown"}, // Ed448
		{nil, "unknown"},
	} {
		var content []byte
		if tc.oid != nil {
			content = []byte(oidContent(tc.oid))
		}
		if got := string(sigAlgName(content)); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.oid, got, tc.want)
		}
	}
}

func TestTilePath(t *testing.T) {
	for n, want := range map[uint64]string{
		0: "000", 7: "007", 999: "999", 1000: "x001/000", 1234067: "x001/x234/067",
		4354630040 / 256: "x017/x010/273",
	} {
		if got := tilePath(n); got != want {
			t.Errorf("tilePath(%d) = %s, want %s", n, got, want)
		}
	}
}
