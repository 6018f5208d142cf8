package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/castellan-authz/castellan/internal/tick"
	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/index"
)

// errBehindLog reports an index older than the oldest revision left in the
// change log: it cannot be brought up to date from the log, only reloaded.
var errBehindLog = fmt.Errorf("index behind the pruned change log: %w", store.ErrPruned)

// horizonSQL is the last pruned revision: changes up to it are gone. The
// revisions table loses its rows together with their changes, so its
// first row is the first revision whose changes are kept; when pruning
// emptied it, every revision up to the head is pruned. It is 0 when
// nothing was pruned.
const horizonSQL = `coalesce((SELECT min(revision) - 1 FROM revisions), (SELECT revision FROM castellan_head))`

// readHorizon reads the last pruned revision.
func readHorizon(ctx context.Context, q querier) (int64, error) {
	var h int64
	err := q.QueryRow(ctx, "SELECT "+horizonSQL).Scan(&h)
	return h, err
}

// pruneSQL deletes the change log's revisions committed before now minus
// $1 seconds, with their rows of revisions.
const pruneSQL = `WITH h AS (
	SELECT max(revision) AS r FROM revisions WHERE committed_at < now() - make_interval(secs => $1)
), c AS (
	DELETE FROM changes WHERE revision <= (SELECT r FROM h)
)
DELETE FROM revisions WHERE revision <= (SELECT r FROM h)`

// Prune deletes the change log's revisions committed longer ago than
// retention (one statement, so one transaction) and reports how many
// revisions it removed. A store with Options.ChangeRetention calls it
// periodically.
func (s *Store) Prune(ctx context.Context, retention time.Duration) (int64, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	tag, err := s.pool.Exec(ctx, pruneSQL, retention.Seconds())
	if err != nil {
		return 0, unavailable(ctx, fmt.Errorf("pruning the change log: %w", err))
	}
	return tag.RowsAffected(), nil
}

// pruneLoop prunes the change log every quarter of the retention (at least
// every second, at most every minute) until ctx ends.
func (s *Store) pruneLoop(ctx context.Context) {
	defer close(s.pruned)
	every := min(max(s.opts.ChangeRetention/4, time.Second), time.Minute)
	tick.Every(ctx, every, func() {
		n, err := s.Prune(ctx, s.opts.ChangeRetention)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn().Err(err).Msg("pruning the change log")
		case n > 0:
			s.log.Debug().Int64("revisions", n).Msg("pruned the change log")
		}
	})
}

// reload replaces the index with a new one loaded from the facts: for an
// index that fell behind the pruned change log. Snapshots of the old index
// stay readable; new ones come from the new index, whose revision is at
// least the old one's.
func (s *Store) reload(ctx context.Context) error {
	start := time.Now()
	fresh := index.New()
	if err := s.loadInto(ctx, fresh, false); err != nil {
		return fmt.Errorf("reloading the index: %w", err)
	}
	s.applyMu.Lock()
	old := s.index().Revision()
	if fresh.Revision() < old { // cannot happen: the database head only grows
		s.applyMu.Unlock()
		return errors.New("reloading the index: the database is behind the index")
	}
	s.idx.Store(fresh)
	s.applyMu.Unlock()
	s.broadcast()
	s.log.Warn().Uint64("from", old).Uint64("to", fresh.Revision()).Dur("took", time.Since(start)).
		Msg("the index was behind the pruned change log: reloaded it from the facts")
	return nil
}
