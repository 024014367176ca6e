package ctlogtest

import (
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	ct "github.com/google/certificate-transparency-go"
	"github.com/google/certificate-transparency-go/tls"
	"golang.org/x/mod/sumdb/tlog"
)

func (l *Log) routeRFC6962(mux *http.ServeMux) {
	mux.HandleFunc("GET /ct/v1/get-sth", l.getSTH)
	mux.HandleFunc("GET /ct/v1/get-entries", l.getEntries)
	mux.HandleFunc("GET /ct/v1/get-proof-by-hash", l.getProofByHash)
	mux.HandleFunc("GET /ct/v1/get-entry-and-proof", l.getEntryAndProof)
}

// signSTH returns the TLS-encoded DigitallySigned of an RFC 6962 tree head.
func signSTH(key *ecdsa.PrivateKey, size int64, ts int64, root tlog.Hash) ([]byte, error) {
	input, err := ct.SerializeSTHSignatureInput(ct.SignedTreeHead{
		Version: ct.V1, TreeSize: uint64(size), Timestamp: uint64(ts), SHA256RootHash: ct.SHA256Hash(root),
	})
	if err != nil {
		return nil, err
	}
	ds, err := tls.CreateSignature(*key, tls.SHA256, input) // a value: it does not take pointers
	if err != nil {
		return nil, err
	}
	return tls.Marshal(ds)
}

func (l *Log) signingKey(f Faults) *ecdsa.PrivateKey {
	if f.BadSignature {
		return l.other
	}
	return l.key
}

func (l *Log) getSTH(w http.ResponseWriter, r *http.Request) {
	f, size := l.snapshot()
	ts := time.Now().UnixMilli()
	root := l.Root(size)
	sig, err := signSTH(l.signingKey(f), size, ts, root)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, ct.GetSTHResponse{TreeSize: uint64(size), Timestamp: uint64(ts), SHA256RootHash: root[:], TreeHeadSignature: sig})
}

func (l *Log) getEntries(w http.ResponseWriter, r *http.Request) {
	f, _ := l.snapshot()
	start, err1 := strconv.ParseInt(r.FormValue("start"), 10, 64)
	end, err2 := strconv.ParseInt(r.FormValue("end"), 10, 64)
	n := int64(len(l.entries))
	if err1 != nil || err2 != nil || start < 0 || end < start || start >= n {
		http.Error(w, "bad range", http.StatusBadRequest)
		return
	}
	pageCap := int64(1000)
	if f.PageCap > 0 {
		pageCap = int64(f.PageCap)
	}
	end = min(end, n-1, start+pageCap-1)
	var resp ct.GetEntriesResponse
	for i := start; i <= end; i++ {
		extra, err := extraData(l.entries[i])
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		resp.Entries = append(resp.Entries, ct.LeafEntry{LeafInput: l.leaves[i], ExtraData: extra})
	}
	resp.Entries = l.tamperPage(f, start, resp.Entries)
	writeJSON(w, resp)
}

// getProofByHash answers RFC 6962 section 4.5: the audit path of the first
// leaf with the given hash in the tree of tree_size leaves, 404 if none.
func (l *Log) getProofByHash(w http.ResponseWriter, r *http.Request) {
	hash, err := base64.StdEncoding.DecodeString(r.FormValue("hash"))
	size, ok := l.treeSize(r)
	if err != nil || len(hash) != tlog.HashSize || !ok {
		http.Error(w, "bad hash or tree_size", http.StatusBadRequest)
		return
	}
	index, found := l.byHash[tlog.Hash(hash)]
	if !found || index >= size {
		http.Error(w, "no leaf with this hash in the tree", http.StatusNotFound)
		return
	}
	path, err := l.auditPath(size, index)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, ct.GetProofByHashResponse{LeafIndex: index, AuditPath: path})
}

// getEntryAndProof answers RFC 6962 section 4.8: one entry by index, with
// its audit path in the tree of tree_size leaves.
func (l *Log) getEntryAndProof(w http.ResponseWriter, r *http.Request) {
	index, err := strconv.ParseInt(r.FormValue("leaf_index"), 10, 64)
	size, ok := l.treeSize(r)
	if err != nil || !ok || index < 0 || index >= size {
		http.Error(w, "bad leaf_index or tree_size", http.StatusBadRequest)
		return
	}
	extra, err := extraData(l.entries[index])
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	path, err := l.auditPath(size, index)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, ct.GetEntryAndProofResponse{LeafInput: l.leaves[index], ExtraData: extra, AuditPath: path})
}

// treeSize reads tree_size: a tree of at least one leaf that the log holds.
func (l *Log) treeSize(r *http.Request) (int64, bool) {
	size, err := strconv.ParseInt(r.FormValue("tree_size"), 10, 64)
	return size, err == nil && size >= 1 && size <= int64(len(l.entries))
}

// auditPath is the RFC 6962 PATH(index, D[0:size]), leaf end first, as
// tlog computes it from the stored hashes.
func (l *Log) auditPath(size, index int64) ([][]byte, error) {
	p, err := tlog.ProveRecord(size, index, l.hashReader())
	if err != nil {
		return nil, err
	}
	f, _ := l.snapshot()
	path := make([][]byte, len(p))
	for i := range p {
		path[i] = append([]byte(nil), p[i][:]...)
		if f.Tamper == TamperProof {
			path[i][0] ^= 0x01
		}
	}
	return path, nil
}

// extraData is the recorded extra_data, or a CertificateChain or
// PrecertChainEntry built from the entry.
func extraData(e Entry) ([]byte, error) {
	if e.ExtraData != nil {
		return e.ExtraData, nil
	}
	chain := make([]ct.ASN1Cert, len(e.Chain))
	for i, c := range e.Chain {
		chain[i] = ct.ASN1Cert{Data: c}
	}
	if e.Precert {
		return tls.Marshal(ct.PrecertChainEntry{PreCertificate: ct.ASN1Cert{Data: e.Cert}, CertificateChain: chain})
	}
	return tls.Marshal(ct.CertificateChain{Entries: chain})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
