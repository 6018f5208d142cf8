package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/index"
)

// querier is what catch-up reads with: the pool or the follower's
// connection.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// load fills the empty index with every stored fact and the key set with
// every API key, read in one repeatable-read transaction together with the
// head revision and the key change log's version.
func (s *Store) load(ctx context.Context) error {
	return s.loadInto(ctx, s.index(), true)
}

// loadInto fills the empty index idx with every stored fact, and with keys
// the key set with every API key.
func (s *Store) loadInto(ctx context.Context, idx *index.Index, keys bool) error {
	tx, err := s.readPool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return unavailable(ctx, fmt.Errorf("loading facts: %w", err))
	}
	defer tx.Rollback(context.Background())
	var head int64
	if err := tx.QueryRow(ctx, "SELECT revision FROM castellan_head").Scan(&head); err != nil {
		return unavailable(ctx, fmt.Errorf("loading facts: %w", err))
	}
	if keys {
		if err := s.loadKeys(ctx, tx); err != nil {
			return err
		}
	}
	if head == 0 {
		return nil
	}
	// Facts are read in insertion order (through the index on id; a
	// database not vacuumed since a bulk load may prefer a sort: let it
	// stay in memory).
	if _, err := tx.Exec(ctx, "SET LOCAL work_mem = '256MB'"); err != nil {
		return unavailable(ctx, fmt.Errorf("loading facts: %w", err))
	}
	itx, err := idx.Begin(uint64(head))
	if err != nil {
		return err
	}
	// The index Tx cannot be rolled back; on error the index is thrown
	// away with the store, so commit whatever was read.
	defer itx.Commit()
	if _, err := s.copyLoad(ctx, tx, itx); err != nil {
		return err
	}
	s.noteHead(uint64(head))
	return nil
}

// toWindow is the window of nullable bounds read from the database.
func toWindow(from, until *time.Time) term.Window {
	var w term.Window
	if from != nil {
		w.From = from.UTC()
	}
	if until != nil {
		w.Until = until.UTC()
	}
	return w
}

func toValues(dst []term.Value, types, ids []string) []term.Value {
	for i := range types {
		dst = append(dst, term.Value{Type: types[i], ID: ids[i]})
	}
	return dst
}

// follow keeps the index and the key set up to date until ctx ends: it
// listens for notifications on its own connection and reads the change log
// and the key change log when one arrives or every PollInterval,
// reconnecting with backoff when the connection is lost.
func (s *Store) follow(ctx context.Context) {
	defer close(s.done)
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		connected, err := s.listen(ctx)
		s.connected.Store(false)
		if ctx.Err() != nil {
			return
		}
		if connected {
			backoff = 50 * time.Millisecond
		}
		s.log.Warn().Err(err).Dur("retry_in", backoff).Msg("change log follower disconnected")
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// catchUpTimeout bounds one catch-up of the follower, so that a database
// that stops answering (rather than refusing) does not hold the index lock
// forever.
const catchUpTimeout = time.Minute

// listen runs one connection of the follower. connected reports whether
// it got as far as listening.
func (s *Store) listen(ctx context.Context) (connected bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, s.connCfg)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.Background())
	// A hot standby cannot LISTEN: poll it instead. (The primary's
	// notifications would announce revisions the standby may not have
	// replayed yet anyway.)
	var standby bool
	if err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&standby); err != nil {
		return false, err
	}
	poll := s.opts.PollInterval
	if standby {
		poll = s.opts.StandbyPollInterval
	} else if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		return false, err
	}
	applied := false
	for {
		if !applied {
			cctx, cancel := context.WithTimeout(ctx, catchUpTimeout)
			err = s.catchUpConsistent(cctx, conn)
			if errors.Is(err, errBehindLog) {
				err = s.reload(cctx)
			}
			if err == nil {
				err = s.catchUpKeys(cctx, conn)
			}
			cancel()
			if err != nil {
				return true, err
			}
		}
		s.connected.Store(true)
		wctx, cancel := context.WithTimeout(ctx, poll)
		var n *pgconn.Notification
		n, err = conn.WaitForNotification(wctx)
		cancel()
		applied = n != nil && s.notedApplied(n.Payload)
		if err != nil && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) && !pgconnTimeout(err) {
			return true, err
		}
		if ctx.Err() != nil {
			return true, ctx.Err()
		}
	}
}

// notedApplied reports whether a notification's payload names a revision
// the index has already applied, or one of the group this store's writer
// is committing (which it applies itself once committed): the writes of
// this server, so that the follower does not take applyMu and read the
// head for each of them. Any other payload (the key table's "keys", a
// revision not applied yet) means catching up.
func (s *Store) notedApplied(payload string) bool {
	rev, err := strconv.ParseUint(payload, 10, 64)
	if err != nil {
		return false
	}
	s.noteHead(rev)
	return rev <= s.index().Revision() || rev <= s.committing.Load()
}

