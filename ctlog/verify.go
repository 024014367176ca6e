package ctlog

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"sync"

	"filippo.io/sunlight"
	"golang.org/x/mod/sumdb/tlog"
)

// verifyTile checks the leaves of data tile t against tree. A full tile's
// 256 leaf hashes must combine into the level-8 hash stored in a level-1
// hash tile (one hash per data tile, so level-0 hash tiles are never
// downloaded); a partial tile's leaf hashes are compared one by one with
// the level-0 hashes. tlog.TileHashReader checks every hash tile it reads
// up to tree.RootHash, whatever the cache holds.
func (c *Client) verifyTile(ctx context.Context, tree Tree, t tlog.Tile, entries []Entry) error {
	leaves := make([]tlog.Hash, len(entries))
	for i := range entries {
		leaves[i] = tlog.RecordHash(entries[i].LeafInput)
	}
	var want []int64
	if t.W == tileWidth {
		want = []int64{tlog.StoredHashIndex(sunlight.TileHeight, t.N)}
	} else {
		for i := range leaves {
			want = append(want, tlog.StoredHashIndex(0, t.N*tileWidth+int64(i)))
		}
	}
	hr := &hashTiles{ctx: ctx, c: c}
	got, err := tlog.TileHashReader(tlog.Tree{N: tree.Size, Hash: tree.RootHash}, hr).ReadHashes(want)
	if err != nil {
		if hr.err != nil && errors.Is(err, hr.err) {
			return err // a fetch failed: not a verdict on the log
		}
		return c.refuse("hash tiles: %v", err)
	}
	if t.W == tileWidth {
		leaves = []tlog.Hash{subtreeHash(leaves)}
	}
	for i := range got {
		if got[i] != leaves[i] {
			return c.refuse("leaf hashes do not match the tree of size %d", tree.Size)
		}
	}
	return nil
}

// subtreeHash is the RFC 6962 hash of a complete subtree of 2^k leaves.
func subtreeHash(h []tlog.Hash) tlog.Hash {
	for len(h) > 1 {
		next := h[:len(h)/2]
		for i := range next {
			next[i] = tlog.NodeHash(h[2*i], h[2*i+1])
		}
		h = next
	}
	return h[0]
}

// RFC 6962 pages are tied to the STH by a range proof made of at most two
// audit paths (RFC 6962 section 2.1.1), fetched with get-proof-by-hash.
//
// The audit path of leaf m in a tree of n leaves holds, bottom-up, one
// hash per level: the sibling of m's ancestor there. Those to the left of
// m are the perfect subtrees that tile [0, m), one per set bit of m (the
// "compact range" of [0, m)); those to the right tile [m+1, n).
//
// pageRange keeps the compact range of [0, end), whose hashes are known to
// be the tree's own. A page of leaves [a, b) is checked so:
//
//  1. If a != end (the first page of a walk that does not start at 0), the
//     audit path of leaf a is fetched and checked against the root with
//     a's hash; its left hashes become the compact range of [0, a).
//  2. The page's leaves a..b-2 are appended to the compact range, giving
//     the range [0, b-1) built from our own leaf hashes.
//  3. The audit path of leaf b-1 is fetched, its left hashes are replaced
//     by those of step 2, and the path is checked against the root with
//     b-1's hash. Leaf n-1 has no right hashes: no request is made.
//
// If step 3 reaches the signed root, each hash of the range [0, b-1) is
// the tree's (SHA-256 being collision resistant, and leaf and node hashes
// told apart by their 0x00/0x01 prefix), so the leaves under them, a..b-2,
// are the tree's at those positions, and so is b-1. A changed, reordered,
// missing or foreign leaf changes a hash on the path and is refused. The
// next page starts at b with the range [0, b), so a walk costs one audit
// path per page, plus one for the first page unless it starts at 0.
//
// get-proof-by-hash names a leaf by hash; when a log holds the same
// MerkleTreeLeaf twice it answers with another index, and the path is then
// asked by index with get-entry-and-proof (RFC 6962 section 4.8).
type pageRange struct {
	c    *Client
	tree Tree
	end  int64       // left is the compact range of [0, end)
	left []tlog.Hash // largest subtree first
}

