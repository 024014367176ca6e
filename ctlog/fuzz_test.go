package ctlog_test

import (
	"bytes"
	"testing"

	"filippo.io/sunlight"
	"github.com/certstream-arrow/certstream-arrow/ctlog"
	"github.com/certstream-arrow/certstream-arrow/ctlog/ctlogtest"
	ct "github.com/google/certificate-transparency-go"
	"github.com/google/certificate-transparency-go/tls"
)

// FuzzReadTileLeaf feeds data tiles to the TileLeaf parser. Whatever it
// accepts must rebuild into a MerkleTreeLeaf that certificate-transparency-go
// decodes to the same timestamp, type and certificate bytes.
func FuzzReadTileLeaf(f *testing.F) {
	_, real := ctlogtest.LoadSnapshot(f)
	for i, e := range append(real, ctlogtest.Generate(f, 4)...) {
		le := &sunlight.LogEntry{Certificate: e.Cert, Timestamp: e.Timestamp, LeafIndex: int64(i)}
		if e.Precert {
			le.IsPrecert, le.Certificate, le.IssuerKeyHash, le.PreCertificate = true, e.TBS, e.IssuerKeyHash, e.Cert
		}
		le.ChainFingerprints = make([][32]byte, len(e.Chain))
		f.Add(sunlight.AppendTileLeaf(nil, le))
	}
	f.Fuzz(func(t *testing.T, tile []byte) {
		e, _, rest, err := ctlog.ReadTileLeaf(tile)
		if err != nil {
			return
		}
		if len(rest) > len(tile) || !bytes.HasSuffix(tile, rest) {
			t.Fatal("rest is not a suffix of the tile")
		}
		var mtl ct.MerkleTreeLeaf
		if r, err := tls.Unmarshal(e.LeafInput, &mtl); err != nil || len(r) != 0 {
			t.Fatalf("rebuilt leaf does not decode: %v", err)
		}
		te := mtl.TimestampedEntry
		switch {
		case int64(te.Timestamp) != e.Timestamp:
			t.Fatal("timestamp differs")
		case e.Type == ctlog.X509Entry && (te.X509Entry == nil || !bytes.Equal(te.X509Entry.Data, e.LeafDER)):
			t.Fatal("x509 certificate differs")
		case e.Type == ctlog.PrecertEntry && (te.PrecertEntry == nil || !bytes.Equal(te.PrecertEntry.TBSCertificate, e.TBS)):
			t.Fatal("precert TBS differs")
		}
	})
}

// FuzzParseRFC6962Entry feeds get-entries leaf_input and extra_data pairs
// to the RFC 6962 parser.
func FuzzParseRFC6962Entry(f *testing.F) {
	snaps, _ := ctlogtest.LoadSnapshot(f)
	for _, s := range snaps {
		f.Add(s.LeafInput, s.ExtraData)
	}
	f.Fuzz(func(t *testing.T, leafInput, extraData []byte) {
		e, err := ctlog.ParseRFC6962Entry(7, leafInput, extraData)
		if err != nil {
			return
		}
		if e.Index != 7 || e.Timestamp < 0 || (e.Type != ctlog.X509Entry && e.Type != ctlog.PrecertEntry) {
			t.Fatalf("accepted %+v", e)
		}
		if e.Type == ctlog.PrecertEntry && len(e.LeafDER) == 0 {
			t.Fatal("precert entry without its pre-certificate")
		}
	})
}
