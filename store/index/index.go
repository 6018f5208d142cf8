package index

import (
	"cmp"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
)

// live marks a record that no revision has removed yet.
const live = math.MaxUint64

// defaultCompactMinDead is the default of Index.compactMinDead.
const defaultCompactMinDead = 1024

// Index is the indexed fact set: the stored facts of one store, interned
// and indexed for Match, under multi-version concurrency control.
//
// Values are interned to uint32 ids once. Facts live in tables, one per
// (predicate, arity); a table keeps the argument ids of its records in one
// flat slice and one posting list per (argument position, value id), so
// Match walks the shortest posting list among the bound positions.
//
// Each record carries the revision that added it and the one that removed
// it; a snapshot at revision r sees the records with added <= r < removed.
// Writers never change what an existing snapshot sees, so readers proceed
// while a batch is being applied (the batch becomes visible at once when
// it commits). Dead records are dropped from a table (compaction) once no
// live snapshot can see them; snapshots are tracked with runtime.AddCleanup,
// so a snapshot that is no longer referenced stops holding records back
// after the next garbage collection. An interned value is freed once no
// record (live, or dead but not compacted yet) and no retained change uses
// it (see interner).
//
// One writer at a time: Begin blocks until the previous Tx committed.
type Index struct {
	writeMu sync.Mutex // held by the one open Tx

	mu    sync.RWMutex // guards everything below
	rev   uint64
	stats store.Stats
	interner
	tables  map[tableKey]*table
	ordered []*table // sorted by predicate, then arity
	byID    []*table // by table.id

	keepLog bool
	log     changeLog

	matchers sync.Pool                // of *matcher, see Snapshot.Match
	latest   atomic.Pointer[Snapshot] // the snapshot at rev, shared; nil after a commit

	// windows is set once a fact with a validity window was stored: until
	// then a snapshot is the same at every instant (Snapshot.At).
	windows bool

	// A table is compacted when it holds more than compactMinDead dead
	// records and they are more than a quarter of it.
	compactMinDead int

	snapMu sync.Mutex
	snaps  map[uint64]int // revision -> number of reachable snapshots

	// first is the revision of the first commit, compacted the latest
	// horizon below which a compaction dropped records: SnapshotAt reads
	// the revisions from max(first, compacted) to rev exactly.
	first, compacted uint64
}

type tableKey struct {
	pred  string
	arity int
}

// Records are kept in chunks of recChunk (the first chunk grows up to it),
// so a table grows without copying its records.
const (
	recShift = 12
	recChunk = 1 << recShift
)

// table holds the records of one (predicate, arity).
//
// The argument ids of record r are arity ids in the chunk args[r>>recShift];
// a chunk is allocated at its full length and never reallocated once
// records are in it (the first one is replaced, with a new args slice, as
// it grows), so a reader that copied args reads the records it saw. A
// record's revisions are kept without a word per record: records are
// appended in revision order, so adds (the first record of each revision
// that added some) gives the records a revision sees as a prefix, and the
// removed ones are a bit each in dead with their revision in removedAt.
type table struct {
	id        uint32 // index in Index.byID
	pred      string
	arity     int
	n         uint32     // records
	args      [][]uint32 // chunks of arity ids per record
	adds      []addRun   // ascending in both fields
	dead      []uint64   // bit r: record r was removed
	removedAt map[uint32]uint64
	post      []postings // per position: value id -> record numbers, ascending
	live      liveSet    // the live records, by argument ids
	// from and until hold the validity window of each record (see
	// term.Window.Nanos); both nil while no record of the table has one.
	from, until []int64
	ndead       int
	// lastRemoved is the latest revision that removed a record of the
	// table (0: none): a snapshot at that revision or after sees no dead
	// record.
	lastRemoved uint64
	// retryAt is the dead count at which compaction is tried again after
	// it could not drop every dead record (a snapshot still saw them).
	retryAt int
}

