package postgres

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/index"
)

// channel is the LISTEN/NOTIFY channel on which writers announce a new
// revision.
const channel = "castellan_changes"

// copyThreshold is the number of inserted facts of one Op from which they
// go through COPY instead of one INSERT.
const copyThreshold = 500

// Write applies batch in one transaction (see store.Store). Writers are
// serialized by the row lock on castellan_head, so revisions commit in
// order. After the commit the batch is applied to the index before Write
// returns, so the store reads its own writes (the index is first brought
// to the previous revision inside the transaction). If the connection is lost
// during COMMIT (or, for a group sent in one round trip, after it was
// sent), the error wraps store.ErrUnavailable and the batch may or may not
// have committed; the follower picks it up if it did.
//
// Concurrent writes are committed in groups: while one transaction is
// committing, the batches that arrive wait, and the next transaction
// commits them together, each with its own revision, in arrival order
// (one commit, one WAL flush, for many writers). Each Write still returns
// only after the transaction holding its batch has committed.
func (s *Store) Write(ctx context.Context, batch []store.Op, opts ...store.WriteOption) (store.Revision, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	ops, err := store.Prepare(batch, opts...)
	if err != nil {
		return 0, err
	}
	return s.writeOps(ctx, ops)
}

// WritePrepared applies a batch prepared by store.PrepareBatch atomically
// (see store.PreparedWriter): an import validates its next batch while
// the database stores this one. The batch's facts are not changed (commit
// orders and dedupes them into new slices).
func (s *Store) WritePrepared(ctx context.Context, p store.Prepared) (store.Revision, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	ops := slices.Clone(p.Ops())
	keyed, _ := p.Extra().([][]keyedFact)
	if len(keyed) != len(ops) {
		keyed = nil // not prepared by this store's PrepareBatch
	}
	rev, err := s.groupCommit(ctx, ops, keyed)
	if err != nil {
		return 0, unavailable(ctx, fmt.Errorf("writing facts: %w", err))
	}
	return rev, nil
}

// PrepareBatch is store.PrepareBatch, and for each op of copyThreshold
// inserts or more, the facts keyed, deduplicated and sorted by key as
// commit would (see store.BatchPreparer): an import does this for batch
// k+1 on its reading goroutine while batch k is written.
func (s *Store) PrepareBatch(batch []store.Op, opts ...store.WriteOption) (store.Prepared, error) {
	p, err := store.PrepareBatch(batch, opts...)
	if err != nil {
		return p, err
	}
	keyed := make([][]keyedFact, len(p.Ops()))
	for i, op := range p.Ops() {
		if len(op.Insert) >= copyThreshold {
			keyed[i] = dedupe(op.Insert, true)
		}
	}
	return p.WithExtra(keyed), nil
}

// writeOps commits prepared ops (which commit may change: their Insert
// slices are replaced).
func (s *Store) writeOps(ctx context.Context, ops []store.Op) (store.Revision, error) {
	rev, err := s.groupCommit(ctx, ops, nil)
	if err != nil {
		return 0, unavailable(ctx, fmt.Errorf("writing facts: %w", err))
	}
	return rev, nil
}

// Expire removes the facts whose window ended at or before now, in one
// revision (see store.Expirer). It asks the index first, and writes
// nothing when no fact there has expired; the count is the index's.
func (s *Store) Expire(ctx context.Context, now time.Time) (store.Revision, int, error) {
	if err := s.check(); err != nil {
		return 0, 0, err
	}
	n := s.index().CountExpired(now.UnixNano())
	if n == 0 {
		return 0, 0, nil
	}
	rev, err := s.Write(ctx, []store.Op{{ExpiredBy: now}})
	if err != nil {
		return 0, 0, err
	}
	return rev, n, nil
}

// Clear removes every fact in one revision.
func (s *Store) Clear(ctx context.Context) (store.Revision, error) {
	return s.Write(ctx, store.ClearBatch())
}

// Group commit bounds: a group holds at most Options.MaxGroupBatches
// batches (default defaultMaxGroupBatches) and, past its first batch, at
// most maxGroupFacts facts (a large import commits alone rather than
// delaying many small writes).
const (
	defaultMaxGroupBatches = 256
	maxGroupFacts          = 2000
)

// pendingWrite is a batch waiting to be committed by a group.
type pendingWrite struct {
	ctx context.Context
	ops []store.Op
	// keyed holds, for each op, its inserts keyed, deduplicated and
	// sorted (PrepareBatch), or nil (the whole slice may be nil).
	keyed [][]keyedFact
	size  int // inserted facts and deleted patterns
	rev   uint64
	err   error
	done  chan struct{} // closed when its group has committed (or failed)
	lead  chan struct{} // closed when it is to lead the next group
}

