package ctlogtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/sunlight"
	"github.com/certstream-arrow/certstream-arrow/ctlog"
	"golang.org/x/mod/sumdb/tlog"
)

// Faults are the misbehaviours a fake log can show. Counts are consumed
// by the requests that meet them, in arrival order.
type Faults struct {
	PageCap       int           // RFC 6962: at most this many entries per get-entries answer (0: 1000)
	Throttle      int           // answer the next Throttle requests 429
	RetryAfter    string        // Retry-After header sent with 429 and 503 ("" for none)
	Unavailable   int           // answer the next Unavailable requests 503
	Delay         time.Duration // sleep before every answer (a slow log)
	CorruptTile   int64         // static-CT: flip a byte of data tile N (-1: none)
	BadSignature  bool          // sign tree heads with another key
	NoPartialData bool          // static-CT: partial data tiles answer 404
	PlainGzip     bool          // static-CT: gzip data tiles without Content-Encoding
	WrongIssuer   bool          // static-CT: answer issuer requests with another certificate
	Tamper        Tamper        // RFC 6962: falsify answers at entry TamperAt (TamperNone: don't)
	TamperAt      int64
}

// Log is a fake CT log on loopback. Safe for concurrent use.
type Log struct {
	Server *httptest.Server
	Info   *ctlog.Log // what a log list says of it: pass to ctlog.NewClient

	entries []Entry
	leaves  [][]byte            // MerkleTreeLeaf of each entry
	hashes  []tlog.Hash         // stored hashes of the whole tree (tlog layout)
	byHash  map[tlog.Hash]int64 // leaf hash -> first index holding it
	issuers map[[32]byte][]byte
	key     *ecdsa.PrivateKey
	other   *ecdsa.PrivateKey // signs when Faults.BadSignature

	mu     sync.Mutex
	faults Faults
	size   int64 // the size tree heads advertise

	requests, inFlight, maxInFlight atomic.Int64
	paths                           sync.Map // path -> *atomic.Int64
	gzTiles                         sync.Map // tlog.Tile -> gzipped data tile, built once
}

// NewRFC6962 starts an RFC 6962 log serving entries at indexes 0..n-1.
func NewRFC6962(tb testing.TB, entries []Entry) *Log {
	return newLog(tb, entries, false)
}

// NewStatic starts a static-CT log serving entries at indexes 0..n-1.
func NewStatic(tb testing.TB, entries []Entry) *Log {
	return newLog(tb, entries, true)
}

func newLog(tb testing.TB, entries []Entry, tiled bool) *Log {
	tb.Helper()
	l := &Log{entries: entries, issuers: map[[32]byte][]byte{}, byHash: map[tlog.Hash]int64{}, size: int64(len(entries))}
	l.faults.CorruptTile = -1
	l.key, l.other = newKey(tb), newKey(tb)
	for i, e := range entries {
		l.leaves = append(l.leaves, merkleLeaf(e, int64(i), tiled))
		if _, dup := l.byHash[tlog.RecordHash(l.leaves[i])]; !dup {
			l.byHash[tlog.RecordHash(l.leaves[i])] = int64(i)
		}
		for _, c := range e.Chain {
			l.issuers[sha256.Sum256(c)] = c
		}
	}
	l.hashes = storedHashes(tb, l.leaves)
	mux := http.NewServeMux()
	if tiled {
		l.routeStatic(mux)
	} else {
		l.routeRFC6962(mux)
	}
	l.Server = httptest.NewServer(l.wrap(mux))
	tb.Cleanup(l.Server.Close)
	l.Info = l.describe(tb, tiled)
	return l
}

func newKey(tb testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func storedHashes(tb testing.TB, leaves [][]byte) []tlog.Hash {
	var hashes []tlog.Hash
	r := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = hashes[x]
		}
		return out, nil
	})
	for i, leaf := range leaves {
		h, err := tlog.StoredHashes(int64(i), leaf, r)
		if err != nil {
			tb.Fatal(err)
		}
		hashes = append(hashes, h...)
	}
	return hashes
}

func (l *Log) hashReader() tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = l.hashes[x]
		}
		return out, nil
	})
}

