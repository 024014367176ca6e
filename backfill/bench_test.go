package backfill_test

import (
	"io"
	"net/http"
	"testing"

	"filippo.io/sunlight"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/backfill"
	"github.com/certstream-arrow/certstream-arrow/ctlog"
	"github.com/certstream-arrow/certstream-arrow/ctlog/ctlogtest"
	"github.com/certstream-arrow/certstream-arrow/schema"
)

// BenchmarkBackfill backfills 64 full data tiles (16,384 entries) of a
// loopback static-CT log into an empty dataset, next to only downloading
// the same tiles and to the CT client alone:
//
//   - download: GET the 64 data tiles, nothing else;
//   - client: ctlog's whole walk (checkpoint, tiles, gunzip, parse, Merkle
//     verification, issuers), entries discarded;
//   - fill: Plan + Fill + Close: every entry a row (ctrow), written with
//     zstd and published; entries/s is into published files.
//
// The ratios in one run are the point: fill/client is what making and
// writing rows costs over fetching and verifying. The fake log shares the
// CPU with the client.
func BenchmarkBackfill(b *testing.B) {
	const tiles = 64
	lg := ctlogtest.NewStatic(b, ctlogtest.Generate(b, tiles*256))
	list, err := ctlog.ParseList(ctlogtest.ListJSON(lg.Info))
	if err != nil {
		b.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	copts := ctlog.Options{HTTPClient: hc, RequestsPerSecond: 1e9, MaxInFlight: 4}
	perSecond := func(b *testing.B) {
		b.ReportMetric(float64(tiles*256*b.N)/b.Elapsed().Seconds(), "entries/s")
	}
	b.Run("download", func(b *testing.B) {
		var n int64
		for b.Loop() {
			n = 0
			for i := range int64(tiles) {
				n += get(b, hc, lg.Server.URL+"/"+sunlight.TilePath(tlog.Tile{H: 8, L: -1, N: i, W: 256}))
			}
		}
		b.SetBytes(n)
		perSecond(b)
	})
	b.Run("client", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c := ctlog.NewClient(lg.Info, copts)
			tree, err := c.Head(b.Context())
			if err != nil {
				b.Fatal(err)
			}
			if err := c.Entries(b.Context(), tree, 0, tree.Size, func(ctlog.Entry) error { return nil }); err != nil {
				b.Fatal(err)
			}
		}
		perSecond(b)
	})
	b.Run("fill", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			root := b.TempDir()
			b.StartTimer()
			fillOnce(b, root, list, lg.Info.URL, copts)
		}
		perSecond(b)
	})
}

// fillOnce backfills the whole log into root and checks the count.
func fillOnce(b *testing.B, root string, list *ctlog.List, url string, copts ctlog.Options) {
	ds, err := archive.Open(archive.Options{Root: root, Schema: schema.New("bench"), Collector: "bench",
		BatchRows: 5000, BatchBytes: 32 << 20, RotateRows: 500000, PartitionBy: archive.ByEntry})
	if err != nil {
		b.Fatal(err)
	}
	opts := backfill.Options{Root: root, List: list, Logs: []string{url}, Since: backfill.SinceIndex(0), Client: copts}
	plans, err := backfill.Plan(b.Context(), opts)
	if err != nil {
		b.Fatal(err)
	}
	sum, err := backfill.Fill(b.Context(), ds, plans, opts)
	if err := ds.Close(); err != nil {
		b.Fatal(err)
	}
	if err != nil || sum.Rows != plans[0].TreeSize {
		b.Fatalf("fill: %d rows of %d: %v", sum.Rows, plans[0].TreeSize, err)
	}
}

func get(b *testing.B, hc *http.Client, url string) int64 {
	req, _ := http.NewRequestWithContext(b.Context(), http.MethodGet, url, nil)
	req.Header.Set("User-Agent", "bench (+https://example.com)") // the fake log refuses anonymous clients, as polite logs may
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