// writeQueue holds the batches waiting for the next group commit.
type writeQueue struct {
	mu      sync.Mutex
	pending []*pendingWrite
	leading bool // a writer is committing a group
}

// groupCommit commits ops, together with the batches of concurrent
// writers. One writer at a time leads: it commits the group of the
// batches waiting (its own first among them), then hands the lead to the
// first batch still waiting, so no writer commits for others after its
// own write is done. The others wait for their group or the lead.
func (s *Store) groupCommit(ctx context.Context, ops []store.Op, keyed [][]keyedFact) (uint64, error) {
	size := 0
	for _, op := range ops {
		size += len(op.Insert) + len(op.Delete)
	}
	w := &pendingWrite{ctx: ctx, ops: ops, keyed: keyed, size: size, done: make(chan struct{}), lead: make(chan struct{})}
	q := &s.writes
	q.mu.Lock()
	q.pending = append(q.pending, w)
	if !q.leading {
		q.leading = true
		q.mu.Unlock()
		return s.leadGroups(w)
	}
	q.mu.Unlock()
	select {
	case <-w.done:
		return w.rev, w.err
	case <-w.lead:
		return s.leadGroups(w)
	case <-ctx.Done():
	}
	q.mu.Lock()
	select {
	case <-w.lead:
		// Handed the lead as it gave up: lead anyway, so the batches
		// behind it are committed.
		q.mu.Unlock()
		return s.leadGroups(w)
	default:
	}
	if i := slices.Index(q.pending, w); i >= 0 {
		// Not taken by a group yet: withdrawn, never committed.
		q.pending = slices.Delete(q.pending, i, i+1)
		q.mu.Unlock()
		return 0, ctx.Err()
	}
	q.mu.Unlock()
	// Taken: its group may commit it, so wait for the answer.
	<-w.done
	return w.rev, w.err
}

// leadGroups commits groups of the waiting batches until w's is done,
// then hands the lead on (or gives it up when nothing waits).
func (s *Store) leadGroups(w *pendingWrite) (uint64, error) {
	q := &s.writes
	for {
		q.mu.Lock()
		n, facts := 0, 0
		for n < len(q.pending) && n < s.opts.MaxGroupBatches {
			if n > 0 && facts+q.pending[n].size > maxGroupFacts {
				break
			}
			facts += q.pending[n].size
			n++
		}
		group := slices.Clone(q.pending[:n])
		q.pending = slices.Delete(q.pending, 0, n)
		q.mu.Unlock()
		if n > 0 {
			s.commitGroup(group)
		}
		select {
		case <-w.done:
		default:
			continue // w was not in this group (it cannot happen: w waits first in line)
		}
		break
	}
	q.mu.Lock()
	if len(q.pending) > 0 {
		close(q.pending[0].lead)
	} else {
		q.leading = false
	}
	q.mu.Unlock()
	return w.rev, w.err
}

// commitGroup commits the batches of group in one transaction, or, when
// that fails and the group holds several, each in its own (so a batch
// the database refuses fails alone), and answers their writers.
func (s *Store) commitGroup(group []*pendingWrite) {
	// A group outlives the request of any one writer: it runs under the
	// first writer's values but is canceled only when every writer of the
	// group has given up.
	ctx, cancel := groupContext(group)
	defer cancel()
	batches := make([][]store.Op, len(group))
	keyed := make([][][]keyedFact, len(group))
	for i, w := range group {
		batches[i], keyed[i] = w.ops, w.keyed
	}
	revs, err := s.commitKeyed(ctx, batches, keyed)
	if err != nil && len(group) > 1 && ctx.Err() == nil {
		for _, w := range group {
			revs, err := s.commitKeyed(ctx, [][]store.Op{w.ops}, [][][]keyedFact{w.keyed})
			if err == nil {
				w.rev = revs[0]
			}
			w.err = err
			close(w.done)
		}
		return
	}
	for i, w := range group {
		if err == nil {
			w.rev = revs[i]
		}
		w.err = err
		close(w.done)
	}
}

