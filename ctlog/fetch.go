package ctlog

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// StatusError is an HTTP answer the fetcher does not retry (404, 400, ...),
// or the last of a run of retried ones.
type StatusError struct {
	URL  string
	Code int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("GET %s: HTTP %d", e.URL, e.Code)
}

// ErrTooLarge is returned when a response body exceeds the cap of its
// endpoint; it is not retried.
var ErrTooLarge = errors.New("response larger than the cap for its endpoint")

// fetcher is the only code in this package that sends requests. It owns
// the per-log rate limit, the in-flight cap, retries, the pause a
// Retry-After imposes on the whole log, and the byte caps. Safe for
// concurrent use.
type fetcher struct {
	hc      *http.Client
	ua      string
	limiter *rate.Limiter
	slots   chan struct{}
	opts    Options
	stats   *counters

	mu    sync.Mutex
	pause time.Time // no request starts before this (Retry-After)

	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

func newFetcher(opts Options, stats *counters) *fetcher {
	return &fetcher{
		hc:      opts.HTTPClient,
		ua:      opts.UserAgent,
		limiter: rate.NewLimiter(rate.Limit(opts.RequestsPerSecond), opts.MaxInFlight),
		slots:   make(chan struct{}, opts.MaxInFlight),
		opts:    opts,
		stats:   stats,
		now:     time.Now,
		sleep:   sleepCtx,
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// endpoint says how to read one kind of answer.
type endpoint struct {
	limit int64 // bytes, after any gzip decoding
	gzip  bool  // a gzip body may come without Content-Encoding (data tiles)
}

// get fetches url and returns its body, at most ep.limit bytes after any
// gzip decoding. Retryable failures (429, 5xx, network errors, truncated
// bodies) are retried up to Options.MaxRetries times.
func (f *fetcher) get(ctx context.Context, url string, ep endpoint) ([]byte, error) {
	var last error
	for attempt := 0; ; attempt++ {
		if err := f.waitPause(ctx); err != nil {
			return nil, err
		}
		body, retryAfter, err := f.once(ctx, url, ep)
		if err == nil || !retryable(err) || ctx.Err() != nil {
			return body, err
		}
		last = err
		if attempt >= f.opts.MaxRetries {
			return nil, fmt.Errorf("%w (after %d retries)", last, attempt)
		}
		f.stats.retries.Add(1)
		if retryAfter > 0 {
			f.holdFor(min(retryAfter, f.opts.MaxRetryAfter))
			continue
		}
		if err := f.sleep(ctx, backoff(attempt, f.opts.MinBackoff, f.opts.MaxBackoff)); err != nil {
			return nil, err
		}
	}
}

// once makes one request, holding an in-flight slot and a rate token.
func (f *fetcher) once(ctx context.Context, url string, ep endpoint) ([]byte, time.Duration, error) {
	select {
	case f.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
	defer func() { <-f.slots }()
	if err := f.limiter.Wait(ctx); err != nil {
		return nil, 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("User-Agent", f.ua)
	req.Header.Set("Accept-Encoding", "gzip")
	f.stats.requests.Add(1)
	resp, err := f.hc.Do(req)
	if err != nil {
		return nil, 0, &netError{err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, f.refused(resp), &StatusError{URL: url, Code: resp.StatusCode}
	}
	raw, err := readCapped(resp.Body, ep.limit)
	f.stats.bytes.Add(int64(len(raw)))
	if err != nil {
		return nil, 0, fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.Header.Get("Content-Encoding") == "gzip" || (ep.gzip && isGzip(raw)) {
		raw, err = gunzip(raw, ep.limit)
		if err != nil {
			return nil, 0, fmt.Errorf("GET %s: %w", url, err)
		}
	}
	return raw, 0, nil
}

// refused counts a non-200 answer and returns how long it asks to wait.
func (f *fetcher) refused(resp *http.Response) time.Duration {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // keep the connection
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		f.stats.throttled.Add(1)
	}
	return parseRetryAfter(resp.Header.Get("Retry-After"), f.now())
}

// holdFor delays every request of this log by d from now (a Retry-After
// speaks for the whole log, not for one request).
func (f *fetcher) holdFor(d time.Duration) {
	until := f.now().Add(d)
	f.mu.Lock()
	if until.After(f.pause) {
		f.pause = until
	}
	f.mu.Unlock()
}

func (f *fetcher) waitPause(ctx context.Context) error {
	f.mu.Lock()
	d := f.pause.Sub(f.now())
	f.mu.Unlock()
	if d <= 0 {
		return ctx.Err()
	}
	return f.sleep(ctx, d)
}

type netError struct{ err error }

func (e *netError) Error() string { return e.err.Error() }
func (e *netError) Unwrap() error { return e.err }

// errTruncated marks a body that ended early; the request is retried.
var errTruncated = errors.New("truncated body")

func retryable(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code == http.StatusTooManyRequests || se.Code >= 500
	}
	var ne *netError
	return errors.As(err, &ne) || errors.Is(err, errTruncated)
}

// backoff returns the wait before retry attempt+1: min*2^attempt capped at
// max, with "equal jitter" (half fixed, half random) so that clients
// throttled together do not retry together.
func backoff(attempt int, lo, hi time.Duration) time.Duration {
	d := hi
	if attempt < 30 && lo<<attempt < hi {
		d = lo << attempt
	}
	return d/2 + rand.N(d/2+1)
}

// parseRetryAfter reads delay-seconds or an HTTP date; 0 if absent or bad.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// readCapped reads all of r, refusing more than limit bytes.
func readCapped(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return b, fmt.Errorf("%w: %v", errTruncated, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w (%d bytes)", ErrTooLarge, limit)
	}
	return b, nil
}

// isGzip reports a gzip member header. It is only asked of data tiles,
// whose first TileLeaf starts with a millisecond timestamp's zero high
// byte; a hash tile may start with any bytes and is never sniffed.
func isGzip(b []byte) bool {
	return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b
}

func gunzip(b []byte, limit int64) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, limit+1))
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	if int64(len(out)) > limit {
		return nil, fmt.Errorf("%w after gzip decoding (%d bytes)", ErrTooLarge, limit)
	}
	return out, nil
}
