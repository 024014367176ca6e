package ctlog

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"filippo.io/sunlight"
	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Response caps for static-CT endpoints. A full hash tile is exactly
// 8 KiB; a full data tile of 256 leaves is about 1 MiB decompressed.
var (
	checkpointEndpoint = endpoint{limit: 64 << 10}
	hashTileEndpoint   = endpoint{limit: tileWidth * tlog.HashSize}
	dataTileEndpoint   = endpoint{limit: 64 << 20, gzip: true}
	issuerEndpoint     = endpoint{limit: 1 << 20}
)

const tileWidth = sunlight.TileWidth

// checkpoint fetches the signed checkpoint and verifies its RFC 6962 note
// signature against the log's key (c2sp.org/static-ct-api#checkpoints).
func (c *Client) checkpoint(ctx context.Context) (Tree, error) {
	body, err := c.f.get(ctx, c.url("checkpoint"), checkpointEndpoint)
	if err != nil {
		return Tree{}, err
	}
	// A CT log is named by its key, so the origin is taken from the note
	// and only has to be consistent with itself (as sunlight's client does).
	origin, _, _ := strings.Cut(string(body), "\n")
	v, err := sunlight.NewRFC6962Verifier(origin, c.log.Key)
	if err != nil {
		return Tree{}, c.refuse("checkpoint origin %q: %v", origin, err)
	}
	n, err := note.Open(body, note.VerifierList(v))
	if err != nil {
		return Tree{}, c.refuse("checkpoint signature: %v", err)
	}
	cp, err := torchwood.ParseCheckpoint(n.Text)
	if err != nil || cp.Origin != origin {
		return Tree{}, c.refuse("checkpoint text: %v", err)
	}
	ts, err := sunlight.RFC6962SignatureTimestamp(n.Sigs[0])
	if err != nil {
		return Tree{}, c.refuse("checkpoint signature timestamp: %v", err)
	}
	return Tree{Size: cp.N, RootHash: cp.Hash, Timestamp: ts}, nil
}

// tiledEntries walks the data tiles covering [start, end): they are
// fetched ahead by fetchTiles, then verified, resolved and handed to fn in
// order here.
func (c *Client) tiledEntries(ctx context.Context, tree Tree, start, end int64, fn func(Entry) error) error {
	if start == end {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tiles := make(chan pendingTile, c.opts.MaxInFlight)
	var wg sync.WaitGroup
	wg.Go(func() { c.fetchTiles(ctx, tree, start, end, tiles) })
	defer wg.Wait()
	defer cancel()
	for p := range tiles {
		r := <-p.done
		if r.err != nil {
			return r.err
		}
		if err := c.emitTile(ctx, tree, p.tile, r.data, start, end, fn); err != nil {
			return err
		}
	}
	return ctx.Err()
}

type pendingTile struct {
	tile tlog.Tile
	done chan tileData // buffered, one value
}

type tileData struct {
	data []byte
	err  error
}

// fetchTiles starts one download per data tile, in order, with at most
// cap(out) waiting to be consumed; the fetcher bounds how many are in
// flight. It closes out when done or when ctx ends.
func (c *Client) fetchTiles(ctx context.Context, tree Tree, start, end int64, out chan<- pendingTile) {
	defer close(out)
	for n := start / tileWidth; n*tileWidth < end; n++ {
		t := tlog.Tile{H: sunlight.TileHeight, L: -1, N: n, W: int(min(tileWidth, tree.Size-n*tileWidth))}
		p := pendingTile{tile: t, done: make(chan tileData, 1)}
		select {
		case out <- p:
		case <-ctx.Done():
			return
		}
		go func() {
			data, err := c.dataTile(ctx, t)
			p.done <- tileData{data, err}
		}()
	}
}

// dataTile fetches a data tile. A partial tile the log has already
// replaced by a full one (logs may delete partials) is read from the full
// tile, whose first W leaves are the same.
func (c *Client) dataTile(ctx context.Context, t tlog.Tile) ([]byte, error) {
	data, err := c.f.get(ctx, c.url(sunlight.TilePath(t)), dataTileEndpoint)
	var se *StatusError
	if t.W < tileWidth && errors.As(err, &se) && se.Code == http.StatusNotFound {
		full := t
		full.W = tileWidth
		data, err = c.f.get(ctx, c.url(sunlight.TilePath(full)), dataTileEndpoint)
	}
	return data, err
}

// emitTile parses the first t.W leaves of a data tile, verifies them all
// against tree, and only then hands those in [start, end) to fn.
func (c *Client) emitTile(ctx context.Context, tree Tree, t tlog.Tile, data []byte, start, end int64, fn func(Entry) error) error {
	path := sunlight.TilePath(t)
	entries, fps, err := c.parseTile(t, data)
	if err != nil {
		return fmt.Errorf("%s%s: %w", c.log.URL, path, err)
	}
	if err := c.verifyTile(ctx, tree, t, entries); err != nil {
		return fmt.Errorf("%s%s: %w", c.log.URL, path, err)
	}
	for i := range entries {
		e := &entries[i]
		if e.Index < start || e.Index >= end {
			continue
		}
		if e.Chain, err = c.issuers(ctx, fps[i]); err != nil {
			return fmt.Errorf("entry %d: %w", e.Index, err)
		}
		if err := fn(*e); err != nil {
			return err
		}
	}
	return nil
}

// parseTile reads t.W leaves; each must carry its own index.
func (c *Client) parseTile(t tlog.Tile, data []byte) ([]Entry, [][][32]byte, error) {
	entries := make([]Entry, t.W)
	fps := make([][][32]byte, t.W)
	rest := data
	for i := range entries {
		var err error
		if entries[i], fps[i], rest, err = ReadTileLeaf(rest); err != nil {
			return nil, nil, c.refuse("leaf %d: %v", i, err)
		}
		if want := t.N*tileWidth + int64(i); entries[i].Index != want {
			return nil, nil, c.refuse("leaf %d has leaf_index %d", want, entries[i].Index)
		}
	}
	if len(rest) != 0 && t.W == tileWidth {
		return nil, nil, c.refuse("%d bytes after the last leaf", len(rest))
	}
	return entries, fps, nil
}