// groupContext is canceled when every writer's context is done.
func groupContext(group []*pendingWrite) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(group[0].ctx))
	left := atomic.Int32{}
	left.Store(int32(len(group)))
	stops := make([]func() bool, len(group))
	for i, w := range group {
		stops[i] = context.AfterFunc(w.ctx, func() {
			if left.Add(-1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}

// commit writes batches in one transaction, batch i at the revision after
// batch i-1's, and applies them to the index after it committed. It
// returns the revision of each. A group that needs no COPY goes to the
// database in one round trip when the index is at the database's head
// (commitPipelined), else in a transaction of its own round trips
// (commitTx).
func (s *Store) commit(ctx context.Context, batches [][]store.Op) ([]uint64, error) {
	return s.commitKeyed(ctx, batches, nil)
}

// commitKeyed is commit, given for some ops their inserts keyed already
// (keyed[k][i] for op i of batch k, where not nil; see PrepareBatch). Only
// inserts large enough for COPY are keyed ahead, and those go through
// commitTx.
func (s *Store) commitKeyed(ctx context.Context, batches [][]store.Op, keyed [][][]keyedFact) ([]uint64, error) {
	if revs, err, done := s.commitPipelined(ctx, batches); done {
		return revs, err
	}
	return s.commitTx(ctx, batches, keyed)
}

// pipelinePause is how long a store sends groups in transactions after
// a group sent in one round trip found that another store had committed.
const pipelinePause = time.Second

// headMovedSQL takes the next n revisions ($1) like commitTx's UPDATE,
// but fails (SQLSTATE 22P02, invalid_text_representation, the only error
// this statement raises by itself) when the head is not revision $2: the
// revisions queued after it in the same pipeline were numbered from $2,
// and the facts they delete were found in an index at $2. It also inserts
// the revisions' rows (one statement a group, not two).
//
// Neither $1 nor $2 is in an expression the planner could fold with a
// value (as in `'...' || $2`) or in a row estimate (generate_series($1,
// $2)): PostgreSQL then keeps one generic plan of the prepared statement
// instead of planning it again for each group (a custom plan, when it
// looks cheaper for the values, which it did for both of the two
// statements this replaces: about 100 and 18 µs of planning a group).
const headMovedSQL = `WITH h AS (UPDATE castellan_head SET revision = CASE WHEN revision = $2::bigint THEN revision + $1::bigint
	ELSE ('castellan: the head moved to revision ' || revision::text)::bigint END
	RETURNING revision),
r AS (INSERT INTO revisions (revision) SELECT generate_series(revision - $1::bigint + 1, revision) FROM h)
SELECT revision FROM h`

// commitPipelined commits batches like commitTx, in one round trip: the
// head's update, every statement of the group and the notification are
// sent together as one pgx batch, which PostgreSQL runs as one implicit
// transaction, committed at its end (Sync) or rolled back whole at the
// first error. The revisions are numbered from the index's revision,
// which the head's update checks: when another store committed meanwhile,
// nothing is committed and done is false (commitTx then writes the group,
// catching the index up first). done is false too, without a round trip,
// for a group with an insert large enough for COPY, or when the index
// lags a head the follower was notified of, or for pipelinePause after
// another store's commit was found that way. Otherwise done is true and
// err nil once the group committed (and was applied to the index), or
// the error that refused it (nothing committed, or, on a lost connection,
// as commitTx's COMMIT, unknown).
func (s *Store) commitPipelined(ctx context.Context, batches [][]store.Op) (revs []uint64, err error, done bool) {
	for _, ops := range batches {
		for _, op := range ops {
			if len(op.Insert) >= copyThreshold {
				return nil, nil, false
			}
		}
	}
	if time.Now().UnixNano() < s.pipelineAfter.Load() {
		return nil, nil, false
	}
	prev := s.index().Revision()
	if s.dbHead.Load() > prev {
		return nil, nil, false
	}
	first, last := int64(prev)+1, int64(prev)+int64(len(batches))
	b := &pgx.Batch{}
	b.Queue(headMovedSQL, len(batches), int64(prev))
	if err := s.queueWrites(ctx, b, first, batches, nil, nil, false); err != nil {
		return nil, err, true
	}
	b.Queue("SELECT pg_notify('"+channel+"', $1)", strconv.FormatInt(last, 10))
	// Until applied, the notification of these revisions is this
	// writer's: the follower skips it. (Should another store commit
	// first, its revisions are read back by commitTx, which follows.)
	s.committing.Store(uint64(last))
	defer s.committing.Store(0)
	br := s.pool.SendBatch(ctx, b)
	var head int64
	err = br.QueryRow().Scan(&head)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "22P02" && head == 0 {
			// Another store's revisions came first: nothing committed.
			// While other stores write too, groups go in transactions
			// (a failed batch also costs pgx its prepared statements).
			s.pipelineAfter.Store(time.Now().Add(pipelinePause).UnixNano())
			return nil, nil, false
		}
		return nil, err, true
	}
	if head != last {
		// Cannot happen: the update checked the head.
		return nil, fmt.Errorf("the head moved to revision %d, expected %d", head, last), true
	}
	s.noteHead(uint64(last))
	revs = make([]uint64, len(batches))
	for k := range batches {
		revs[k] = uint64(first) + uint64(k)
	}
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	switch cur := s.index().Revision(); {
	case cur == prev:
		// The index holds what the database held at prev, as it did when
		// the statements were made: apply the batches directly.
		for k, ops := range batches {
			if err := s.index().Apply(revs[k], ops); err != nil {
				s.log.Error().Err(err).Uint64("revision", revs[k]).Msg("applying own write to the index")
				return revs, nil, true
			}
		}
		s.broadcast()
	case cur < uint64(last):
		// The follower or a snapshot read part of the log meanwhile (and
		// failed before the end): read the rest.
		if err := s.catchUpLocked(ctx, s.pool); err != nil {
			s.log.Debug().Err(err).Msg("catching up after a pipelined write")
		}
	}
	// Else the follower read the batches back from the change log already.
	return revs, nil, true
}

// commitTx commits batches in one transaction: BEGIN, the head's update,
// the statements (a COPY, when there is one, in the middle), COMMIT. It
// first brings the index to the revision before the group's, through the
// transaction, which sees every earlier commit.
func (s *Store) commitTx(ctx context.Context, batches [][]store.Op, keyed [][][]keyedFact) ([]uint64, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.Background())
	var last int64
	if err := tx.QueryRow(ctx, "UPDATE castellan_head SET revision = revision + $1 RETURNING revision", len(batches)).Scan(&last); err != nil {
		return nil, err
	}
	first := last - int64(len(batches)) + 1
	// Holding the row lock: revisions up to last are committed already
	// (and read back below) or ours, whose notification the follower
	// can skip until they are applied.
	s.committing.Store(uint64(last))
	defer s.committing.Store(0)
	// Holding the row lock, take the index: the follower then cannot read
	// these batches back from the change log before we apply them ourselves.
	// (Lock order: row lock, then applyMu; the follower takes only applyMu.)
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	// Bring the index to first-1 now, through this transaction (which sees
	// every earlier commit and nothing of ours yet), so that after COMMIT
	// the batches can be applied to it directly, without another
	// connection: the index then holds what the database held at first-1,
	// so the result is the same as reading the batches back from the
	// change log.
	if s.index().Revision() < uint64(first-1) {
		if err := s.applyLogLocked(ctx, tx, first-1, -1); err != nil {
			return nil, err
		}
	}
	b := &pgx.Batch{}
	if err := s.queueWrites(ctx, b, first, batches, tx, keyed, true); err != nil {
		return nil, err
	}
	b.Queue("SELECT pg_notify('"+channel+"', $1)", strconv.FormatInt(last, 10))
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	s.noteHead(uint64(last))
	revs := make([]uint64, len(batches))
	for k, ops := range batches {
		revs[k] = uint64(first) + uint64(k)
		if err := s.index().Apply(revs[k], ops); err != nil {
			// Cannot happen: the index is at the revision before and
			// only we hold applyMu. The follower will read the batches
			// from the change log instead.
			s.log.Error().Err(err).Uint64("revision", revs[k]).Msg("applying own write to the index")
			return revs, nil
		}
	}
	s.broadcast()
	return revs, nil
}

// queueWrites queues into b the statements that write batches, batch k at
// revision first+k, and, with revisions, the rows of the revisions (else
// the caller inserts them: headMovedSQL). The index must hold
// what the database holds at revision first-1 (deletes by pattern find
// their facts' keys in it). An insert large enough for COPY is copied
// through tx, after sending what b holds so far (b is then a new, empty
// batch); tx is nil when the caller made sure no insert is (see
// commitPipelined). keyed gives ops' inserts keyed ahead (see
// commitKeyed), or is nil. The ops' inserts are left deduplicated, in the
// order the database stores them, for the index.
func (s *Store) queueWrites(ctx context.Context, b *pgx.Batch, first int64, batches [][]store.Op, tx pgx.Tx, keyed [][][]keyedFact, revisions bool) error {
	flush := func() error {
		if b.Len() == 0 {
			return nil
		}
		err := tx.SendBatch(ctx, b).Close()
		*b = pgx.Batch{}
		return err
	}
	windows := s.index().HasWindows()
	if !windows && insertsOnly(batches) {
		queueInserts(b, first, batches, revisions)
		return nil
	}
	// The facts inserted so far in this transaction, for deletes by a bound
	// argument (see deleteByKeysSQL); the index holds the others.
	var told []term.Fact
	// Whether an earlier statement of this transaction may have changed
	// the facts: until one has, the facts stored are the index's.
	touched := false
	for k, ops := range batches {
		rev := first + int64(k)
		for i, op := range ops {
			if !op.ExpiredBy.IsZero() {
				touched = true
				b.Queue(`WITH d AS (DELETE FROM facts WHERE valid_until <= $2 `+returnDeleted+`)`+logDeleted, rev, op.ExpiredBy)
			}
			for _, p := range op.Delete {
				if !storable(p.Predicate, p.Args) {
					continue // it matches no stored fact
				}
				touched = true
				sql, args := deleteSQL(rev, p)
				if !p.IsGround() {
					// The table has no index on the arguments or the
					// predicate: find the facts' keys in the index, unless
					// very many match and no id is bound (a scan is then
					// cheaper than that many key lookups).
					if keys, ok := s.matchingKeys(p, told, !boundID(p)); ok {
						sql, args = deleteByKeysSQL(rev, p, keys)
					}
				}
				b.Queue(sql, args...)
			}
			var facts []keyedFact
			if k < len(keyed) && i < len(keyed[k]) && keyed[k][i] != nil {
				facts = keyed[k][i]
			} else {
				facts = dedupe(op.Insert, len(op.Insert) >= copyThreshold)
			}
			// In the order the database stores them, for the index; a new
			// slice, since a prepared batch shares its facts with the caller.
			ordered := make([]term.Fact, 0, len(facts))
			for _, kf := range facts {
				ordered = append(ordered, kf.fact)
				windows = windows || !kf.fact.Valid.IsZero()
			}
			ops[i].Insert = ordered
			if k < len(batches)-1 || i < len(ops)-1 { // a later delete may match them
				told = append(told, ops[i].Insert...)
			}
			if windows && len(facts) > 0 {
				// A fact told again with another window replaces the
				// stored one: delete it first (logged), then insert it.
				sql, args := rewindowSQL(rev, facts)
				b.Queue(sql, args...)
				touched = true
			}
			switch {
			case len(facts) == 0:
			case len(facts) < copyThreshold:
				rows := make([]insertRow, len(facts))
				for j, kf := range facts {
					rows[j] = insertRow{rev, kf}
				}
				sql, args := insertSQL(rows)
				b.Queue(sql, args...)
			case tx == nil:
				return errors.New("an insert of a pipelined write needs COPY") // commitPipelined sends none
			default:
				if err := flush(); err != nil {
					return err
				}
				var known *index.Snapshot
				if !touched {
					known = s.index().Snapshot()
				}
				if err := copyInsert(ctx, tx, rev, facts, known); err != nil {
					return err
				}
			}
			touched = touched || len(facts) > 0
		}
		if revisions {
			b.Queue("INSERT INTO revisions (revision) VALUES ($1)", rev)
		}
	}
	return nil
}

// maxMergedFacts bounds the facts of the one INSERT of queueInserts: 8
// parameters a fact, and a statement takes at most 65,535.
const maxMergedFacts = 4096

// insertsOnly reports whether batches only insert facts without a
// window, fewer than copyThreshold an op and at most maxMergedFacts in
// all.
func insertsOnly(batches [][]store.Op) bool {
	n := 0
	for _, ops := range batches {
		for _, op := range ops {
			n += len(op.Insert)
			if !op.ExpiredBy.IsZero() || len(op.Delete) > 0 || len(op.Insert) >= copyThreshold || n > maxMergedFacts {
				return false
			}
			for _, f := range op.Insert {
				if !f.Valid.IsZero() {
					return false
				}
			}
		}
	}
	return true
}

// queueInserts queues the statements of batches that only insert facts
// without a window (see insertsOnly), when no stored fact has one: a
// single INSERT for the whole group, each fact at its batch's revision
// (the first telling of a fact in the group stores it, as statement after
// statement would: without windows, telling a stored fact again changes
// nothing), and, with revisions, the rows of the revisions. The ops'
// inserts are left deduplicated, as queueWrites leaves them.
func queueInserts(b *pgx.Batch, first int64, batches [][]store.Op, revisions bool) {
	n := 0
	for _, ops := range batches {
		for _, op := range ops {
			n += len(op.Insert)
		}
	}
	rows := make([]insertRow, 0, n)
	// The keys stored so far, when the group tells more than one fact: in
	// a map for many, else looked up in rows (a group of single-fact
	// tells is of a few dozen at most).
	var seen map[[16]byte]bool
	if n > 64 {
		seen = make(map[[16]byte]bool, n)
	}
	told := func(key [16]byte) bool {
		if seen != nil {
			if seen[key] {
				return true
			}
			seen[key] = true
			return false
		}
		for _, r := range rows {
			if r.kf.key == key {
				return true
			}
		}
		return false
	}
	for k, ops := range batches {
		rev := first + int64(k)
		for i, op := range ops {
			facts := dedupe(op.Insert, false)
			// A new slice: the caller's facts are left as they were.
			ordered := make([]term.Fact, 0, len(facts))
			for _, kf := range facts {
				ordered = append(ordered, kf.fact)
				if n > 1 && told(kf.key) {
					continue
				}
				rows = append(rows, insertRow{rev, kf})
			}
			ops[i].Insert = ordered
		}
	}
	if len(rows) > 0 {
		sql, args := insertSQL(rows)
		b.Queue(sql, args...)
	}
	if revisions {
		b.Queue("INSERT INTO revisions (revision) SELECT generate_series($1::bigint, $2::bigint)", first, first+int64(len(batches))-1)
	}
}

// isText reports whether s can be sent as PostgreSQL text: valid UTF-8
// without NUL (anything else fails the statement with SQLSTATE 22021).
func isText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// storable reports whether every string of a pattern can be stored in a
// PostgreSQL text column; store.Prepare refuses facts where one cannot.
func storable(pred string, args []term.Value) bool {
	if !isText(pred) {
		return false
	}
	for _, a := range args {
		if !isText(a.Type) || !isText(a.ID) {
			return false
		}
	}
	return true
}

// keyedFact is a fact with its fact_key.
type keyedFact struct {
	key  [16]byte
	fact term.Fact
}

// dedupe keys facts and drops repeated ones, keeping the place of the first
// and the window of the last (as the index does: the last telling wins). With
// sorted, it orders them by key instead: inserting in key order into the
// unique index is much faster than in random order.
func dedupe(fs []term.Fact, sorted bool) []keyedFact {
	ks := make([]keyedFact, 0, len(fs))
	if sorted {
		ks = ks[:len(fs)]
		// The keys of a large batch are hashed on two goroutines.
		half := len(fs) / 2
		if len(fs) < 4096 {
			half = 0
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			for i, f := range fs[:half] {
				ks[i] = keyedFact{factKey(f.Predicate, f.Args), f}
			}
		})
		for i, f := range fs[half:] {
			ks[half+i] = keyedFact{factKey(f.Predicate, f.Args), f}
		}
		wg.Wait()
		// Sorted through small entries (a keyedFact is large to move):
		// the key's first 8 bytes and the fact's place, which also orders
		// the facts of one key as they were told.
		type entry struct {
			k0 uint64
			i  int32
		}
		order := make([]entry, len(ks))
		for i := range ks {
			order[i] = entry{binary.BigEndian.Uint64(ks[i].key[:8]), int32(i)}
		}
		slices.SortFunc(order, func(a, b entry) int {
			if a.k0 != b.k0 {
				return cmp.Compare(a.k0, b.k0)
			}
			if c := bytes.Compare(ks[a.i].key[8:], ks[b.i].key[8:]); c != 0 {
				return c
			}
			return cmp.Compare(a.i, b.i)
		})
		out := make([]keyedFact, 0, len(ks))
		for _, e := range order {
			kf := &ks[e.i]
			if len(out) > 0 && kf.key == out[len(out)-1].key {
				out[len(out)-1].fact.Valid = kf.fact.Valid // the last told wins
				continue
			}
			out = append(out, *kf)
		}
		return out
	}
	if len(fs) <= 1 {
		// A single fact (a tell): nothing to drop, no map.
		for _, f := range fs {
			ks = append(ks, keyedFact{factKey(f.Predicate, f.Args), f})
		}
		return ks
	}
	seen := make(map[[16]byte]int, len(fs))
	for _, f := range fs {
		k := factKey(f.Predicate, f.Args)
		if i, ok := seen[k]; ok {
			ks[i].fact.Valid = f.Valid
			continue
		}
		seen[k] = len(ks)
		ks = append(ks, keyedFact{k, f})
	}
	return ks
}

