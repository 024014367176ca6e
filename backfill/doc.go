// Package backfill fetches from the CT logs themselves the entries a dataset
// is missing, and writes them through the archive's durable path as the rows a
// CertStream server would have sent (ctrow), marked provenance "backfill".
//
// It owns the decision of what to fetch and the walk that fetches it; it does
// not touch the dataset directory (archive/ does), parse CT protocols
// (ctlog/) or certificates (ctrow/), or compute coverage (coverage/).
//
// The pipeline:
//
//	archive.Open(backfill collector)      lock, salvage what a killed backfill left: its rows count as held
//	Plan:  coverage.Scan(root) --> per source_url: ctlog.List.Lookup --> Client.Head (verified)
//	       --> --since resolved (an index, or an age by binary search on entry timestamps)
//	       --> coverage holes within [since or first held, min(tree size, --to)) --> --max-entries
//	Fill:  one goroutine per log: Client.Entries(hole) --> ctrow.Update --> chunks --\
//	                                                                                 +--> one writer: Dataset.Append, Tick
//	       ...                                                                     --/
//	archive.Close                         every row written is published
//
// Repairer serves sealing (seal.Repairer) with the same pieces: for the
// (source_url, cert_index) of rows the feed sent damaged, it looks each log
// up as Plan does, fetches its verified head once, fetches the keys in a
// few ranges of nearby indexes, and emits the rows Fill would write, to the
// sealer instead of the dataset.
//
// Why it is idempotent and crash-safe: Plan reads only published files, after
// Open has salvaged the temporary files of this collector's last run, so a row
// a killed backfill wrote in a complete batch is held, and one it had not
// written is a hole again; the plan never holds an index twice, so Fill never
// appends a row for an index the dataset holds. What is lost to a kill -9 is at
// most the rows not yet in a complete batch; they are fetched again.
//
// Beside a running archiver (another collector on the same root), rows the
// archiver holds in memory or in files it has not published yet are invisible
// to Plan: Options.Grace keeps Fill away from entries younger than the
// archiver's publish delay, so the two do not write the same index. An entry
// the feed delivers later than Grace can still be archived twice; coverage
// counts such duplicates.
//
// Concurrency: Plan and Fill may be called from any goroutine; a LogPlan is
// read-only once made and belongs to one Fill at a time, and the Dataset
// passed to Fill must not be used by anyone else until Fill returns. Progress
// may be read from any goroutine. A Repairer is safe for concurrent use.
// There is no global state.
package backfill
