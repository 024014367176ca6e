package backfill

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/certstream-arrow/certstream-arrow/ctlog"
	"github.com/certstream-arrow/certstream-arrow/ctrow"
	"github.com/certstream-arrow/certstream-arrow/seal"
	"github.com/certstream-arrow/certstream-arrow/stream"
)

// mergeGap groups a log's keys into ranges: keys closer than this are
// fetched as one range, since the entries between them cost less than
// another request (a static-CT data tile and a default RFC 6962 page both
// hold 256 entries, and each new RFC 6962 range costs an extra proof).
const mergeGap = 256

// Repairer refetches single entries for sealing: those whose rows the feed
// sent damaged. Each is verified by ctlog and made into the row a CertStream
// server would have sent (provenance backfill) exactly as Fill makes it, and
// handed to the sealer rather than written. It implements seal.Repairer.
//
// A Repairer is safe for concurrent use: each Repair makes its own clients,
// one per log, so calls share nothing but the (immutable) list.
type Repairer struct {
	list   *ctlog.List
	client ctlog.Options
	log    *slog.Logger
	now    func() time.Time
}

var _ seal.Repairer = (*Repairer)(nil)

// NewRepairer returns a Repairer that finds logs in list and reads them with
// client's rate, concurrency and retries. log may be nil (discard).
func NewRepairer(list *ctlog.List, client ctlog.Options, log *slog.Logger) *Repairer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Repairer{list: list, client: client, log: log.With("component", "repair"), now: time.Now}
}

// span is one range of a log fetched at once, [start, end), and the keys
// in it: the only entries of it emitted.
type span struct {
	start, end int64
	keys       []seal.Key
}

// stopped carries emit's error out of ctlog's walk, told apart from the
// walk's own errors.
type stopped struct{ err error }

func (s stopped) Error() string { return s.err.Error() }

// Repair implements seal.Repairer. keys must be sorted by log, then index.
// Per log: the list names it (an unknown or ambiguous source_url is skipped
// with a warning, not an error), one client fetches its verified head, and
// its keys are fetched in ranges of nearby keys; a key outside the signed
// tree cannot be verified and is skipped. A range whose fetch fails is
// skipped and the others go on; Repair returns those failures joined, each
// naming its log and range. emit's error stops Repair and is returned as is;
// so is ctx's.
func (r *Repairer) Repair(ctx context.Context, keys []seal.Key, emit func(seal.Key, *stream.Update) error) error {
	var errs []error
	for len(keys) > 0 {
		n := 1
		for n < len(keys) && keys[n].Log == keys[0].Log {
			n++
		}
		err := r.repairLog(ctx, keys[:n], emit)
		keys = keys[n:]
		if s, ok := errors.AsType[stopped](err); ok {
			return s.err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// repairLog fetches the keys of one log, all of the same source_url.
func (r *Repairer) repairLog(ctx context.Context, keys []seal.Key, emit func(seal.Key, *stream.Update) error) error {
	url := keys[0].Log
	lg, err := lookup(r.list, url)
	if err != nil {
		r.log.Warn("damaged rows of a log the list does not name stay as they are", "source_url", url, "keys", len(keys), "err", err)
		return nil
	}
	c, tree, err := head(ctx, lg, r.client)
	if err != nil {
		return fmt.Errorf("repair %s: %w", url, err)
	}
	spans, outside := group(keys, tree.Size)
	if outside > 0 {
		r.log.Debug("damaged rows beyond the signed tree stay as they are", "source_url", url, "keys", outside, "tree_size", tree.Size)
	}
	info := logInfo(url, lg.Description, lg.Tiled)
	var errs []error
	for _, s := range spans {
		err := c.Entries(ctx, tree, s.start, s.end, r.emitter(ctx, s, info, emit))
		if _, ok := errors.AsType[stopped](err); ok || ctx.Err() != nil {
			return err
		}
		if err != nil {
			r.log.Debug("repair of a range failed; its damaged rows not yet emitted stay as they are", "source_url", url,
				"range_start", s.start, "range_end", s.end, "keys", len(s.keys), "err", err)
			errs = append(errs, fmt.Errorf("repair %s [%d, %d): %w", url, s.start, s.end, err))
		}
	}
	r.log.Debug("damaged rows refetched", "source_url", url, "keys", len(keys), "ranges", len(spans),
		"requests", c.Stats().Requests, "failed_ranges", len(errs))
	return errors.Join(errs...)
}

// group gathers keys (of one log, by index) into spans within a tree of
// size entries, merging keys closer than mergeGap, and counts the keys
// outside the tree.
func group(keys []seal.Key, size int64) (spans []span, outside int) {
	for _, k := range keys {
		last := len(spans) - 1
		switch {
		case k.Index < 0 || k.Index >= size:
			outside++
		case last >= 0 && k.Index >= spans[last].end && k.Index-spans[last].end < mergeGap:
			spans[last].end = k.Index + 1
			spans[last].keys = append(spans[last].keys, k)
		default:
			spans = append(spans, span{start: k.Index, end: k.Index + 1, keys: []seal.Key{k}})
		}
	}
	return spans, outside
}

// emitter returns the walk function of s: it makes the row of each entry
// a key of s names and emits it, and passes over the others.
func (r *Repairer) emitter(ctx context.Context, s span, info ctrow.LogInfo, emit func(seal.Key, *stream.Update) error) func(ctlog.Entry) error {
	next := 0
	return func(e ctlog.Entry) error {
		if next == len(s.keys) || e.Index != s.keys[next].Index {
			return nil
		}
		k := s.keys[next]
		next++
		if err := ctx.Err(); err != nil {
			return err
		}
		u, _ := row(e, info, r.now(), r.log)
		if u == nil {
			return nil
		}
		if err := emit(k, u); err != nil {
			return stopped{err}
		}
		return nil
	}
}