// factKey is the fact_key of a fact (a uuid column, migration 12): the
// first 16 bytes of the SHA-256 of its canonical encoding: predicate,
// arity, then each argument's type and id, each length-prefixed.
func factKey(pred string, args []term.Value) [16]byte {
	k := factKeySHA256(pred, args)
	return [16]byte(k[:16])
}

// factKeySHA256 is the whole SHA-256 of the canonical encoding of a fact
// (the fact_key of schemas before 12).
func factKeySHA256(pred string, args []term.Value) [32]byte {
	// Encoded into one buffer (on the stack for most facts) and hashed at
	// once: 139 ns for a has_role fact, against 176 ns writing a hash.Hash
	// string by string (every fact of an import is keyed).
	var buf [256]byte
	b := binary.AppendUvarint(buf[:0], uint64(len(pred)))
	b = append(b, pred...)
	b = binary.AppendUvarint(b, uint64(len(args)))
	for _, a := range args {
		b = binary.AppendUvarint(b, uint64(len(a.Type)))
		b = append(b, a.Type...)
		b = binary.AppendUvarint(b, uint64(len(a.ID)))
		b = append(b, a.ID...)
	}
	return sha256.Sum256(b)
}

func split(args []term.Value) (types, ids []string) {
	types, ids = make([]string, len(args)), make([]string, len(args))
	for i, a := range args {
		types[i], ids[i] = a.Type, a.ID
	}
	return types, ids
}

