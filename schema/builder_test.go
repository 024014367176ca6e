package schema_test

import (
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/certstream-arrow/certstream-arrow/archive/archivetest"
	"github.com/certstream-arrow/certstream-arrow/schema"
	"github.com/certstream-arrow/certstream-arrow/stream"
	"github.com/certstream-arrow/certstream-arrow/stream/streamgen"
	"github.com/certstream-arrow/certstream-arrow/stream/streamtest"
)

var received = time.Date(2026, 11, 24, 13, 5, 0, 123456000, time.UTC)

// build decodes msgs and returns the rows of one record batch built from
// them, checking that no Arrow buffer leaks.
func build(t *testing.T, msgs ...[]byte) []archivetest.Row {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := schema.NewBuilder(mem, schema.New("test"))
	defer b.Release()
	var dec stream.Decoder
	for _, m := range msgs {
		u, err := dec.Decode(m)
		if err != nil {
			t.Fatalf("decode %.200s: %v", m, err)
		}
		if u.Kind == stream.KindHeartbeat {
			continue
		}
		u.ReceivedAt = received
		b.Append(u)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	return archivetest.Rows(rec)
}

func expect(t *testing.T, msgs ...[]byte) []archivetest.Row {
	t.Helper()
	var rows []archivetest.Row
	for _, m := range msgs {
		if row, ok := archivetest.Expect(m); ok {
			row["received_at"] = received
			rows = append(rows, row)
		}
	}
	return rows
}

// Every recorded message, from every server dialect, maps to the row an
// independent encoding/json reading of it predicts.
func TestRecordedDialects(t *testing.T) {
	for _, rec := range streamtest.LoadRecorded(t) {
		t.Run(rec.Name, func(t *testing.T) {
			archivetest.SameRows(t, build(t, rec.Data), expect(t, rec.Data))
		})
	}
}

func TestGeneratedStreams(t *testing.T) {
	for _, kind := range []streamgen.Kind{streamgen.Lite, streamgen.Full, streamgen.DomainsOnly} {
		t.Run(string(kind), func(t *testing.T) {
			g := streamgen.New(streamgen.Options{Kind: kind, Seed: 7})
			msgs := make([][]byte, 3000)
			for i := range msgs {
				msgs[i] = g.Next()
			}
			got := build(t, msgs...)
			if len(got) != len(msgs) {
				t.Fatalf("%d rows from %d messages", len(got), len(msgs))
			}
			archivetest.SameRows(t, got, expect(t, msgs...))
		})
	}
}

// Odd but legal shapes: each yields a row with nulls where the value was
// missing, never a dropped row.
func TestOddShapes(t *testing.T) {
	tests := []struct {
		name  string
		msg   string
		check func(t *testing.T, r archivetest.Row)
	}{
		{"nulls everywhere", `{"message_type":"certificate_update","data":{"update_type":null,"leaf_cert":{"subject":null,"issuer":{"CN":null},"all_domains":null,"not_before":null,"not_after":null,"is_ca":null,"as_der":null},"cert_index":null,"seen":null,"source":null,"chain":null}}`,
			func(t *testing.T, r archivetest.Row) {
				for col, v := range r {
					if col != "received_at" && col != "provenance" && v != nil {
						t.Errorf("%s = %v, want null", col, v)
					}
				}
			}},
		{"damaged: digests of empty input and no DER", `{"message_type":"certificate_update","data":{"leaf_cert":{"fingerprint":"DA:39:A3:EE:5E:6B:4B:0D:32:55:BF:EF:95:60:18:90:AF:D8:07:09","sha256":"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"}}}`,
			func(t *testing.T, r archivetest.Row) {
				if r["fingerprint"] != nil || r["sha256"] != nil || r["provenance"] != "stream" {
					t.Errorf("fingerprint %v sha256 %v provenance %v, want null digests from a stream", r["fingerprint"], r["sha256"], r["provenance"])
				}
			}},
		{"empty leaf", `{"message_type":"certificate_update","data":{"leaf_cert":{}}}`,
			func(t *testing.T, r archivetest.Row) {
				if r["domains"] != nil || r["received_at"] != received {
					t.Errorf("row %v", r)
				}
			}},
		{"no_expiration and float times", `{"message_type":"certificate_update","data":{"seen":1509912803.959279,"leaf_cert":{"not_before":1509912000.0,"not_after":"no_expiration"}}}`,
			func(t *testing.T, r archivetest.Row) {
				want := time.Date(2017, 11, 5, 20, 13, 23, 959279000, time.UTC)
				if r["seen"] != want || r["not_after"] != nil || r["not_before"] != time.Unix(1509912000, 0).UTC() {
					t.Errorf("seen %v not_before %v not_after %v", r["seen"], r["not_before"], r["not_after"])
				}
			}},
		{"cert_index 0 and seen in 1970", `{"message_type":"certificate_update","data":{"cert_index":0,"seen":1,"leaf_cert":{"all_domains":[]}}}`,
			func(t *testing.T, r archivetest.Row) {
				if r["cert_index"] != int64(0) || r["seen"] != time.Unix(1, 0).UTC() || len(r["domains"].([]string)) != 0 {
					t.Errorf("row %v", r)
				}
			}},
		{"unicode, IDN and control characters", `{"message_type":"certificate_update","data":{"leaf_cert":{"subject":{"CN":"b\u00fccher.example\u0007\n"},"all_domains":["xn--bcher-kva.example","bücher.example","tab\there"]}}}`,
			func(t *testing.T, r archivetest.Row) {
				if r["subject_cn"] != "bücher.example\a\n" || r["domains"].([]string)[2] != "tab\there" {
					t.Errorf("subject_cn %q domains %q", r["subject_cn"], r["domains"])
				}
			}},
		{"invalid UTF-8 is repaired", "{\"message_type\":\"certificate_update\",\"data\":{\"leaf_cert\":{\"subject\":{\"CN\":\"a\xffb\"}}}}",
			func(t *testing.T, r archivetest.Row) {
				if r["subject_cn"] != "a\uFFFDb" {
					t.Errorf("subject_cn %q", r["subject_cn"])
				}
			}},
		{"null names inside all_domains are dropped", `{"message_type":"certificate_update","data":{"leaf_cert":{"all_domains":["a.example",null,"b.example"]}}}`,
			func(t *testing.T, r archivetest.Row) {
				if d := r["domains"].([]string); len(d) != 2 || d[1] != "b.example" {
					t.Errorf("domains %q", d)
				}
			}},
		{"placeholder DER is null, digests stay null", `{"message_type":"certificate_update","data":{"leaf_cert":{"as_der":"::BASE64_DER_CERT::"}}}`,
			func(t *testing.T, r archivetest.Row) {
				if r["as_der"] != nil || r["sha256"] != nil || r["fingerprint"] != nil {
					t.Errorf("as_der %v sha256 %v fingerprint %v", r["as_der"], r["sha256"], r["fingerprint"])
				}
			}},
		{"DER gives the digests not sent", `{"message_type":"certificate_update","data":{"leaf_cert":{"as_der":"aGVsbG8="}}}`,
			func(t *testing.T, r archivetest.Row) {
				const sha256 = "2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824"
				const sha1 = "AAF4C61DDCC5E8A2DABEDE0F3B482CD9AEA9434D"
				if string(r["as_der"].([]byte)) != "hello" || r["sha256"] != sha256 || r["fingerprint"] != sha1 {
					t.Errorf("as_der %q sha256 %v fingerprint %v", r["as_der"], r["sha256"], r["fingerprint"])
				}
			}},
		{"digests sent win over DER; colons and case do not matter", `{"message_type":"certificate_update","data":{"leaf_cert":{"as_der":"aGVsbG8=",
				"fingerprint":"00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11:22:33",
				"sha256":"00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"}}}`,
			func(t *testing.T, r archivetest.Row) {
				if r["fingerprint"] != "00112233445566778899AABBCCDDEEFF00112233" ||
					r["sha256"] != "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF" {
					t.Errorf("fingerprint %v sha256 %v", r["fingerprint"], r["sha256"])
				}
			}},
		{"a digest that is not hex of the right size is null", `{"message_type":"certificate_update","data":{"leaf_cert":{
				"fingerprint":"00:11:22", "sha1":"00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33",
				"sha256":"not a digest, but 64 characters long, to make sure length is not enough"}}}`,
			func(t *testing.T, r archivetest.Row) {
				if r["fingerprint"] != nil || r["sha256"] != nil {
					t.Errorf("fingerprint %v sha256 %v", r["fingerprint"], r["sha256"])
				}
			}},
		{"is_ca from basicConstraints", `{"message_type":"certificate_update","data":{"leaf_cert":{"extensions":{"basicConstraints":"CA:TRUE, pathlen:0"}}}}`,
			func(t *testing.T, r archivetest.Row) {
				if r["is_ca"] != true {
					t.Errorf("is_ca %v", r["is_ca"])
				}
			}},
		{"certificate valid until 9999", `{"message_type":"certificate_update","data":{"leaf_cert":{"not_after":253402300799}}}`,
			func(t *testing.T, r archivetest.Row) {
				if r["not_after"] != time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC) {
					t.Errorf("not_after %v", r["not_after"])
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := build(t, []byte(tt.msg))
			if len(rows) != 1 {
				t.Fatalf("%d rows, want 1", len(rows))
			}
			tt.check(t, rows[0])
		})
	}
}

func TestLargeSANList(t *testing.T) {
	names := make([]byte, 0, 1<<20)
	names = append(names, `{"message_type":"certificate_update","data":{"leaf_cert":{"all_domains":[`...)
	for i := range 5000 {
		if i > 0 {
			names = append(names, ',')
		}
		names = append(names, []byte(`"host`+string(rune('a'+i%26))+`.example.com"`)...)
	}
	names = append(names, "]}}}"...)
	rows := build(t, names)
	if got := len(rows[0]["domains"].([]string)); got != 5000 {
		t.Fatalf("%d domains, want 5000", got)
	}
}

func TestSchemaMetadataAndTypes(t *testing.T) {
	s := schema.New("v1.2.3")
	md := s.Metadata()
	if v, _ := md.GetValue(schema.MetaSchemaVersion); v != schema.Version {
		t.Errorf("schema version %q", v)
	}
	if v, _ := md.GetValue(schema.MetaProgramVersion); v != "v1.2.3" {
		t.Errorf("program version %q", v)
	}
	for _, f := range s.Fields() {
		switch f.Type.ID() {
		case arrow.DICTIONARY, arrow.STRING_VIEW, arrow.BINARY_VIEW, arrow.LIST_VIEW, arrow.LARGE_LIST_VIEW, arrow.EXTENSION:
			t.Errorf("column %s has type %s, which DuckDB's nanoarrow reader rejects", f.Name, f.Type)
		}
	}
}

// Bytes follows the variable data a batch holds, so that callers can cut
// batches by bytes, and starts again from zero with each batch.
func TestBuilderBytes(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b := schema.NewBuilder(mem, schema.New("test"))
	defer b.Release()
	small := &stream.Update{Kind: stream.KindCertificate, ReceivedAt: received}
	b.Append(small)
	base := b.Bytes()
	if base <= 0 {
		t.Fatalf("an empty row counts %d bytes, want its fixed cost", base)
	}
	big := &stream.Update{Kind: stream.KindCertificate, ReceivedAt: received,
		DER: make([]byte, 1<<20), Domains: [][]byte{make([]byte, 1000), make([]byte, 2000)}}
	b.Append(big)
	if got, want := b.Bytes()-base, base+1<<20+3000; got < want {
		t.Fatalf("a row with 1 MiB of DER and 3000 bytes of names counts %d bytes, want at least %d", got, want)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	if b.Bytes() != 0 || b.Len() != 0 {
		t.Fatalf("after NewRecordBatch: %d rows, %d bytes", b.Len(), b.Bytes())
	}
}