// addRun says that the records from first on were added at revision rev
// (up to the next run's first).
type addRun struct {
	first uint32
	rev   uint64
}

// ids returns the argument ids of record r. They must not be modified.
func (t *table) ids(r uint32) []uint32 {
	o := int(r&(recChunk-1)) * t.arity
	return t.args[r>>recShift][o : o+t.arity : o+t.arity]
}

// limit returns the number of records added at or before rev: a
// revision sees records below it only.
func (t *table) limit(rev uint64) uint32 {
	if n := len(t.adds); n == 0 || t.adds[n-1].rev <= rev {
		return t.n // every record: the common case of the latest revision
	}
	i := sort.Search(len(t.adds), func(i int) bool { return t.adds[i].rev > rev })
	if i == len(t.adds) {
		return t.n
	}
	return t.adds[i].first
}

// isDead reports whether record r was removed.
func (t *table) isDead(r uint32) bool { return t.dead[r>>6]&(1<<(r&63)) != 0 }

// removed returns the revision that removed record r, live if none.
func (t *table) removed(r uint32) uint64 {
	if !t.isDead(r) {
		return live
	}
	return t.removedAt[r]
}

// seen reports whether record r, below lim = t.limit(rev), exists at
// revision rev.
func (t *table) seen(r, lim uint32, rev uint64) bool {
	return r < lim && (!t.isDead(r) || rev < t.removedAt[r])
}

// appendRecord appends a live record with argument ids ids, added at
// revision rev, and returns its number.
func (t *table) appendRecord(ids []uint32, rev uint64) uint32 {
	r := t.n
	c := int(r >> recShift)
	if c == len(t.args) {
		size := recChunk
		if c == 0 {
			size = 16
		}
		t.args = append(t.args, make([]uint32, size*t.arity))
	} else if c == 0 && t.arity > 0 && int(r)*t.arity == len(t.args[0]) {
		// The first chunk is full but smaller than recChunk: a larger
		// copy, in a new list (readers may hold the old one).
		bigger := make([]uint32, min(4*int(r), recChunk)*t.arity)
		copy(bigger, t.args[0])
		t.args = [][]uint32{bigger}
	}
	o := int(r&(recChunk-1)) * t.arity
	copy(t.args[c][o:o+t.arity], ids)
	if len(t.adds) == 0 || t.adds[len(t.adds)-1].rev != rev {
		t.adds = append(t.adds, addRun{first: r, rev: rev})
	}
	if int(r>>6) == len(t.dead) {
		t.dead = append(t.dead, 0)
	}
	t.n++
	return r
}

// setRemoved marks record r removed at revision rev. removedAt is made
// with the table (readers may hold it, see recordView).
func (t *table) setRemoved(r uint32, rev uint64) {
	t.dead[r>>6] |= 1 << (r & 63)
	t.removedAt[r] = rev
	t.lastRemoved = max(t.lastRemoved, rev)
}

// Option configures an Index.
type Option func(*Index)

// WithChangeLog makes the index keep its change log: every insert and
// delete that changed the fact set, in commit order, for Changes. Without
// it Changes returns nothing (store/postgres keeps its log in PostgreSQL).
func WithChangeLog() Option {
	return func(x *Index) { x.keepLog = true }
}

// New returns an empty index at revision 0.
func New(opts ...Option) *Index {
	x := &Index{
		interner: newInterner(),
		tables:   make(map[tableKey]*table),
		snaps:    make(map[uint64]int),

		compactMinDead: defaultCompactMinDead,
	}
	for _, o := range opts {
		o(x)
	}
	return x
}

// Revision returns the revision of the last committed Tx (0 for a new
// index).
func (x *Index) Revision() uint64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.rev
}

// Stats counts the facts at the latest revision.
func (x *Index) Stats() store.Stats {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.stats
}