// logInserted is the tail of the statements that store facts: it appends
// the rows inserted by CTE i, each at its revision, to the change log.
const logInserted = ` ON CONFLICT (fact_key) DO NOTHING RETURNING id, revision, predicate, arg_types, arg_ids, valid_from, valid_until)
INSERT INTO changes (revision, op, predicate, arg_types, arg_ids, valid_from, valid_until)
SELECT revision, 1, predicate, arg_types, arg_ids, valid_from, valid_until FROM i ORDER BY id`

// returnDeleted is what a DELETE FROM facts in CTE d returns for
// logDeleted.
const returnDeleted = `RETURNING id, revision, predicate, arg_types, arg_ids, valid_from, valid_until`

// logDeleted is the tail of the statements that delete facts (CTE d): it
// logs each deleted fact (op 2), and, for a fact a bulk insert still in the
// change log stored, the fact as that revision inserted it (op 4, see
// migration 11), since its facts row, from which readers of the log take
// the bulk insert's facts, is gone.
const logDeleted = `, b AS (INSERT INTO changes (revision, op, bulk_id, fact_id, predicate, arg_types, arg_ids, valid_from, valid_until)
SELECT c.revision, 4, c.id, d.id, d.predicate, d.arg_types, d.arg_ids, d.valid_from, d.valid_until
FROM d JOIN changes c ON c.revision = d.revision AND c.op = 3 AND d.id BETWEEN c.first_id AND c.last_id)
INSERT INTO changes (revision, op, predicate, arg_types, arg_ids)
SELECT $1, 2, predicate, arg_types, arg_ids FROM d ORDER BY id`

