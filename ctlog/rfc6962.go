package ctlog

import (
	"context"
	"encoding/json"
	"fmt"

	ct "github.com/google/certificate-transparency-go"
)

// Response caps for RFC 6962 endpoints. A get-entries page of 1000
// entries with chains is a few MiB of base64; 64 MiB leaves room for
// logs that hold very large chains without letting one answer exhaust
// memory.
var (
	sthEndpoint     = endpoint{limit: 64 << 10}
	entriesEndpoint = endpoint{limit: 64 << 20}
)

// sth fetches get-sth and verifies its signature.
func (c *Client) sth(ctx context.Context) (Tree, error) {
	body, err := c.f.get(ctx, c.url("ct/v1/get-sth"), sthEndpoint)
	if err != nil {
		return Tree{}, err
	}
	var resp ct.GetSTHResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		return Tree{}, fmt.Errorf("decode get-sth: %w", err)
	}
	sth, err := resp.ToSignedTreeHead()
	if err != nil {
		return Tree{}, c.refuse("get-sth: %v", err)
	}
	v, err := ct.NewSignatureVerifier(c.log.Key)
	if err != nil {
		return Tree{}, fmt.Errorf("log key: %w", err)
	}
	if err := v.VerifySTHSignature(*sth); err != nil {
		return Tree{}, c.refuse("get-sth signature: %v", err)
	}
	if sth.TreeSize > 1<<62 || sth.Timestamp > 1<<62 {
		return Tree{}, c.refuse("get-sth: size %d or timestamp %d out of range", sth.TreeSize, sth.Timestamp)
	}
	return Tree{Size: int64(sth.TreeSize), RootHash: sth.SHA256RootHash, Timestamp: int64(sth.Timestamp)}, nil
}

// rfc6962Entries pages through get-entries. Logs answer with fewer entries
// than asked (their page cap, or a shard boundary); the next request
// starts where the answer stopped.
func (c *Client) rfc6962Entries(ctx context.Context, start, end int64, fn func(Entry) error) error {
	for start < end {
		last := min(start+int64(c.opts.PageSize), end) - 1
		page, err := c.getEntries(ctx, start, last)
		if err != nil {
			return err
		}
		for i, le := range page {
			e, err := ParseRFC6962Entry(start+int64(i), le.LeafInput, le.ExtraData)
			if err != nil {
				return fmt.Errorf("get-entries %s: %w", c.log.URL, err)
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		start += int64(len(page))
	}
	return nil
}

// getEntries fetches [first, last] and returns between 1 and last-first+1
// entries; an empty or oversized answer is an error (an empty one would
// loop forever).
func (c *Client) getEntries(ctx context.Context, first, last int64) ([]ct.LeafEntry, error) {
	url := fmt.Sprintf("%s?start=%d&end=%d", c.url("ct/v1/get-entries"), first, last)
	body, err := c.f.get(ctx, url, entriesEndpoint)
	if err != nil {
		return nil, err
	}
	var resp ct.GetEntriesResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("decode get-entries [%d, %d]: %w", first, last, err)
	}
	if n := int64(len(resp.Entries)); n == 0 || n > last-first+1 {
		return nil, fmt.Errorf("get-entries [%d, %d] of %s: %d entries in answer", first, last, c.log.URL, n)
	}
	return resp.Entries, nil
}
