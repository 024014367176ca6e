package coverage

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/certstream-arrow/certstream-arrow/archive"
)

// Log is what a dataset holds of one CT log, keyed by source_url exactly as
// stored. Rows = Indexes.Held() + Indexes.Duplicates() + InvalidIndex.
type Log struct {
	URL          string    // source_url
	Name         string    // the first non-null source_name seen
	Rows         int64     // rows with this source_url and a cert_index
	Damaged      int64     // of those, rows Damaged says do not identify their certificate
	InvalidIndex int64     // of those, rows whose cert_index Set.Add refused
	FirstSeen    time.Time // earliest non-null seen; zero if none
	LastSeen     time.Time // latest non-null seen
	Indexes      Set
}

// Dataset is the coverage of a set of record batches: per log, the
// cert_index values held. It is not safe for concurrent use.
type Dataset struct {
	logs map[string]*Log
	// Rows is every row added; Unattributed those without a source_url or
	// a cert_index (dns_entries rows, feeds that send no index), which no
	// log's coverage counts.
	Rows, Unattributed int64
}

// New returns an empty Dataset.
func New() *Dataset { return &Dataset{logs: map[string]*Log{}} }

// Scan reads every published file under root with archive.Walk, one
// record batch at a time, and returns its coverage and the files it could
// not read (their rows are in no count). An error means root could not be
// read, or a file is not of this program's schema.
func Scan(root string) (*Dataset, []archive.FileError, error) {
	d := New()
	bad, err := archive.Walk(root, archive.Visitor{
		Batch: func(_ archive.PublishedFile, rec arrow.RecordBatch) error { return d.Add(rec) },
	})
	return d, bad, err
}

// batchColumns are the columns Add reads.
type batchColumns struct {
	index     *array.Int64
	url, name textColumn
	seen      *array.Timestamp
	unit      arrow.TimeUnit
	damage    damageColumns
}

func newBatchColumns(rec arrow.RecordBatch) (batchColumns, error) {
	var c batchColumns
	c.index, _ = column(rec, "cert_index").(*array.Int64)
	c.url, _ = column(rec, "source_url").(textColumn)
	c.name, _ = column(rec, "source_name").(textColumn)
	c.seen, _ = column(rec, "seen").(*array.Timestamp)
	var ok bool
	c.damage, ok = newDamageColumns(rec)
	if c.index == nil || c.url == nil || c.name == nil || c.seen == nil || !ok {
		return c, fmt.Errorf("not a certstream-arrow schema: %s", rec.Schema())
	}
	c.unit = c.seen.DataType().(*arrow.TimestampType).Unit
	return c, nil
}

// Add folds the rows of rec into d, reading only the columns it needs. It
// keeps no reference to rec. An error (a batch of another schema) leaves d
// unchanged.
func (d *Dataset) Add(rec arrow.RecordBatch) error {
	c, err := newBatchColumns(rec)
	if err != nil {
		return err
	}
	d.Rows += rec.NumRows()
	var l *Log
	for i := range int(rec.NumRows()) {
		if c.index.IsNull(i) || c.url.IsNull(i) {
			d.Unattributed++
			continue
		}
		if url := c.url.Value(i); l == nil || l.URL != url { // feeds send runs of one log
			l = d.log(url)
		}
		l.add(&c, i)
	}
	return nil
}

// log returns the Log for url, creating it. url may point into an Arrow
// buffer: the map keeps a copy.
func (d *Dataset) log(url string) *Log {
	if l := d.logs[url]; l != nil {
		return l
	}
	l := &Log{URL: strings.Clone(url)}
	d.logs[l.URL] = l
	return l
}

// add folds row i of c into l.
func (l *Log) add(c *batchColumns, i int) {
	l.Rows++
	if l.Indexes.Add(c.index.Value(i)) == Invalid {
		l.InvalidIndex++
	}
	if l.Name == "" && c.name.IsValid(i) {
		l.Name = strings.Clone(c.name.Value(i))
	}
	if c.seen.IsValid(i) {
		l.seen(c.seen.Value(i).ToTime(c.unit).UTC())
	}
	if c.damage.damaged(i) {
		l.Damaged++
	}
}

func (l *Log) seen(t time.Time) {
	if l.FirstSeen.IsZero() || t.Before(l.FirstSeen) {
		l.FirstSeen = t
	}
	if t.After(l.LastSeen) {
		l.LastSeen = t
	}
}

// Log returns the Log whose source_url is url, or nil.
func (d *Dataset) Log(url string) *Log { return d.logs[url] }

// Logs returns every log, ordered by source_url.
func (d *Dataset) Logs() []*Log {
	return slices.SortedFunc(maps.Values(d.logs), func(a, b *Log) int { return cmp.Compare(a.URL, b.URL) })
}

// Merge adds o's coverage to d, as if d had been given o's batches too;
// an index both hold counts as a duplicate. o is not changed and d shares
// no memory with it.
func (d *Dataset) Merge(o *Dataset) {
	d.Rows += o.Rows
	d.Unattributed += o.Unattributed
	for _, ol := range o.logs {
		l := d.log(ol.URL)
		l.Rows += ol.Rows
		l.Damaged += ol.Damaged
		l.InvalidIndex += ol.InvalidIndex
		if l.Name == "" {
			l.Name = ol.Name
		}
		if !ol.FirstSeen.IsZero() {
			l.seen(ol.FirstSeen)
			l.seen(ol.LastSeen)
		}
		l.Indexes.Merge(&ol.Indexes)
	}
}
