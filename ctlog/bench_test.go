package ctlog_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"

	"filippo.io/sunlight"
	"github.com/certstream-arrow/certstream-arrow/ctlog"
	"github.com/certstream-arrow/certstream-arrow/ctlog/ctlogtest"
	"golang.org/x/mod/sumdb/tlog"
)

// BenchmarkStatic reads 64 full data tiles (16,384 entries) from a
// loopback static-CT log: "download" only GETs the data tiles, "entries"
// is the whole client (checkpoint, tiles, gunzip, parse, Merkle
// verification, issuers) with a fresh client each round, so nothing is
// cached across rounds. The ratio of the two is the client's overhead;
// entries/s is the figure the backfill target (20,000/s) is set against.
// The fake log shares the CPU with the client.
func BenchmarkStatic(b *testing.B) {
	const tiles = 64
	lg := ctlogtest.NewStatic(b, ctlogtest.Generate(b, tiles*256))
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	b.Run("download", func(b *testing.B) {
		var n int64
		for b.Loop() {
			n = 0
			for i := range int64(tiles) {
				path := sunlight.TilePath(tlog.Tile{H: 8, L: -1, N: i, W: 256})
				n += get(b, hc, lg.Server.URL+"/"+path)
			}
		}
		b.SetBytes(n)
		b.ReportMetric(float64(tiles*256*b.N)/b.Elapsed().Seconds(), "entries/s")
	})
	for _, inFlight := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("entries/inflight=%d", inFlight), func(b *testing.B) {
			opts := ctlog.Options{HTTPClient: hc, RequestsPerSecond: 1e9, MaxInFlight: inFlight}
			b.ReportAllocs()
			for b.Loop() {
				c := ctlog.NewClient(lg.Info, opts)
				tree, err := c.Head(b.Context())
				if err != nil {
					b.Fatal(err)
				}
				if err := c.Entries(b.Context(), tree, 0, tree.Size, func(ctlog.Entry) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(tiles*256*b.N)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}

// BenchmarkRFC6962 reads 16,384 entries from a loopback RFC 6962 log in
// pages of 256 (the default PageSize): "download" only GETs the
// get-entries pages, "entries" is the whole client (get-sth, pages, JSON
// and base64 decoding, parse, and the proofs that tie each page to the
// STH) with a fresh client each round. The fake log shares the CPU with
// the client.
func BenchmarkRFC6962(b *testing.B) {
	const n, page = 64 * 256, 256
	lg := ctlogtest.NewRFC6962(b, ctlogtest.Generate(b, n))
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	b.Run("download", func(b *testing.B) {
		var size int64
		for b.Loop() {
			size = 0
			for start := 0; start < n; start += page {
				size += get(b, hc, fmt.Sprintf("%sct/v1/get-entries?start=%d&end=%d", lg.Info.URL, start, start+page-1))
			}
		}
		b.SetBytes(size)
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "entries/s")
	})
	b.Run("entries", func(b *testing.B) {
		opts := ctlog.Options{HTTPClient: hc, RequestsPerSecond: 1e9, PageSize: page}
		b.ReportAllocs()
		var requests int64
		for b.Loop() {
			c := ctlog.NewClient(lg.Info, opts)
			tree, err := c.Head(b.Context())
			if err != nil {
				b.Fatal(err)
			}
			if err := c.Entries(b.Context(), tree, 0, tree.Size, func(ctlog.Entry) error { return nil }); err != nil {
				b.Fatal(err)
			}
			requests = c.Stats().Requests
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "entries/s")
		b.ReportMetric(float64(requests), "requests/op")
	})
}

func get(b *testing.B, hc *http.Client, url string) int64 {
	req, _ := http.NewRequestWithContext(b.Context(), http.MethodGet, url, nil)
	req.Header.Set("User-Agent", "bench (+https://example.com)")
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := hc.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatal(resp.Status, err)
	}
	return n
}