// pgconnTimeout reports whether err is pgx's report of a timed-out wait.
func pgconnTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// catchUpConsistent applies the change log up to the database head, read
// in one repeatable-read transaction on conn, so that the pruned horizon
// and the changes are read from one snapshot.
func (s *Store) catchUpConsistent(ctx context.Context, conn *pgx.Conn) error {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	return s.catchUpLocked(ctx, tx)
}

// pending is a change read from the log, not yet applied.
type pending struct {
	op   store.ChangeOp
	fact term.Fact
}

// catchUpLocked reads the head, then applies the change log up to it.
// Callers hold applyMu.
func (s *Store) catchUpLocked(ctx context.Context, q querier) error {
	var head, horizon int64
	if err := q.QueryRow(ctx, "SELECT revision, "+horizonSQL+" FROM castellan_head").Scan(&head, &horizon); err != nil {
		return err
	}
	s.noteHead(uint64(head))
	return s.applyLogLocked(ctx, q, head, horizon)
}

// applyLogLocked reads every change after the index's revision up to
// revision head, and applies them one revision at a time: a revision is
// applied only once all its changes were read. horizon is the last pruned
// revision (see readHorizon), or -1 to have it read; when the index is
// older than it, the changes it misses are gone: the error wraps
// errBehindLog and nothing is applied. Callers hold applyMu.
func (s *Store) applyLogLocked(ctx context.Context, q querier, head, horizon int64) error {
	cur := s.index().Revision()
	if uint64(head) <= cur {
		return nil
	}
	if horizon < 0 {
		var err error
		if horizon, err = readHorizon(ctx, q); err != nil {
			return err
		}
	}
	if uint64(horizon) > cur {
		return fmt.Errorf("the index is at revision %d, the change log starts after %d: %w", cur, horizon, errBehindLog)
	}
	rows, err := q.Query(ctx, changesSQL("revision > $1 AND revision <= $2", ""), int64(cur), head)
	if err != nil {
		return err
	}
	defer rows.Close()
	var (
		buf         []pending
		bufRev      int64
		rev         int64
		op          int16
		pred        string
		types, ids  []string
		from, until *time.Time
	)
	for rows.Next() {
		if err := rows.Scan(&rev, &op, &pred, &types, &ids, &from, &until); err != nil {
			return err
		}
		if rev != bufRev && len(buf) > 0 {
			if err := s.applyPending(uint64(bufRev), buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
		bufRev = rev
		buf = append(buf, pending{op: store.ChangeOp(op), fact: term.Fact{Predicate: pred, Args: toValues(nil, types, ids), Valid: toWindow(from, until)}})
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(buf) > 0 {
		if err := s.applyPending(uint64(bufRev), buf); err != nil {
			return err
		}
	}
	if s.index().Revision() < uint64(head) { // revisions without changes
		if err := s.index().Apply(uint64(head), nil); err != nil {
			return err
		}
		s.broadcast()
	}
	return nil
}

func (s *Store) applyPending(rev uint64, changes []pending) error {
	tx, err := s.index().Begin(rev)
	if err != nil {
		return err
	}
	// Runs of inserts go in together (one lock per run, InsertAll),
	// deletes one by one, in the order of the changes.
	var run []term.Fact
	for _, c := range changes {
		if c.op == store.OpInsert {
			run = append(run, c.fact)
			continue
		}
		if len(run) > 0 {
			tx.InsertAll(run)
			run = run[:0]
		}
		tx.Delete(term.Pattern{Predicate: c.fact.Predicate, Args: c.fact.Args})
	}
	if len(run) > 0 {
		tx.InsertAll(run)
	}
	tx.Commit()
	s.broadcast()
	return nil
}

// broadcast wakes the snapshots waiting for the index to advance.
func (s *Store) broadcast() {
	s.advMu.Lock()
	close(s.advanced)
	s.advanced = make(chan struct{})
	s.advMu.Unlock()
}

func (s *Store) advancedCh() <-chan struct{} {
	s.advMu.Lock()
	defer s.advMu.Unlock()
	return s.advanced
}

// SnapshotAt returns a snapshot at exactly revision rev from the followed
// index (see store.PastReader), first waiting as Snapshot does when the
// index has not reached rev. A revision compaction went past, or one
// before this replica loaded its index, is store.ErrRevisionGone.
func (s *Store) SnapshotAt(ctx context.Context, rev store.Revision) (store.Snapshot, error) {
	if _, err := s.Snapshot(ctx, store.Consistency{AtLeast: rev}); err != nil {
		return nil, err
	}
	return s.index().SnapshotAt(rev)
}

// Snapshot returns a view of the index (see store.Store). When the index
// has not reached c.AtLeast it reads the change log itself and waits for
// the follower, up to Options.WaitTimeout or the end of ctx, then fails
// with store.ErrRevisionUnavailable. It fails at once when the database
// head is below c.AtLeast (no store handed out that revision). While the database is unreachable,
// Snapshot keeps answering from the index at the revision it has.
func (s *Store) Snapshot(ctx context.Context, c store.Consistency) (store.Snapshot, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	// The latest snapshot, shared by the readers between two commits: no
	// lock of the index's taken on the way.
	if snap := s.index().Snapshot(); c.AtLeast <= snap.Revision() {
		return snap, nil
	}
	wctx, cancel := context.WithTimeout(ctx, s.opts.WaitTimeout)
	defer cancel()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		adv := s.advancedCh()
		// Read the log ourselves unless someone else is at it already (a
		// writer or the follower, which will wake us when it advances).
		// The connection is taken before the lock: holding the lock while
		// waiting for the pool could starve writers, which hold connections
		// while they wait for the lock.
		readHead := false
		if conn, err := s.pool.Acquire(wctx); err == nil {
			if s.applyMu.TryLock() {
				err = s.catchUpLocked(wctx, conn)
				readHead = err == nil
				s.applyMu.Unlock()
			}
			conn.Release()
			if err != nil && wctx.Err() == nil {
				s.log.Debug().Err(err).Msg("catching up for a snapshot")
			}
		}
		if c.AtLeast <= s.index().Revision() {
			return s.index().Snapshot(), nil
		}
		// A revision is handed out only once committed, so one above the
		// database head was never handed out by a store on this database.
		if h := s.dbHead.Load(); readHead && h < c.AtLeast {
			return nil, fmt.Errorf("revision %d requested, the database head is %d: %w", c.AtLeast, h, store.ErrRevisionUnavailable)
		}
		select {
		case <-adv:
		case <-tick.C:
		case <-wctx.Done():
			return nil, fmt.Errorf("revision %d requested, the index is at %d: %w (%w)", c.AtLeast, s.index().Revision(), store.ErrRevisionUnavailable, wctx.Err())
		}
	}
}

// changesSQL reads the change log's rows matching cond (on revision), in
// order, as (revision, op, predicate, arg_types, arg_ids, valid_from,
// valid_until) with op 1 or 2: a bulk insert (op 3) is read as the facts
// of its block of ids still stored, with those deleted since (op 4), in
// the order of their ids, at its place in its revision.
func changesSQL(cond, limit string) string {
	return `SELECT revision, op, predicate, arg_types, arg_ids, valid_from, valid_until FROM (
	SELECT revision, op, predicate, arg_types, arg_ids, valid_from, valid_until, id AS pos, 0::bigint AS sub
	FROM changes WHERE ` + cond + ` AND op IN (1, 2)
	UNION ALL
	SELECT revision, 1::smallint, predicate, arg_types, arg_ids, valid_from, valid_until, bulk_id, fact_id
	FROM changes WHERE ` + cond + ` AND op = 4
	UNION ALL
	SELECT c.revision, 1::smallint, f.predicate, f.arg_types, f.arg_ids, f.valid_from, f.valid_until, c.id, f.id
	FROM changes c JOIN facts f ON f.id BETWEEN c.first_id AND c.last_id WHERE ` + strings.ReplaceAll(cond, "revision", "c.revision") + ` AND c.op = 3
) x ORDER BY revision, pos, sub` + limit
}

// Changes reads the change log from the database (see store.Store).
func (s *Store) Changes(ctx context.Context, since store.Revision, limit int) ([]store.Change, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	h, err := readHorizon(ctx, s.pool)
	if err != nil {
		return nil, unavailable(ctx, fmt.Errorf("reading changes: %w", err))
	}
	if since < uint64(h) {
		return nil, fmt.Errorf("changes since revision %d: the change log starts after revision %d: %w", since, h, store.ErrPruned)
	}
	sql := changesSQL("revision > $1", "")
	args := []any{int64(since)}
	if limit > 0 {
		sql = changesSQL("revision > $1", " LIMIT $2")
		args = append(args, limit)
	}
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, unavailable(ctx, fmt.Errorf("reading changes: %w", err))
	}
	defer rows.Close()
	var out []store.Change
	var (
		rev         int64
		op          int16
		pred        string
		types, ids  []string
		from, until *time.Time
	)
	for rows.Next() {
		if err := rows.Scan(&rev, &op, &pred, &types, &ids, &from, &until); err != nil {
			return nil, fmt.Errorf("reading changes: %w", err)
		}
		out = append(out, store.Change{Revision: uint64(rev), Op: store.ChangeOp(op), Fact: term.Fact{Predicate: pred, Args: toValues(nil, types, ids), Valid: toWindow(from, until)}})
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(ctx, fmt.Errorf("reading changes: %w", err))
	}
	return out, nil
}