// Snapshot returns a read view at the latest committed revision; it stays
// readable and unchanged however the index changes later. Callers asking
// between two commits share one Snapshot. It never fails and does no I/O.
func (x *Index) Snapshot() *Snapshot {
	if s := x.latest.Load(); s != nil {
		return s
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	s := &Snapshot{x: x, rev: x.rev, stats: x.stats, windows: x.windows, vals: x.reader(), gen: generations.Add(1)}
	// Under the read lock no commit can happen, so s is still the latest.
	if !x.latest.CompareAndSwap(nil, s) {
		return x.latest.Load()
	}
	x.snapMu.Lock()
	x.snaps[s.rev]++
	x.snapMu.Unlock()
	runtime.AddCleanup(s, x.releaseSnapshot, s.rev)
	return s
}

// SnapshotAt returns a read view at revision rev, which must not be after
// the latest commit: the view an earlier Snapshot at rev had, as long as
// no compaction dropped a record that rev sees (and the index held rev:
// an index loaded at revision n reads nothing before n). Else it returns
// an error wrapping store.ErrRevisionGone. The snapshot holds compaction back
// while it is reachable, as Snapshot's do. Its Stats are those of the
// latest revision.
func (x *Index) SnapshotAt(rev uint64) (*Snapshot, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	switch {
	case rev == x.rev:
		if s := x.latest.Load(); s != nil {
			return s, nil
		}
	case rev > x.rev:
		return nil, fmt.Errorf("index: revision %d is after the latest, %d", rev, x.rev)
	case rev < x.first || rev < x.compacted:
		return nil, fmt.Errorf("revision %d (readable: %d to %d): %w", rev, max(x.first, x.compacted), x.rev, store.ErrRevisionGone)
	}
	// Under the read lock no commit, so no compaction, can happen: the
	// snapshot is registered before a compaction could drop its records.
	s := &Snapshot{x: x, rev: rev, stats: x.stats, windows: x.windows, vals: x.reader(), gen: generations.Add(1)}
	x.snapMu.Lock()
	x.snaps[s.rev]++
	x.snapMu.Unlock()
	runtime.AddCleanup(s, x.releaseSnapshot, s.rev)
	return s, nil
}

func (x *Index) releaseSnapshot(rev uint64) {
	x.snapMu.Lock()
	if x.snaps[rev]--; x.snaps[rev] <= 0 {
		delete(x.snaps, rev)
	}
	x.snapMu.Unlock()
}

// horizon returns the oldest revision a reachable snapshot may read.
func (x *Index) horizon() uint64 {
	h := x.rev
	x.snapMu.Lock()
	for r := range x.snaps {
		h = min(h, r)
	}
	x.snapMu.Unlock()
	return h
}

// Tx applies the changes of one revision. Its changes become visible all
// at once when Commit returns. A Tx must be committed; it cannot be
// rolled back (validate before you begin).
type Tx struct {
	x       *Index
	rev     uint64
	delta   store.Stats
	touched map[*table]bool
	buf     []uint32
	last    *table // the table of the last insert
	// The value last interned at each argument position, and its id:
	// consecutive facts often share values. Valid while the lock is held
	// (inserts only add references, so no id is freed meanwhile); cleared
	// when it is taken again.
	recent []recentVal
}

type recentVal struct {
	v  term.Value
	id uint32
}

// Begin starts applying revision rev, which must be greater than the
// index's revision (else it returns an error and no Tx). It waits for the
// Tx before it to commit, and the caller must Commit the Tx it returns.
func (x *Index) Begin(rev uint64) (*Tx, error) {
	x.writeMu.Lock()
	x.mu.RLock()
	cur := x.rev
	x.mu.RUnlock()
	if rev <= cur {
		x.writeMu.Unlock()
		return nil, fmt.Errorf("index: revision %d is not after %d", rev, cur)
	}
	return &Tx{x: x, rev: rev, touched: make(map[*table]bool)}, nil
}

// beginNext starts a Tx for the revision after the current one.
func (x *Index) beginNext() *Tx {
	x.writeMu.Lock()
	x.mu.RLock()
	rev := x.rev + 1
	x.mu.RUnlock()
	return &Tx{x: x, rev: rev, touched: make(map[*table]bool)}
}

// Apply applies ops (normalized facts, see store.Prepare) as revision rev
// in one Tx: each op's deletes, then its inserts, op after op. It fails,
// changing nothing, when rev is not after the index's revision.
func (x *Index) Apply(rev uint64, ops []store.Op) error {
	tx, err := x.Begin(rev)
	if err != nil {
		return err
	}
	tx.apply(ops)
	return nil
}

// ApplyNext applies ops like Apply as the revision after the index's
// revision, and returns that revision. Concurrent callers get consecutive
// revisions.
func (x *Index) ApplyNext(ops []store.Op) uint64 {
	tx := x.beginNext()
	rev := tx.rev
	tx.apply(ops)
	return rev
}

// apply applies ops and commits.
func (tx *Tx) apply(ops []store.Op) {
	for _, op := range ops {
		if !op.ExpiredBy.IsZero() {
			tx.ExpireBefore(op.ExpiredBy.UnixNano())
		}
		for _, p := range op.Delete {
			tx.Delete(p)
		}
		tx.InsertAll(op.Insert)
	}
	tx.Commit()
}

// insertRun is how many facts InsertAll inserts under one hold of the
// lock: readers wait for at most one run.
const insertRun = 1024

// postRun is the posting-list work of a run of inserts, handed to a second
// goroutine (see InsertAll): the records added, each with its table and
// argument ids.
type postRun struct {
	tabs []*table
	recs []uint32
	ids  []uint32 // the arguments of each record, back to back
}

// apply adds the run's records to their tables' posting lists.
func (pr *postRun) apply() {
	o := 0
	for k, t := range pr.tabs {
		r := pr.recs[k]
		for i, id := range pr.ids[o : o+t.arity] {
			t.post[i].add(id, r)
		}
		o += t.arity
	}
}

func (pr *postRun) reset() {
	pr.tabs, pr.recs, pr.ids = pr.tabs[:0], pr.recs[:0], pr.ids[:0]
}

// InsertAll inserts facts like Insert, one after another, and returns how
// many were added. It takes the index's lock once per run of facts rather
// than once per fact.
//
// A long list is inserted by two goroutines: while this one interns a
// run's values, checks them against the live set and appends its records,
// another adds the previous run's records to the posting lists, which
// nothing of the first touches. Both work while this goroutine holds the
// lock, so readers never see either half-way; between two holds the
// posting lists lack the records of the run just appended, which belong to
// the revision being written, not visible to any snapshot yet (and the
// last run's are added before InsertAll returns).
func (tx *Tx) InsertAll(facts []term.Fact) int {
	x := tx.x
	if len(facts) < 2*insertRun {
		added := 0
		for len(facts) > 0 {
			n := min(len(facts), insertRun)
			x.mu.Lock()
			clear(tx.recent)
			for _, f := range facts[:n] {
				if tx.insert(f, nil) {
					added++
				}
			}
			x.mu.Unlock()
			facts = facts[n:]
		}
		return added
	}
	jobs := make(chan *postRun)
	done := make(chan struct{})
	go func() {
		for pr := range jobs {
			pr.apply()
			done <- struct{}{}
		}
	}()
	defer close(jobs)
	var bufs [2]postRun
	var prev *postRun // the run whose postings are still to add
	added := 0
	for k := 0; len(facts) > 0; k++ {
		n := min(len(facts), insertRun)
		cur := &bufs[k%2]
		cur.reset()
		x.mu.Lock()
		if prev != nil {
			jobs <- prev
		}
		clear(tx.recent)
		for _, f := range facts[:n] {
			if tx.insert(f, cur) {
				added++
			}
		}
		if prev != nil {
			<-done
		}
		x.mu.Unlock()
		prev = cur
		facts = facts[n:]
	}
	x.mu.Lock()
	prev.apply()
	x.mu.Unlock()
	return added
}

// Insert stores f (which must be normalized, see term.Fact.Normalize)
// unless it is already stored, and reports whether it was added. The index
// keeps no reference to f or its Args.
func (tx *Tx) Insert(f term.Fact) bool {
	tx.x.mu.Lock()
	defer tx.x.mu.Unlock()
	clear(tx.recent)
	return tx.insert(f, nil)
}

// insert is Insert under the lock. With pr, the new record's posting-list
// entries are left to pr (see InsertAll).
func (tx *Tx) insert(f term.Fact, pr *postRun) bool {
	x := tx.x
	t := tx.last
	if t == nil || t.arity != len(f.Args) || t.pred != f.Predicate {
		t = x.table(f.Predicate, len(f.Args))
		tx.last = t
	}
	ids := tx.buf[:0]
	if len(tx.recent) < len(f.Args) {
		tx.recent = make([]recentVal, len(f.Args))
	}
	for i, a := range f.Args {
		c := &tx.recent[i]
		if c.id == 0 || c.v != a {
			c.v, c.id = a, x.intern(a)
		}
		ids = append(ids, c.id)
	}
	tx.buf = ids
	from, until := f.Valid.Nanos()
	h := hashIDs(ids)
	if i, ok := t.slot(ids, h); ok {
		old := recOf(t.live.slots[i])
		if t.window(old) == [2]int64{from, until} {
			return false
		}
		// Told again with another window: the new window replaces the old
		// one (logged as a delete and an insert).
		tx.kill(t, old)
	}
	r := t.appendRecord(ids, tx.rev)
	if t.until != nil || from != math.MinInt64 || until != math.MaxInt64 {
		if t.until == nil {
			t.from, t.until = make([]int64, r, t.n), make([]int64, r, t.n)
			for i := range r {
				t.from[i], t.until[i] = math.MinInt64, math.MaxInt64
			}
			x.windows = true
		}
		t.from, t.until = append(t.from, from), append(t.until, until)
	}
	if pr != nil {
		pr.tabs = append(pr.tabs, t)
		pr.recs = append(pr.recs, r)
		pr.ids = append(pr.ids, ids...)
	} else {
		for i, id := range ids {
			t.post[i].add(id, r)
		}
	}
	ids = t.ids(r)
	t.setLive(h, r)
	for _, id := range ids {
		x.ref(id)
	}
	tx.delta = tx.delta.Add(store.StatsOf(t.pred, 1))
	x.record(tx.rev, t, r, store.OpInsert)
	return true
}

// window returns the validity window of record r of t, as Nanos.
func (t *table) window(r uint32) [2]int64 {
	if t.until == nil {
		return [2]int64{math.MinInt64, math.MaxInt64}
	}
	return [2]int64{t.from[r], t.until[r]}
}

// ExpireBefore removes every live fact whose window ended at or before
// now (nanoseconds since 1970) and returns how many.
func (tx *Tx) ExpireBefore(now int64) int {
	x := tx.x
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.eachExpired(now, tx.kill)
}

// CountExpired returns how many facts at the latest revision have a
// window that ended at or before now (nanoseconds since 1970).
func (x *Index) CountExpired(now int64) int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.eachExpired(now, func(*table, uint32) {})
}

