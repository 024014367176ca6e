package ctlog

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"
)

// ErrVerification wraps every refusal of data that does not check against
// the log's key or its signed tree: a bad STH or checkpoint signature, a
// tile whose hashes do not match, a get-entries page or audit path that
// does not lead to the STH's root, an issuer that does not hash to its
// fingerprint, a leaf at the wrong index.
var ErrVerification = errors.New("ctlog: verification failed")

// ErrForeignTree is returned by Entries for a Tree that Head of this log did
// not produce.
var ErrForeignTree = errors.New("ctlog: tree was not produced by Head of this log")

// Options configures a Client. Zero (or negative) fields take the values
// of DefaultOptions; in particular MaxRetries cannot be 0.
type Options struct {
	HTTPClient        *http.Client
	UserAgent         string
	RequestsPerSecond float64       // per log; also the burst is MaxInFlight
	MaxInFlight       int           // concurrent requests per log
	MaxRetries        int           // retries of one request (429, 5xx, network) before giving up
	MinBackoff        time.Duration // first wait without Retry-After; doubles, jittered
	MaxBackoff        time.Duration
	MaxRetryAfter     time.Duration // longest Retry-After honoured as is
	PageSize          int           // entries asked per get-entries request (logs cap at 32..1000)
}

// DefaultOptions returns defaults that public logs tolerate: DigiCert and
// Sectigo throttle clients that make more than a few requests per second.
func DefaultOptions() Options {
	return Options{
		HTTPClient:        &http.Client{Timeout: 2 * time.Minute},
		UserAgent:         DefaultUserAgent(),
		RequestsPerSecond: 4,
		MaxInFlight:       2,
		MaxRetries:        8,
		MinBackoff:        time.Second,
		MaxBackoff:        2 * time.Minute,
		MaxRetryAfter:     10 * time.Minute,
		PageSize:          256,
	}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.HTTPClient == nil {
		o.HTTPClient = d.HTTPClient
	}
	if o.UserAgent == "" {
		o.UserAgent = d.UserAgent
	}
	if o.RequestsPerSecond <= 0 {
		o.RequestsPerSecond = d.RequestsPerSecond
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = d.MaxInFlight
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = d.MaxRetries
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = d.MinBackoff
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(d.MaxBackoff, o.MinBackoff)
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = d.MaxRetryAfter
	}
	if o.PageSize <= 0 {
		o.PageSize = d.PageSize
	}
	return o
}

// DefaultUserAgent names the program, its version (from the build info)
// and where to learn about it, as log operators ask.
func DefaultUserAgent() string {
	v := "dev"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	return "certstream-arrow/" + v + " (+https://github.com/certstream-arrow/certstream-arrow)"
}

// Stats are a Client's counters since NewClient.
type Stats struct {
	Requests       int64 // HTTP requests sent, retries included
	Retries        int64
	Throttled      int64 // 429 and 503 answers
	Bytes          int64 // response body bytes received, before gzip decoding
	VerifyFailures int64 // STHs, checkpoints, tiles, get-entries pages, issuers refused
	Entries        int64 // entries handed to callers
}

type counters struct {
	requests, retries, throttled, bytes, verifyFailures, entries atomic.Int64
}

// Tree is a verified tree head: an RFC 6962 STH or a static-CT checkpoint
// whose signature checked against the log's key.
type Tree struct {
	Size      int64
	RootHash  [32]byte
	Timestamp int64 // milliseconds since the epoch, from the signature

	logID [32]byte // set by Head only
}

// Time returns the tree head's timestamp.
func (t Tree) Time() time.Time { return time.UnixMilli(t.Timestamp) }

// Client reads one log. Safe for concurrent use; the log's limits are
// shared by all calls.
type Client struct {
	log   *Log
	f     *fetcher
	stats *counters
	opts  Options
	iss   *issuerCache
	tiles *tileCache
}

// NewClient returns a client for log, with zero Options fields defaulted.
func NewClient(log *Log, opts Options) *Client {
	opts = opts.withDefaults()
	st := &counters{}
	return &Client{
		log: log, f: newFetcher(opts, st), stats: st, opts: opts,
		iss: newIssuerCache(), tiles: newTileCache(),
	}
}

// Log returns the log this client reads.
func (c *Client) Log() *Log { return c.log }

// Stats returns a snapshot of the counters. Safe to call at any time.
func (c *Client) Stats() Stats {
	s := c.stats
	return Stats{
		Requests: s.requests.Load(), Retries: s.retries.Load(), Throttled: s.throttled.Load(),
		Bytes: s.bytes.Load(), VerifyFailures: s.verifyFailures.Load(), Entries: s.entries.Load(),
	}
}

// Head fetches the log's current tree head and verifies its signature
// against the log's key. A head that does not verify is refused with an
// error wrapping ErrVerification.
func (c *Client) Head(ctx context.Context) (Tree, error) {
	var (
		t   Tree
		err error
	)
	if c.log.Tiled {
		t, err = c.checkpoint(ctx)
	} else {
		t, err = c.sth(ctx)
	}
	if err != nil {
		return Tree{}, fmt.Errorf("head of %s: %w", c.log.URL, err)
	}
	t.logID = c.log.LogID
	return t, nil
}

// Entries calls fn for every entry in [start, end) of tree, in index order,
// from the calling goroutine. It returns nil once fn has seen end-start
// entries, fn's error as is, or the first fetch or verification error;
// no entry is handed back before it was verified (see the package doc
// for what that means per protocol). tree must come from Head of this
// client's log.
func (c *Client) Entries(ctx context.Context, tree Tree, start, end int64, fn func(Entry) error) error {
	if tree.logID != c.log.LogID {
		return ErrForeignTree
	}
	if start < 0 || start > end || end > tree.Size {
		return fmt.Errorf("ctlog: range [%d, %d) outside tree of size %d", start, end, tree.Size)
	}
	counted := func(e Entry) error {
		c.stats.entries.Add(1)
		return fn(e)
	}
	if c.log.Tiled {
		return c.tiledEntries(ctx, tree, start, end, counted)
	}
	return c.rfc6962Entries(ctx, tree, start, end, counted)
}

// refuse counts a verification failure and returns it wrapped.
func (c *Client) refuse(format string, args ...any) error {
	c.stats.verifyFailures.Add(1)
	return fmt.Errorf("%w: %s", ErrVerification, fmt.Sprintf(format, args...))
}

// url joins the log's monitoring prefix and a path.
func (c *Client) url(path string) string {
	return strings.TrimSuffix(c.log.URL, "/") + "/" + path
}

func keyID(spki []byte) [32]byte { return sha256.Sum256(spki) }
