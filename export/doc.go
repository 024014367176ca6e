// Package export copies the sealed hours of a dataset into an export tree
// for engines beyond one machine: Parquet files, hive-partitioned like the
// dataset, that DuckDB, Spark, Trino and ClickHouse read where they are or
// after the tree is synced to object storage.
//
// What it owns: the export tree, which it writes only through archive's
// Tree (every file published durably, every directory switched in with
// one rename). What it reads: the dataset, never writing to it; of an
// hour, only a sealed one's manifest (seal.ReadManifest) and exactly the
// sealed files the manifest lists, each checked against the manifest's
// size and SHA-256 before a row is read, and its rows counted against it.
// What it refuses: hours without a manifest (not sealed yet: their files
// still change), a manifest naming anything but a plain sealed file name,
// and files that differ from their manifest entry. Such an hour is
// reported and left as it was in the export; the others go on.
//
// The export tree:
//
//	hour=2026-11-24T13/
//	  part-20261124T13-5be0a1c2-001.parquet  one per sealed file (sealed-20261124T13-5be0a1c2-001.feather):
//	                                         its record batches as they are, same columns, same order
//	  _export.json                           the source manifest's ID, and each file written with its SHA-256
//	.exporting/                              work of an export in progress (hidden: Hive-style readers skip it)
//	.export.lock                             held while an Exporter is open
//
// An hour's export is replaced whole, in the steps of a seal:
//
//	.exporting/hour=H.tmp/     1. the Parquet files and _export.json are written and published here
//	.exporting/hour=H.ready/   2. renamed once complete
//	hour=H  <->  .exporting/hour=H.ready/
//	                           3. exchanged in one renameat2(RENAME_EXCHANGE), or moved in place
//	                              (RENAME_NOREPLACE) when hour=H does not exist yet
//	                           4. .ready, now holding the old export, is removed
//
// A crash at any step leaves hour=H whole, old or new, never a mix; the
// next Open removes whatever .exporting holds (an unfinished .tmp, a
// .ready never switched in, or one holding the old export), and an hour
// whose export was lost that way is exported again, since its
// _export.json still names the old manifest.
//
// Idempotent: an hour whose _export.json names the manifest ID the hour has
// now, and whose files are all there at the sizes recorded, is skipped; a
// new seal (a new manifest ID) makes it due again. An hour removed from
// the dataset stays in the export.
//
// Parquet settings (chosen by measurement, see BENCHMARKS.md): zstd, a
// dictionary only on the repetitive text and time columns, statistics on
// every column but as_der, the Arrow schema stored (ARROW:schema) so that
// Arrow readers get the dataset's exact types back. Parquet has no
// timestamp in seconds: not_before and not_after are written in
// milliseconds, still UTC-adjusted, so every engine reads every time column
// as a timestamp with time zone, the same instants.
//
// Memory is bounded by one record batch read plus one row group being
// written (at most Options.RowGroupRows rows and about RowGroupBytes
// compressed bytes); no hour is ever loaded at once.
//
// Concurrency: an Exporter holds its export tree's lock from Open to
// Close, so one export runs at a time on a tree, whichever process runs
// it; its methods may be called from one goroutine at a time. Sealing the
// dataset meanwhile is safe: sealed files are never changed, only
// replaced by new names, so an hour read while it is resealed either
// exports the seal it read, whole, or fails its row counts and is exported
// again by the next run.
package export
