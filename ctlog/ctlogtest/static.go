package ctlogtest

import (
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"encoding/binary"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"filippo.io/sunlight"
	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func (l *Log) routeStatic(mux *http.ServeMux) {
	mux.HandleFunc("GET /checkpoint", l.checkpoint)
	mux.HandleFunc("GET /tile/", l.tile)
	mux.HandleFunc("GET /issuer/{fp}", l.issuer)
}

// Origin is the checkpoint origin line: the log's URL without scheme.
func (l *Log) Origin() string {
	return strings.TrimPrefix(l.Server.URL, "http://")
}

func (l *Log) checkpoint(w http.ResponseWriter, r *http.Request) {
	f, size := l.snapshot()
	cp := torchwood.Checkpoint{Origin: l.Origin(), Tree: tlog.Tree{N: size, Hash: l.Root(size)}}
	v, err := sunlight.NewRFC6962Verifier(l.Origin(), &l.key.PublicKey)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s := &noteSigner{v: v, key: l.signingKey(f), ts: time.Now().UnixMilli()}
	signed, err := note.Sign(&note.Note{Text: cp.String()}, s)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	_, _ = w.Write(signed)
}

// noteSigner makes the RFC6962NoteSignature of c2sp.org/static-ct-api:
// the STH timestamp, then the TLS DigitallySigned of the tree head.
type noteSigner struct {
	v   note.Verifier
	key *ecdsa.PrivateKey
	ts  int64
}

func (s *noteSigner) Name() string    { return s.v.Name() }
func (s *noteSigner) KeyHash() uint32 { return s.v.KeyHash() }
func (s *noteSigner) Sign(msg []byte) ([]byte, error) {
	cp, err := torchwood.ParseCheckpoint(string(msg))
	if err != nil {
		return nil, err
	}
	sig, err := signSTH(s.key, cp.N, s.ts, cp.Hash)
	if err != nil {
		return nil, err
	}
	return append(binary.BigEndian.AppendUint64(nil, uint64(s.ts)), sig...), nil
}

func (l *Log) tile(w http.ResponseWriter, r *http.Request) {
	f, _ := l.snapshot()
	t, err := sunlight.ParseTilePath(strings.TrimPrefix(r.URL.Path, "/"))
	if err != nil || t.L < -1 || !l.tileExists(t) {
		http.NotFound(w, r)
		return
	}
	if t.L >= 0 {
		data, err := tlog.ReadTileData(t, l.hashReader())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(data)
		return
	}
	if t.W < sunlight.TileWidth && f.NoPartialData {
		http.NotFound(w, r)
		return
	}
	var body []byte
	if t.N == f.CorruptTile {
		data := l.dataTile(t)
		data[60] ^= 0x01 // inside the first leaf's certificate or TBS: parses, hashes wrong
		body = gzipped(data)
	} else if v, ok := l.gzTiles.Load(t); ok {
		body = v.([]byte)
	} else {
		body = gzipped(l.dataTile(t))
		l.gzTiles.Store(t, body)
	}
	if !f.PlainGzip {
		w.Header().Set("Content-Encoding", "gzip")
	}
	_, _ = w.Write(body)
}

// tileExists reports whether the log holds t: the hashes it covers exist
// at its level, and a partial tile is only at the right edge.
func (l *Log) tileExists(t tlog.Tile) bool {
	level := max(t.L, 0)
	count := int64(len(l.entries)) >> (uint(level) * sunlight.TileHeight)
	end := t.N*sunlight.TileWidth + int64(t.W)
	return end <= count && (t.W == sunlight.TileWidth || end == count || l.partialKept(t))
}

// partialKept: partial tiles of trees published earlier stay readable,
// as Sunlight keeps them until the full tile replaces them.
func (l *Log) partialKept(t tlog.Tile) bool {
	_, size := l.snapshot()
	level := max(t.L, 0)
	return t.N*sunlight.TileWidth+int64(t.W) == size>>(uint(level)*sunlight.TileHeight)
}

func (l *Log) dataTile(t tlog.Tile) []byte {
	var b []byte
	for i := t.N * sunlight.TileWidth; i < t.N*sunlight.TileWidth+int64(t.W); i++ {
		b = sunlight.AppendTileLeaf(b, sunlightEntry(l.entries[i], i, true))
	}
	return b
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

func (l *Log) issuer(w http.ResponseWriter, r *http.Request) {
	fp, err := hex.DecodeString(r.PathValue("fp"))
	if err != nil || len(fp) != 32 {
		http.NotFound(w, r)
		return
	}
	der, ok := l.issuers[[32]byte(fp)]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if f, _ := l.snapshot(); f.WrongIssuer {
		der = append([]byte(nil), der...)
		der[len(der)-1] ^= 0x01
	}
	_, _ = w.Write(der)
}
