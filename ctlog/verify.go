package ctlog

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
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