// windowBounds returns the bounds of w as SQL values: nil (NULL) where
// it is unbounded.
func windowBounds(w term.Window) (from, until *time.Time) {
	if !w.From.IsZero() {
		from = &w.From
	}
	if !w.Until.IsZero() {
		until = &w.Until
	}
	return from, until
}

// rewindowSQL deletes (and logs) the stored facts among facts whose stored
// window differs from the one they are told with now.
func rewindowSQL(rev int64, facts []keyedFact) (string, []any) {
	keys := make([][16]byte, len(facts))
	froms, untils := make([]*time.Time, len(facts)), make([]*time.Time, len(facts))
	for i, kf := range facts {
		keys[i] = kf.key
		froms[i], untils[i] = windowBounds(kf.fact.Valid)
	}
	return `WITH v (fact_key, vf, vu) AS (SELECT * FROM unnest($2::uuid[], $3::timestamptz[], $4::timestamptz[])),
d AS (DELETE FROM facts f USING v WHERE f.fact_key = v.fact_key
	AND (f.valid_from IS DISTINCT FROM v.vf OR f.valid_until IS DISTINCT FROM v.vu)
	RETURNING f.id, f.revision, f.predicate, f.arg_types, f.arg_ids, f.valid_from, f.valid_until)` + logDeleted, []any{rev, keys, froms, untils}
}

