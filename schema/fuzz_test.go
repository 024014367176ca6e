package schema_test

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/certstream-arrow/certstream-arrow/archive/archivetest"
	"github.com/certstream-arrow/certstream-arrow/schema"
	"github.com/certstream-arrow/certstream-arrow/stream"
	"github.com/certstream-arrow/certstream-arrow/stream/streamtest"
)

// FuzzRoundTrip: whatever decodes, builds into a row that survives a zstd
// IPC file write and read back with exactly the decoded values.
func FuzzRoundTrip(f *testing.F) {
	for _, rec := range streamtest.LoadRecorded(f) {
		f.Add(rec.Data)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		var dec stream.Decoder
		u, err := dec.Decode(msg)
		if err != nil || u.Kind == stream.KindHeartbeat {
			return
		}
		u.ReceivedAt = received
		want := rowOf(u)

		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		s := schema.New("fuzz")
		b := schema.NewBuilder(mem, s)
		defer b.Release()
		b.Append(u)
		rec := b.NewRecordBatch()
		defer rec.Release()
		var buf bytes.Buffer
		w, err := ipc.NewFileWriter(&buf, ipc.WithSchema(s), ipc.WithZstd(), ipc.WithAllocator(mem))
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		r, err := ipc.NewFileReader(bytes.NewReader(buf.Bytes()), ipc.WithAllocator(mem))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		got, err := r.RecordBatch(0)
		if err != nil {
			t.Fatal(err)
		}
		archivetest.SameRows(t, archivetest.Rows(got), []archivetest.Row{want})
	})
}

// rowOf is the row an Update must become, straight from its fields.
func rowOf(u *stream.Update) archivetest.Row {
	str := func(b []byte) any {
		if b == nil {
			return nil
		}
		return string(b)
	}
	digest := func(b []byte, size int) any {
		if len(b) != size {
			return nil
		}
		return strings.ToUpper(hex.EncodeToString(b))
	}
	ts := func(t time.Time, unit time.Duration) any {
		if t.IsZero() {
			return nil
		}
		return t.UTC().Truncate(unit)
	}
	list := func(items [][]byte) any {
		if items == nil {
			return nil
		}
		out := []string{}
		for _, s := range items {
			out = append(out, string(s))
		}
		return out
	}
	r := archivetest.Row{
		"seen": ts(u.Seen, time.Microsecond), "received_at": ts(u.ReceivedAt, time.Microsecond),
		"update_type": str(u.UpdateType), "cert_index": nil, "cert_link": str(u.CertLink),
		"source_url": str(u.SourceURL), "source_name": str(u.SourceName), "domains": list(u.Domains),
		"subject": str(u.Subject), "subject_cn": str(u.SubjectCN), "subject_o": str(u.SubjectO),
		"issuer": str(u.Issuer), "issuer_cn": str(u.IssuerCN), "issuer_o": str(u.IssuerO),
		"not_before": ts(u.NotBefore, time.Second), "not_after": ts(u.NotAfter, time.Second),
		"serial_number": str(u.Serial), "fingerprint": digest(u.SHA1, 20), "sha256": digest(u.SHA256, 32),
		"signature_algorithm": str(u.SigAlg), "is_ca": nil, "as_der": nil,
		"chain_subjects": list(u.ChainNames), "submitted_at": ts(u.SubmittedAt, time.Microsecond),
		"entry_timestamp": ts(u.EntryTime, time.Millisecond), "provenance": u.Provenance.String(),
	}
	if u.HasCertIndex {
		r["cert_index"] = u.CertIndex
	}
	if u.IsCA != stream.BoolNull {
		r["is_ca"] = u.IsCA == stream.BoolTrue
	}
	if u.DER != nil {
		r["as_der"] = bytes.Clone(u.DER)
	}
	return r
}
