package ctlog

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	ct "github.com/google/certificate-transparency-go"
	"golang.org/x/mod/sumdb/tlog"
)

// Response caps for RFC 6962 endpoints. A get-entries page of 1000
// entries with chains is a few MiB of base64; 64 MiB leaves room for
// logs that hold very large chains without letting one answer exhaust
// memory. An audit path is at most 63 hashes; get-entry-and-proof holds
// one entry.
var (
	sthEndpoint        = endpoint{limit: 64 << 10}
	entriesEndpoint    = endpoint{limit: 64 << 20}
	proofEndpoint      = endpoint{limit: 64 << 10}
	entryProofEndpoint = endpoint{limit: 16 << 20}
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
// starts where the answer stopped. Each page is proven to hold the tree's
// leaves at its positions (pageRange) before any of it is parsed or
// handed to fn.
func (c *Client) rfc6962Entries(ctx context.Context, tree Tree, start, end int64, fn func(Entry) error) error {
	r := &pageRange{c: c, tree: tree}
	for start < end {
		last := min(start+int64(c.opts.PageSize), end) - 1
		page, err := c.getEntries(ctx, start, last)
		if err != nil {
			return err
		}
		hashes := make([]tlog.Hash, len(page))
		for i := range page {
			hashes[i] = tlog.RecordHash(page[i].LeafInput)
		}
		if err := r.check(ctx, start, hashes); err != nil {
			return fmt.Errorf("get-entries %s [%d, %d): %w", c.log.URL, start, start+int64(len(page)), err)
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

// auditPath fetches the audit path of leaf m, whose hash is h, in tree.
// A log that does not know h refuses the page that holds it. A log that
// answers for another index holds the same leaf twice: the path is then
// asked by index.
func (c *Client) auditPath(ctx context.Context, tree Tree, m int64, h tlog.Hash) (tlog.RecordProof, error) {
	u := fmt.Sprintf("%s?hash=%s&tree_size=%d", c.url("ct/v1/get-proof-by-hash"),
		url.QueryEscape(base64.StdEncoding.EncodeToString(h[:])), tree.Size)
	body, err := c.f.get(ctx, u, proofEndpoint)
	var se *StatusError
	if errors.As(err, &se) && se.Code == http.StatusNotFound {
		return nil, c.refuse("entry %d: the log has no leaf with its hash in the tree of size %d", m, tree.Size)
	}
	if err != nil {
		return nil, err
	}
	var resp ct.GetProofByHashResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("decode get-proof-by-hash of entry %d: %w", m, err)
	}
	if resp.LeafIndex != m {
		return c.entryAuditPath(ctx, tree, m, h)
	}
	return c.hashes(m, resp.AuditPath)
}

// entryAuditPath fetches the audit path of leaf m by index; the entry
// answered with it must have hash h.
func (c *Client) entryAuditPath(ctx context.Context, tree Tree, m int64, h tlog.Hash) (tlog.RecordProof, error) {
	u := fmt.Sprintf("%s?leaf_index=%d&tree_size=%d", c.url("ct/v1/get-entry-and-proof"), m, tree.Size)
	body, err := c.f.get(ctx, u, entryProofEndpoint)
	if err != nil {
		return nil, fmt.Errorf("entry %d (its leaf hash is at another index too): %w", m, err)
	}
	var resp ct.GetEntryAndProofResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("decode get-entry-and-proof of entry %d: %w", m, err)
	}
	if tlog.RecordHash(resp.LeafInput) != h {
		return nil, c.refuse("entry %d: get-entries and get-entry-and-proof disagree", m)
	}
	return c.hashes(m, resp.AuditPath)
}

// hashes converts an audit path's hashes; a path longer than any tree's
// is refused.
func (c *Client) hashes(m int64, path [][]byte) (tlog.RecordProof, error) {
	if len(path) > 63 {
		return nil, c.refuse("audit path of entry %d: %d hashes", m, len(path))
	}
	p := make(tlog.RecordProof, len(path))
	for i, h := range path {
		if len(h) != tlog.HashSize {
			return nil, c.refuse("audit path of entry %d: a hash of %d bytes", m, len(h))
		}
		p[i] = tlog.Hash(h)
	}
	return p, nil
}
