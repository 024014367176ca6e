package coverage

import (
	"time"
)

// LogSummary is the JSON form of a Log, for inspect --json and /metrics.
// Holes and Missing are counted within the span the dataset holds
// ([min_cert_index, max_cert_index]); a Plan counts them against the log's
// size.
type LogSummary struct {
	SourceURL       string    `json:"source_url"`
	SourceName      string    `json:"source_name"`
	Rows            int64     `json:"rows"`
	Distinct        int64     `json:"distinct"`
	MinIndex        int64     `json:"min_cert_index"`
	MaxIndex        int64     `json:"max_cert_index"`
	Holes           int       `json:"holes"`
	Missing         int64     `json:"missing"`
	Duplicates      int64     `json:"duplicates"`
	DuplicateSample []int64   `json:"duplicate_sample,omitempty"`
	Damaged         int64     `json:"damaged"`
	InvalidIndex    int64     `json:"invalid_cert_index"`
	FirstSeen       time.Time `json:"first_seen,omitzero"`
	LastSeen        time.Time `json:"last_seen,omitzero"`
}

// Summary returns l's summary.
func (l *Log) Summary() LogSummary {
	s := &l.Indexes
	sum := LogSummary{
		SourceURL: l.URL, SourceName: l.Name, Rows: l.Rows, Distinct: s.Held(),
		Duplicates: s.Duplicates(), DuplicateSample: s.DuplicateSample(),
		Damaged: l.Damaged, InvalidIndex: l.InvalidIndex, FirstSeen: l.FirstSeen, LastSeen: l.LastSeen,
	}
	if b, ok := s.Bounds(); ok {
		sum.MinIndex, sum.MaxIndex = b.Start, b.End-1
		sum.Holes = s.Len() - 1
		sum.Missing = b.Len() - s.Held()
	}
	return sum
}

// Summary is the JSON form of a Dataset.
type Summary struct {
	Rows         int64        `json:"rows"`
	Unattributed int64        `json:"rows_without_cert_index"`
	Logs         []LogSummary `json:"logs"` // ordered by source_url
}

// Summary returns d's summary.
func (d *Dataset) Summary() Summary {
	sum := Summary{Rows: d.Rows, Unattributed: d.Unattributed, Logs: []LogSummary{}}
	for _, l := range d.Logs() {
		sum.Logs = append(sum.Logs, l.Summary())
	}
	return sum
}
