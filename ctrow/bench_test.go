package ctrow

import (
	"testing"
)

// BenchmarkConvert converts the 40 real entries of the Rust snapshot
// (Argon2026h2, Nimbus2026) per iteration and reports entries/s: split
// only, convert only, and both, as backfill does for an RFC 6962 log.
func BenchmarkConvert(b *testing.B) {
	snaps := loadSnapshots(b, "reloading01-rust-parser-snapshot-live_ct.json")
	entries := make([]Entry, len(snaps))
	var size int64
	for i, s := range snaps {
		e, err := FromRFC6962(s.CertIndex, s.LeafInput, s.ExtraData)
		if err != nil {
			b.Fatal(err)
		}
		entries[i] = e
		size += int64(len(s.LeafInput) + len(s.ExtraData))
	}
	log := LogInfo{URL: snaps[0].LogURL, Name: snaps[0].LogName, Link: GetEntriesLink}
	run := func(b *testing.B, one func(i int) error) {
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			for i := range snaps {
				if err := one(i); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.N*len(snaps))/b.Elapsed().Seconds(), "entries/s")
	}
	b.Run("FromRFC6962", func(b *testing.B) {
		run(b, func(i int) error {
			_, err := FromRFC6962(snaps[i].CertIndex, snaps[i].LeafInput, snaps[i].ExtraData)
			return err
		})
	})
	b.Run("Update", func(b *testing.B) {
		run(b, func(i int) error {
			_, err := Update(entries[i], log)
			return err
		})
	})
	b.Run("Both", func(b *testing.B) {
		run(b, func(i int) error {
			e, err := FromRFC6962(snaps[i].CertIndex, snaps[i].LeafInput, snaps[i].ExtraData)
			if err == nil {
				_, err = Update(e, log)
			}
			return err
		})
	})
}
