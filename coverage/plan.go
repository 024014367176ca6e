package coverage

// NoSince tells Responsible and Plan that no --since was given: the archive
// is responsible from the first index it holds.
const NoSince int64 = -1

// Responsible returns the range of a log's indexes the archive owes: from
// since (or, when since is NoSince, the first index it holds) to size, the
// log's current tree size. An archive started today does not owe the log's
// history; an archive that holds nothing of a log owes nothing unless
// since is given. The range is empty (Start == End) when nothing is owed.
func (l *Log) Responsible(since, size int64) Range {
	from := since
	if from < 0 {
		b, ok := l.held().Bounds()
		if !ok {
			return Range{}
		}
		from = b.Start
	}
	if size <= from {
		return Range{from, from}
	}
	return Range{from, size}
}

// held returns l's set; a nil Log holds nothing.
func (l *Log) held() *Set {
	if l == nil {
		return &Set{}
	}
	return &l.Indexes
}

// Plan is what backfill must fetch for one log: the holes of the range the
// archive is responsible for.
type Plan struct {
	SourceURL   string  `json:"source_url"`
	Responsible Range   `json:"responsible"`
	Held        int64   `json:"held"`    // distinct indexes held within Responsible
	Missing     int64   `json:"missing"` // entries to fetch: the sum of the holes' lengths
	Holes       []Range `json:"holes"`
	// Beyond counts indexes held at or past the log's size: a tree size
	// older than the dataset, or rows attributed to the wrong log.
	Beyond int64 `json:"beyond_size"`
}

// Plan returns the holes within l.Responsible(since, size). A nil Log (a
// log the dataset does not hold) is planned as an empty one.
func (l *Log) Plan(since, size int64) Plan {
	s := l.held()
	r := l.Responsible(since, size)
	p := Plan{Responsible: r, Held: s.HeldIn(r.Start, r.End), Holes: s.Holes(r.Start, r.End), Beyond: s.HeldIn(max(size, 0), maxIndex)}
	if l != nil {
		p.SourceURL = l.URL
	}
	if p.Holes == nil {
		p.Holes = []Range{}
	}
	p.Missing = r.Len() - p.Held
	return p
}

// maxIndex is one past the largest index a Set holds.
const maxIndex = 1<<63 - 1

// Responsible is Log.Responsible for the log whose source_url is url.
func (d *Dataset) Responsible(url string, since, size int64) Range {
	return d.Log(url).Responsible(since, size)
}

// Plan is Log.Plan for the log whose source_url is url.
func (d *Dataset) Plan(url string, since, size int64) Plan {
	p := d.Log(url).Plan(since, size)
	p.SourceURL = url
	return p
}

// Limit returns p cut to its first n missing entries, in index order, for
// a backfill bounded by --max-entries. n <= 0 leaves nothing to fetch.
func (p Plan) Limit(n int64) Plan {
	holes := []Range{}
	var total int64
	for _, h := range p.Holes {
		if total >= n {
			break
		}
		h.End = min(h.End, h.Start+(n-total))
		holes = append(holes, h)
		total += h.Len()
	}
	p.Holes, p.Missing = holes, total
	return p
}