// eachExpired calls fn with every live record whose window ended at or
// before now and returns how many there were. The caller holds x.mu.
func (x *Index) eachExpired(now int64, fn func(t *table, r uint32)) int {
	n := 0
	for _, t := range x.ordered {
		if t.until == nil {
			continue
		}
		for r := range t.n {
			if !t.isDead(r) && t.until[r] <= now {
				fn(t, r)
				n++
			}
		}
	}
	return n
}

// HasWindows reports whether a fact with a validity window was ever
// stored in the index.
func (x *Index) HasWindows() bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.windows
}

// Delete removes every stored fact matching p (see term.Pattern.Matches)
// and returns how many.
func (tx *Tx) Delete(p term.Pattern) int {
	x := tx.x
	x.mu.Lock()
	defer x.mu.Unlock()
	if p.IsGround() {
		return tx.deleteGround(p)
	}
	n := 0
	x.eachMatching(p, isLive, func(t *table, r uint32) {
		tx.kill(t, r)
		n++
	})
	return n
}

// isLive reports whether record r of t has not been removed.
func isLive(t *table, r uint32) bool { return !t.isDead(r) }

// deleteGround removes the one fact p names. Callers hold mu.
func (tx *Tx) deleteGround(p term.Pattern) int {
	x := tx.x
	t := x.tables[tableKey{p.Predicate, len(p.Args)}]
	if t == nil {
		return 0
	}
	ids := tx.buf[:0]
	for _, a := range p.Args {
		id, ok := x.lookup(a)
		if !ok {
			return 0
		}
		ids = append(ids, id)
	}
	tx.buf = ids
	r, ok := t.find(ids)
	if !ok {
		return 0
	}
	tx.kill(t, r)
	return 1
}

