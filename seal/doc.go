// Package seal compacts finished hours of a dataset: it rewrites an hour's
// published files (from every collector, from backfill, and an earlier
// seal) into one sealed file, or a few when it is large, with large record
// batches and rows sorted by (source_url, cert_index), each CT log entry
// once, damaged rows repaired from the log when a Repairer is given, and a
// manifest (_manifest.json) recording what the hour holds. It reads and
// writes the dataset only through archive's Tree, and never loads an hour
// at once: rows are sorted in bounded runs spilled to disk and merged.
//
// An hour's switch to its sealed files, under the dataset root:
//
//	.sealing/hour=H.tmp/     1. the sealed files and manifest are written here, each published durably
//	.sealing/hour=H.ready/   2. renamed once complete: from here on it is a finished replacement
//	hour=H/  <->  .sealing/hour=H.ready/
//	                         3. exchanged in one renameat2(RENAME_EXCHANGE): hour=H now holds the
//	                            sealed files, .ready the files they replace
//	                         4. any file that reached the old directory after it was read is moved
//	                            back into hour=H, then .ready is removed
//
// A reader globbing hour=*/*.feather lists either the old files or the
// sealed ones, never both and never neither, so it never counts a row twice
// or misses one. What remains: a reader that listed the old files just
// before step 3 and opens one after it gets "no such file" and must retry
// (DuckDB reports an IO Error); a reader that already opened a file reads
// it whole. A crash at any step leaves hour=H with either set of files,
// whole; the next seal pass (Recover) removes an unfinished .tmp, removes a
// .ready that was not exchanged, and finishes step 4 for one that was (told
// apart by the manifests: after the exchange, hour=H's manifest replaces
// the one in .ready, or .ready has none).
//
// The .sealing directory sits one level deeper than hour directories, so
// no glob for hour=*/*.feather, no archive.Walk and no prune ever reads it.
// One seal runs at a time on a dataset (the lock .seal.lock).
//
// Which copy of a (log, index) is kept: an undamaged copy before a damaged
// one; among copies that agree (same certificate SHA-256 and entry type)
// the one with the most data (as_der, then chain), then the stream copy
// seen first; when copies disagree, the one fetched from the log if there
// is one (a conflict resolved), else every distinct copy (a conflict kept
// and reported: evidence a server misbehaved). A key a neighbouring hour
// (H-1 or H+1) holds is left to that hour, whatever its content. Rows
// without a log or index are kept as they are.
package seal