func (l *Log) describe(tb testing.TB, tiled bool) *ctlog.Log {
	spki, err := x509.MarshalPKIXPublicKey(&l.key.PublicKey)
	if err != nil {
		tb.Fatal(err)
	}
	kind := "RFC 6962"
	if tiled {
		kind = "static-CT"
	}
	info := &ctlog.Log{
		Description: "ctlogtest " + kind + " log", Operator: "ctlogtest",
		URL: l.Server.URL + "/", Tiled: tiled, Key: &l.key.PublicKey, KeyDER: spki,
		LogID: sha256.Sum256(spki), MMD: 24 * time.Hour, State: "usable",
	}
	if tiled {
		info.SubmissionURL = l.Server.URL + "/submit/"
	}
	return info
}

// SetFaults replaces the fault knobs.
func (l *Log) SetFaults(f Faults) {
	l.mu.Lock()
	l.faults = f
	l.mu.Unlock()
}

// Publish sets the tree size heads advertise (at most the entries held);
// entries beyond it stay readable, as in a log that grew since.
func (l *Log) Publish(size int64) {
	l.mu.Lock()
	l.size = min(size, int64(len(l.entries)))
	l.mu.Unlock()
}

// Requests returns the number of requests served, and the largest number
// in flight at once.
func (l *Log) Requests() (total, maxInFlight int64) {
	return l.requests.Load(), l.maxInFlight.Load()
}

// PathRequests returns how many requests asked for path.
func (l *Log) PathRequests(path string) int64 {
	if v, ok := l.paths.Load(path); ok {
		return v.(*atomic.Int64).Load()
	}
	return 0
}

// Root returns the Merkle tree hash of the first n entries.
func (l *Log) Root(n int64) tlog.Hash {
	h, err := tlog.TreeHash(n, l.hashReader())
	if err != nil {
		panic(err)
	}
	return h
}

// wrap applies the request-level faults and bookkeeping.
func (l *Log) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.requests.Add(1)
		n := l.inFlight.Add(1)
		defer l.inFlight.Add(-1)
		for m := l.maxInFlight.Load(); n > m && !l.maxInFlight.CompareAndSwap(m, n); m = l.maxInFlight.Load() {
		}
		v, _ := l.paths.LoadOrStore(strings.TrimPrefix(r.URL.Path, "/"), new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
		if ua := r.Header.Get("User-Agent"); !strings.Contains(ua, "+https://") {
			http.Error(w, "a User-Agent naming the program is required", http.StatusForbidden)
			return
		}
		l.mu.Lock()
		f := &l.faults
		delay, status, retryAfter := f.Delay, 0, f.RetryAfter
		switch {
		case f.Throttle > 0:
			f.Throttle--
			status = http.StatusTooManyRequests
		case f.Unavailable > 0:
			f.Unavailable--
			status = http.StatusServiceUnavailable
		}
		l.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		if status != 0 {
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			http.Error(w, http.StatusText(status), status)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (l *Log) snapshot() (Faults, int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.faults, l.size
}

// merkleLeaf builds the RFC 6962 MerkleTreeLeaf of e: the recorded one
// for an RFC 6962 log when known, with the leaf_index extension for a
// static-CT log.
func merkleLeaf(e Entry, index int64, tiled bool) []byte {
	if !tiled && e.LeafInput != nil {
		return e.LeafInput
	}
	return sunlightEntry(e, index, tiled).MerkleTreeLeaf()
}

func sunlightEntry(e Entry, index int64, tiled bool) *sunlight.LogEntry {
	le := &sunlight.LogEntry{
		Certificate: e.Cert, Timestamp: e.Timestamp, LeafIndex: index,
		RFC6962ArchivalLeaf: !tiled,
	}
	if e.Precert {
		le.IsPrecert, le.Certificate, le.IssuerKeyHash, le.PreCertificate = true, e.TBS, e.IssuerKeyHash, e.Cert
	}
	if !tiled {
		le.LeafIndex = 0
	}
	for _, c := range e.Chain {
		le.ChainFingerprints = append(le.ChainFingerprints, sha256.Sum256(c))
	}
	return le
}
