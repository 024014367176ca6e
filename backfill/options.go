package backfill

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/certstream-arrow/certstream-arrow/archive"
	"github.com/certstream-arrow/certstream-arrow/coverage"
	"github.com/certstream-arrow/certstream-arrow/ctlog"
)

// Options configures Plan and Fill.
type Options struct {
	// Root is the dataset root that Plan scans for coverage: the root of the
	// Dataset that Fill writes to.
	Root string
	// List names the logs: a source_url the list does not know is reported
	// (LogPlan.Unknown) and skipped, never guessed at.
	List *ctlog.List
	// Logs selects the logs to backfill, each a source_url as the dataset
	// stores it or a log's URL as the list gives it. Empty: every log the
	// dataset holds a row of.
	Logs []string
	// Since starts the range the archive is responsible for; the zero
	// Since starts it at the first index the dataset holds of each log.
	Since Since
	// To caps the end of that range (exclusive); 0: the log's tree size.
	To int64
	// MaxEntries caps the entries fetched by one Fill, all logs together,
	// taken in plan order; 0: no cap.
	MaxEntries int64
	// Grace keeps Fill away from the head of a log: a log's walk stops at
	// its first entry younger than Grace, for a running archiver to stream
	// and publish. 0: fetch up to the tree size.
	Grace time.Duration
	// Client sets each log's request rate, concurrency and retries.
	Client ctlog.Options
	// Scan, when set, replaces coverage.Scan in Plan: a running archiver's
	// background backfill scans only its recent hours (coverage.ScanRecent).
	Scan func(root string) (*coverage.Dataset, []archive.FileError, error)
	// Progress, when set, is updated by Fill as it goes.
	Progress *Progress
	Logger   *slog.Logger     // default discards
	Now      func() time.Time // default time.Now
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Since is where the range an archive owes a log starts: nowhere given (the
// zero Since: the first index the dataset holds), an index, or an age (the
// first entry whose timestamp is within the age of now).
type Since struct {
	index int64
	age   time.Duration
	set   bool
}

// SinceIndex starts the range at index i.
func SinceIndex(i int64) Since { return Since{index: i, set: true} }

// SinceAge starts the range at the first entry younger than age.
func SinceAge(age time.Duration) Since { return Since{age: age, set: true} }

// ParseSince reads --since: "" for none, an index ("123456") or a Go
// duration ("48h").
func ParseSince(s string) (Since, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Since{}, nil
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		if i < 0 {
			return Since{}, fmt.Errorf("since %q: an index is not negative", s)
		}
		return SinceIndex(i), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return Since{}, fmt.Errorf("since %q: want an index or a duration such as 48h", s)
	}
	if d <= 0 {
		return Since{}, errors.New("since: the duration must be positive")
	}
	return SinceAge(d), nil
}

// String returns s as ParseSince reads it.
func (s Since) String() string {
	switch {
	case !s.set:
		return ""
	case s.age > 0:
		return s.age.String()
	}
	return strconv.FormatInt(s.index, 10)
}

// Progress counts a Fill's work as it goes. Safe for concurrent use: Fill
// writes, anyone reads.
type Progress struct {
	Total   atomic.Int64 // entries planned, all logs
	Fetched atomic.Int64 // entries handed back by the logs
	Rows    atomic.Int64 // rows appended to the dataset
	Errors  atomic.Int64 // logs whose walk ended in an error
}

// noSince is coverage's "no --since".
const noSince = coverage.NoSince
