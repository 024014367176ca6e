// Package coverage computes what a dataset holds of each CT log: per log
// (keyed by source_url exactly as stored), the cert_index values held as
// sorted, merged ranges, and so its holes; rows, duplicates, damaged rows
// (see Damaged) and the seen time range. inspect reports it, backfill plans
// from it (Plan: the holes within the range the archive is responsible
// for), and sealing can fold its own batches into it with Dataset.Add.
//
// It reads record batches and never touches the dataset directory itself:
// Scan goes through archive.Walk. It does not know the CT logs: matching a
// source_url to a log list entry, and a log's size, come from the caller.
//
// Memory is proportional to the number of holes, not of rows: 16 bytes per
// range held, per log, plus a bounded sample of duplicate indexes. A batch
// is read and released by the caller; nothing keeps a reference into it.
//
// Nothing here is safe for concurrent use: a Set or Dataset shared between
// goroutines (the archiver adding, /metrics reading) needs the caller's
// lock, or hand readers a Summary or a Set.Clone, which share no memory.
package coverage