// insertRow is a fact to insert and the revision that inserts it.
type insertRow struct {
	rev int64
	kf  keyedFact
}

// insertSQL stores facts with one INSERT ... VALUES, each at its
// revision, in the order given.
func insertSQL(rows []insertRow) (string, []any) {
	args := make([]any, 0, 8*len(rows))
	for _, r := range rows {
		f := r.kf.fact
		types, ids := split(f.Args)
		from, until := windowBounds(f.Valid)
		args = append(args, r.kf.key, f.Predicate, len(f.Args), types, ids, from, until, r.rev)
	}
	return insertText(len(rows)), args
}

// insertTexts holds the text of insertSQL's statement for n rows, for n
// up to maxCachedInsert, made once: a group of tells is one such INSERT,
// and its text, the same for every group of its size, used to be formatted
// row by row for each.
var insertTexts [maxCachedInsert + 1]atomic.Pointer[string]

// maxCachedInsert bounds the row counts whose insert text is kept (about
// 150 bytes a row).
const maxCachedInsert = 64

// insertText returns the text of insertSQL's statement for n rows.
func insertText(n int) string {
	if n <= maxCachedInsert {
		if p := insertTexts[n].Load(); p != nil {
			return *p
		}
	}
	var sb strings.Builder
	sb.WriteString("WITH v (fact_key, predicate, arity, arg_types, arg_ids, valid_from, valid_until, revision) AS (VALUES ")
	for i := range n {
		if i > 0 {
			sb.WriteString(", ")
		}
		k := 8 * i
		fmt.Fprintf(&sb, "($%d::uuid, $%d::text, $%d::int, $%d::text[], $%d::text[], $%d::timestamptz, $%d::timestamptz, $%d::bigint)", k+1, k+2, k+3, k+4, k+5, k+6, k+7, k+8)
	}
	sb.WriteString("), i AS (INSERT INTO facts (fact_key, predicate, arity, arg_types, arg_ids, revision, valid_from, valid_until) SELECT fact_key, predicate, arity, arg_types, arg_ids, revision, valid_from, valid_until FROM v")
	sb.WriteString(logInserted)
	text := sb.String()
	if n <= maxCachedInsert {
		insertTexts[n].Store(&text)
	}
	return text
}