// kill marks live record r of t removed at the Tx's revision.
func (tx *Tx) kill(t *table, r uint32) {
	ids := t.ids(r)
	t.setRemoved(r, tx.rev)
	t.ndead++
	t.deleteLive(ids)
	tx.touched[t] = true
	tx.delta = tx.delta.Add(store.StatsOf(t.pred, -1))
	tx.x.record(tx.rev, t, r, store.OpDelete)
}

// Commit publishes the revision and compacts tables whose dead records no
// snapshot can see any more.
func (tx *Tx) Commit() {
	x := tx.x
	x.mu.Lock()
	if x.first == 0 {
		x.first = tx.rev
	}
	x.rev = tx.rev
	x.stats = x.stats.Add(tx.delta)
	x.latest.Store(nil)
	h := x.horizon()
	for t := range tx.touched {
		if t.ndead > x.compactMinDead && t.ndead > int(t.n)/4 && t.ndead >= t.retryAt {
			x.compacted = max(x.compacted, h)
			t.compact(h, &x.interner)
			t.retryAt = t.ndead + max(x.compactMinDead, int(t.n)/4)
		}
	}
	x.mu.Unlock()
	x.writeMu.Unlock()
}

// table returns the table of (pred, arity), creating it. Callers hold mu.
func (x *Index) table(pred string, arity int) *table {
	k := tableKey{pred, arity}
	if t := x.tables[k]; t != nil {
		return t
	}
	t := &table{id: uint32(len(x.byID)), pred: pred, arity: arity, post: make([]postings, arity), removedAt: make(map[uint32]uint64)}
	for i := range t.post {
		t.post[i] = newPostings(0)
	}
	x.tables[k] = t
	x.byID = append(x.byID, t)
	x.ordered = append(x.ordered, t)
	slices.SortFunc(x.ordered, func(a, b *table) int {
		return cmp.Or(cmp.Compare(a.pred, b.pred), cmp.Compare(a.arity, b.arity))
	})
	return t
}