// check verifies that hashes are the leaf hashes of [start, start+len)
// in the tree, and moves the range past them.
func (r *pageRange) check(ctx context.Context, start int64, hashes []tlog.Hash) error {
	anchored := false
	if start != r.end {
		path, err := r.c.auditPath(ctx, r.tree, start, hashes[0])
		if err != nil {
			return err
		}
		if err := tlog.CheckRecord(path, r.tree.Size, r.tree.RootHash, start, hashes[0]); err != nil {
			return r.c.refuse("audit path of entry %d: %v", start, err)
		}
		r.left, r.end, anchored = leftHashes(path, start, r.tree.Size), start, true
	}
	last := start + int64(len(hashes)) - 1
	left := slices.Clone(r.left)
	for i, h := range hashes[:len(hashes)-1] {
		left = appendLeaf(left, start+int64(i), h)
	}
	if !anchored || last != start {
		if err := r.checkLast(ctx, last, left, hashes[len(hashes)-1]); err != nil {
			return err
		}
	}
	r.left, r.end = appendLeaf(left, last, hashes[len(hashes)-1]), last+1
	return nil
}

// checkLast checks leaf m with hash h, given the compact range of [0, m).
func (r *pageRange) checkLast(ctx context.Context, m int64, left []tlog.Hash, h tlog.Hash) error {
	var path tlog.RecordProof
	if m < r.tree.Size-1 {
		var err error
		if path, err = r.c.auditPath(ctx, r.tree, m, h); err != nil {
			return err
		}
	}
	path, ok := withLeft(path, m, r.tree.Size, left)
	if !ok {
		return r.c.refuse("audit path of entry %d: %d hashes", m, len(path))
	}
	if err := tlog.CheckRecord(path, r.tree.Size, r.tree.RootHash, m, h); err != nil {
		return r.c.refuse("entries up to %d do not lead to the root of the tree of size %d", m, r.tree.Size)
	}
	return nil
}

// leftSides returns, in audit path order (leaf end first), whether each
// hash of the path of leaf m in a tree of n leaves is left of m.
func leftSides(m, n int64) []bool {
	var sides []bool
	for lo, hi := int64(0), n; hi-lo > 1; {
		k := int64(1) << (bits.Len64(uint64(hi-lo-1)) - 1) // largest power of 2 < hi-lo
		sides = append(sides, m >= lo+k)
		if m < lo+k {
			hi = lo + k
		} else {
			lo += k
		}
	}
	slices.Reverse(sides)
	return sides
}

// leftHashes returns the left hashes of a checked audit path of leaf m:
// the compact range of [0, m), largest subtree first.
func leftHashes(path tlog.RecordProof, m, n int64) []tlog.Hash {
	var left []tlog.Hash
	for i, isLeft := range leftSides(m, n) {
		if isLeft {
			left = append(left, path[i])
		}
	}
	slices.Reverse(left)
	return left
}

// withLeft returns the audit path of leaf m made of left (the compact
// range of [0, m), largest first) and the right hashes of path, which may
// be empty when m has none. ok is false when path has the wrong shape.
func withLeft(path tlog.RecordProof, m, n int64, left []tlog.Hash) (tlog.RecordProof, bool) {
	sides := leftSides(m, n)
	if len(path) != 0 && len(path) != len(sides) {
		return path, false
	}
	out := make(tlog.RecordProof, len(sides))
	l := len(left)
	for i, isLeft := range sides {
		switch {
		case isLeft && l == 0:
			return path, false
		case isLeft:
			l--
			out[i] = left[l]
		case len(path) == 0:
			return path, false
		default:
			out[i] = path[i]
		}
	}
	return out, l == 0
}