// copyInsert stores facts with COPY, straight into facts and changes. It
// first finds which of them are stored already and copies only the
// others: in known, when the transaction has changed no fact before (known
// is then the index at the revision before, which holds what the database
// holds), else by asking the database (which sees this transaction's
// earlier statements). No other writer can insert meanwhile, since every
// writer holds the castellan_head row lock. A fact inserted behind
// Castellan's back would make COPY fail on the primary key, never store it
// twice.
func copyInsert(ctx context.Context, tx pgx.Tx, rev int64, facts []keyedFact, known *index.Snapshot) error {
	if known != nil {
		// Checked while the rows are encoded and sent (see copyFacts).
		return copyFacts(ctx, tx, rev, facts, func(kf *keyedFact) bool { return holds(known, kf.fact) })
	}
	keys := make([][16]byte, len(facts))
	for i := range facts {
		keys[i] = facts[i].key
	}
	rows, err := tx.Query(ctx, "SELECT fact_key FROM facts WHERE fact_key = ANY($1)", keys)
	if err != nil {
		return err
	}
	stored := make(map[[16]byte]bool)
	var k [16]byte
	_, err = pgx.ForEachRow(rows, []any{&k}, func() error {
		stored[k] = true
		return nil
	})
	if err != nil {
		return err
	}
	if len(stored) == len(facts) {
		return nil
	}
	return copyFacts(ctx, tx, rev, facts, func(kf *keyedFact) bool { return stored[kf.key] })
}

// deleteSQL removes the facts matching p and logs them.
func deleteSQL(rev int64, p term.Pattern) (string, []any) {
	args := []any{rev}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	var where []string
	if p.IsGround() {
		k := factKey(p.Predicate, p.Args)
		where = append(where, "fact_key = "+arg(k))
	} else {
		if p.Predicate != "" {
			where = append(where, "predicate = "+arg(p.Predicate))
		}
		if p.AnyArity {
			if len(p.Args) > 0 {
				where = append(where, "arity >= "+arg(len(p.Args)))
			}
		} else {
			where = append(where, "arity = "+arg(len(p.Args)))
		}
		for i, a := range p.Args {
			if a.Type != "" {
				where = append(where, fmt.Sprintf("arg_types[%d] = %s", i+1, arg(a.Type)))
			}
			if a.ID != "" {
				where = append(where, fmt.Sprintf("arg_ids[%d] = %s", i+1, arg(a.ID)))
			}
		}
	}
	cond := "true"
	if len(where) > 0 {
		cond = strings.Join(where, " AND ")
	}
	return `WITH d AS (DELETE FROM facts WHERE ` + cond + ` ` + returnDeleted + `)` + logDeleted, args
}

// boundID reports whether p is a pattern, not a ground fact, that binds an
// argument's id.
func boundID(p term.Pattern) bool {
	if p.IsGround() {
		return false
	}
	for _, a := range p.Args {
		if a.ID != "" {
			return true
		}
	}
	return false
}

// maxScanKeys is the number of matching facts past which a delete by a
// pattern that binds no id scans the facts table rather than looking up
// each fact's key.
var maxScanKeys = 50_000

// matchingKeys returns the fact_key of every fact matching p among the
// facts stored before this transaction (the index, which commit brought to
// the revision before it) and told, the facts inserted earlier in it. A key
// may name a fact an earlier delete of the transaction removed: deleting it
// again matches nothing. With bounded, it gives up (ok false) past
// maxScanKeys keys. Callers hold applyMu.
func (s *Store) matchingKeys(p term.Pattern, told []term.Fact, bounded bool) (keys [][16]byte, ok bool) {
	add := func(f term.Fact) bool {
		k := factKey(f.Predicate, f.Args)
		keys = append(keys, k)
		return !bounded || len(keys) <= maxScanKeys
	}
	for f := range s.index().Snapshot().Facts(p) {
		if !add(f) {
			return nil, false
		}
	}
	for _, f := range told {
		if p.Matches(f) && !add(f) {
			return nil, false
		}
	}
	return keys, true
}

// deleteByKeysSQL removes the facts matching p among those with the given
// keys, and logs them.
func deleteByKeysSQL(rev int64, p term.Pattern, keys [][16]byte) (string, []any) {
	sql, args := deleteSQL(rev, p)
	args = append(args, keys)
	return strings.Replace(sql, "DELETE FROM facts WHERE ", fmt.Sprintf("DELETE FROM facts WHERE fact_key = ANY($%d) AND ", len(args)), 1), args
}

// holds reports whether snap holds the fact f (whatever its window).
func holds(snap *index.Snapshot, f term.Fact) bool {
	found := false
	snap.Match(f.Predicate, f.Args, func([]term.Value) bool {
		found = true
		return false
	})
	return found
}