func (x *Index) record(rev uint64, t *table, r uint32, op store.ChangeOp) {
	if !x.keepLog {
		return
	}
	ids := t.ids(r)
	w := t.window(r)
	if op == store.OpDelete {
		w = [2]int64{math.MinInt64, math.MaxInt64}
	}
	x.log.add(rev, t.id, op, ids, w)
	for _, id := range ids {
		x.ref(id)
	}
}

// fact builds the term.Fact of record r of t. Callers hold mu.
func (x *Index) fact(t *table, r uint32) term.Fact {
	ids := t.ids(r)
	f := term.Fact{Predicate: t.pred, Args: make([]term.Value, len(ids))}
	for i, id := range ids {
		f.Args[i] = x.value(id)
	}
	if t.until != nil {
		f.Valid = term.WindowOfNanos(t.from[r], t.until[r])
	}
	return f
}

// candidates returns the records of t that may match the pattern
// arguments: the shortest posting list among the fully bound positions,
// or, when no position is bound, all set and every record. ok is false
// when a bound value is not stored at all. Callers hold mu.
func (x *Index) candidates(t *table, args []term.Value) (recs plist, all, ok bool) {
	bound := false
	for i, a := range args {
		if a.Type == "" || a.ID == "" {
			continue
		}
		id, found := x.lookup(a)
		if !found {
			return plist{}, false, false
		}
		pl := t.post[i].get(id)
		if pl.Len() == 0 {
			return plist{}, false, false
		}
		if !bound || pl.Len() < recs.Len() {
			recs, bound = pl, true
		}
	}
	return recs, !bound, true
}