// appendLeaf extends the compact range of [0, m) with leaf m's hash h:
// each trailing 1 bit of m is a subtree that h's ancestor now completes.
func appendLeaf(left []tlog.Hash, m int64, h tlog.Hash) []tlog.Hash {
	for ; m&1 == 1; m >>= 1 {
		h = tlog.NodeHash(left[len(left)-1], h)
		left = left[:len(left)-1]
	}
	return append(left, h)
}

// hashTiles is the tlog.TileReader that verifyTile hands tlog: hash tiles
// come from the client's cache of verified tiles or from the log.
type hashTiles struct {
	ctx context.Context
	c   *Client
	err error // the fetch error, told apart from verification failures
}

func (h *hashTiles) Height() int { return sunlight.TileHeight }

func (h *hashTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		if d, ok := h.c.tiles.get(t); ok {
			out[i] = d
			continue
		}
		d, err := h.c.f.get(h.ctx, h.c.url(sunlight.TilePath(t)), hashTileEndpoint)
		if err != nil {
			h.err = fmt.Errorf("hash tile %s: %w", sunlight.TilePath(t), err)
			return nil, h.err
		}
		out[i] = d
	}
	return out, nil
}

// SaveTiles is called by tlog with tiles it has verified.
func (h *hashTiles) SaveTiles(tiles []tlog.Tile, data [][]byte) {
	for i, t := range tiles {
		h.c.tiles.put(t, data[i])
	}
}

// tileCache holds verified hash tiles: the right edge of the tree and the
// level-1 tiles a walk moves through. A tile's contents never change for
// its coordinates, and tlog checks them again on every use, so the cache
// is shared by all trees. It is emptied when full rather than made
// smarter: refilling costs a few requests.
type tileCache struct {
	mu sync.Mutex
	m  map[tlog.Tile][]byte
}

const maxCachedTiles = 4096 // 32 MiB of hashes at most

func newTileCache() *tileCache { return &tileCache{m: map[tlog.Tile][]byte{}} }

func (tc *tileCache) get(t tlog.Tile) ([]byte, bool) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	d, ok := tc.m[t]
	return d, ok
}

func (tc *tileCache) put(t tlog.Tile, d []byte) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if len(tc.m) >= maxCachedTiles {
		clear(tc.m)
	}
	tc.m[t] = d
}

// issuerCache holds issuer certificates by SHA-256 fingerprint. A log
// holds a few hundred issuers at most; the cap only guards memory against
// a log that names endless ones.
type issuerCache struct {
	mu sync.Mutex
	m  map[[32]byte][]byte
}

const maxCachedIssuers = 1 << 14

func newIssuerCache() *issuerCache { return &issuerCache{m: map[[32]byte][]byte{}} }

// issuers returns the certificates the fingerprints name, fetching from
// the log those not cached; each must hash to its fingerprint.
func (c *Client) issuers(ctx context.Context, fps [][32]byte) ([][]byte, error) {
	if len(fps) == 0 {
		return nil, nil
	}
	chain := make([][]byte, len(fps))
	for i, fp := range fps {
		c.iss.mu.Lock()
		der, ok := c.iss.m[fp]
		c.iss.mu.Unlock()
		if !ok {
			var err error
			if der, err = c.issuer(ctx, fp); err != nil {
				return nil, err
			}
		}
		chain[i] = der
	}
	return chain, nil
}

func (c *Client) issuer(ctx context.Context, fp [32]byte) ([]byte, error) {
	der, err := c.f.get(ctx, c.url(fmt.Sprintf("issuer/%x", fp)), issuerEndpoint)
	if err != nil {
		return nil, fmt.Errorf("issuer %x: %w", fp, err)
	}
	if sha256.Sum256(der) != fp {
		return nil, c.refuse("issuer %x: certificate has another fingerprint", fp)
	}
	c.iss.mu.Lock()
	if len(c.iss.m) >= maxCachedIssuers {
		clear(c.iss.m)
	}
	c.iss.m[fp] = der
	c.iss.mu.Unlock()
	return der, nil
}