// eachMatching calls fn with each record that matches p, table by table
// in the order of x.ordered, among the candidates of each table that p may
// match; keep filters the records before their arguments are compared.
// Neither keep nor fn is retained. Callers hold mu.
func (x *Index) eachMatching(p term.Pattern, keep func(t *table, r uint32) bool, fn func(t *table, r uint32)) {
	for _, t := range x.ordered {
		if (p.Predicate != "" && p.Predicate != t.pred) || t.arity < len(p.Args) || (!p.AnyArity && t.arity != len(p.Args)) {
			continue
		}
		recs, all, ok := x.candidates(t, p.Args)
		if !ok {
			continue
		}
		if all {
			for r := range t.n {
				if keep(t, r) && x.matchesPattern(t, r, p.Args) {
					fn(t, r)
				}
			}
			continue
		}
		for r := range recs.all() {
			if keep(t, r) && x.matchesPattern(t, r, p.Args) {
				fn(t, r)
			}
		}
	}
}

// matchesPattern reports whether record r of t matches the pattern
// arguments (each type and id compared on its own). Callers hold mu.
func (x *Index) matchesPattern(t *table, r uint32, args []term.Value) bool {
	ids := t.ids(r)
	for i, a := range args {
		if a.Type == "" && a.ID == "" {
			continue
		}
		v := x.value(ids[i])
		if (a.Type != "" && a.Type != v.Type) || (a.ID != "" && a.ID != v.ID) {
			return false
		}
	}
	return true
}

// compact drops the records removed at or before horizon (no snapshot can
// see them), with their references to interned values, and renumbers the
// rest, keeping their order. It builds new chunks and lists: readers that
// copied the old ones keep reading them. Callers hold mu for writing.
func (t *table) compact(horizon uint64, in *interner) {
	keep := 0
	for r := range t.n {
		if rm := t.removed(r); rm == live || rm > horizon {
			keep++
		}
	}
	if keep == int(t.n) {
		return
	}
	nt := &table{id: t.id, pred: t.pred, arity: t.arity, post: make([]postings, t.arity), removedAt: make(map[uint32]uint64)}
	for i := range nt.post {
		nt.post[i] = newPostings(t.post[i].Len())
	}
	if t.until != nil {
		nt.from, nt.until = make([]int64, 0, keep), make([]int64, 0, keep)
	}
	a := 0 // the run of t.adds of record r
	for r := range t.n {
		for a+1 < len(t.adds) && t.adds[a+1].first <= r {
			a++
		}
		ids := t.ids(r)
		rm := t.removed(r)
		if rm != live && rm <= horizon {
			for _, id := range ids {
				in.unref(id)
			}
			continue
		}
		nr := nt.appendRecord(ids, t.adds[a].rev)
		if t.until != nil {
			nt.from, nt.until = append(nt.from, t.from[r]), append(nt.until, t.until[r])
		}
		for i, id := range ids {
			nt.post[i].add(id, nr)
		}
		if rm != live {
			nt.setRemoved(nr, rm)
			nt.ndead++
		}
	}
	for i := range nt.post {
		nt.post[i].freeze()
	}
	// Renumbered: rebuild the live set from the new records.
	nt.rehash((int(nt.n) - nt.ndead) * 4 / 3)
	nt.retryAt = t.retryAt
	*t = *nt
}
