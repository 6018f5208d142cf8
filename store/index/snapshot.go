package index

import (
	"iter"
	"slices"
	"sort"
	"sync/atomic"
	"time"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
)

// Snapshot is a read view of an Index at one revision. It implements
// store.Snapshot (and so evaluator.Source).
type Snapshot struct {
	x       *Index
	rev     uint64
	stats   store.Stats
	windows bool // a fact with a window may be stored (Index.windows)

	// Set by At: the instant (nanoseconds since 1970) the view is at, and
	// the snapshot it was made from (kept reachable, so that its revision
	// still holds compaction back).
	timed  bool
	now    int64
	parent *Snapshot

	// vals reads the values of ids without the lock: taken when the
	// snapshot was made, it reads every id a record the snapshot sees
	// holds (those values were interned before, and stay while the
	// snapshot holds the records back from compaction). It keeps the
	// interner's storage of that time reachable while the snapshot is.
	vals valReader

	// gen is the snapshot's generation (see Generation); a timed view
	// has its parent's.
	gen uint64

	// held: a view HoldReads returned, whose reads run under the read
	// lock HoldReads took and take no lock of their own.
	held bool
}

// generations numbers the snapshots of every index, from 1.
var generations atomic.Uint64

var _ store.Snapshot = (*Snapshot)(nil)

// Revision returns the revision the snapshot reflects.
func (s *Snapshot) Revision() uint64 { return s.rev }

// At returns the view of s at the instant now (see store.Snapshot): s
// itself when no stored fact has ever had a window.
func (s *Snapshot) At(now time.Time) store.Snapshot {
	if !s.windows {
		return s
	}
	p := s
	if s.parent != nil {
		p = s.parent
	}
	return &Snapshot{x: s.x, rev: s.rev, stats: s.stats, windows: true, timed: true, now: now.UnixNano(), parent: p, vals: s.vals, gen: s.gen}
}

// Stats counts the facts at the snapshot's revision.
func (s *Snapshot) Stats() store.Stats { return s.stats }

// matcher holds the buffers of one Match call; they are pooled so that a
// Match allocates nothing in the steady state.
type matcher struct {
	recs  []uint32
	bound []int    // positions bound in the current call
	ids   []uint32 // their ids
	want  []uint32 // the ids of Match's arguments, 0 where unbound
	out   []term.Value
}

// matchChunk is how many matching records Match and Facts collect under
// the index's read lock at a time: they iterate lazily, so a caller that
// stops early (a page, an existence check) pays for what it read.
const matchChunk = 256

// recordView is a table's records as one reader copied them under the
// read lock. Writers add chunks or replace the chunk list, and a
// compaction renumbers records into new chunks, bits and maps, so the
// copied headers keep showing the records the reader started with, in
// their order; the in-place writes, a record's removal (its dead bit and
// its entry in removedAt, a map the table has from its start), are read
// under the lock. A removal the view misses (its bits were reallocated or
// the table compacted since) came after the snapshot's revision.
type recordView struct {
	args        [][]uint32
	dead        []uint64
	removedAt   map[uint32]uint64
	lim         uint32  // the records the snapshot's revision sees: below lim
	from, until []int64 // nil unless the view is timed and the table has windows
	vals        valReader
	arity       int
}

// view copies t's record headers. Callers hold mu.
func (s *Snapshot) view(t *table) recordView {
	v := recordView{args: t.args, dead: t.dead, removedAt: t.removedAt, lim: t.limit(s.rev), vals: s.vals, arity: t.arity}
	if s.timed && t.until != nil {
		v.from, v.until = t.from, t.until
	}
	return v
}

// holds reports whether record r of v is visible to s. Callers hold mu.
func (v *recordView) holds(s *Snapshot, r uint32) bool {
	return r < v.lim && (v.dead[r>>6]&(1<<(r&63)) == 0 || s.rev < v.removedAt[r]) &&
		(v.until == nil || (v.from[r] <= s.now && s.now < v.until[r]))
}

// ids returns the argument ids of record r of v.
func (v *recordView) ids(r uint32) []uint32 {
	o := int(r&(recChunk-1)) * v.arity
	return v.args[r>>recShift][o : o+v.arity : o+v.arity]
}

// Match calls yield with the arguments of every fact of pred with exactly
// len(args) arguments that equals args wherever args[i] is not the zero
// Value (see store.Snapshot). It looks the values up (an argument the
// index does not hold matches nothing) and walks as MatchIDs does. The
// slice passed to yield is reused between calls and must not be kept.
func (s *Snapshot) Match(pred string, args []term.Value, yield func(args []term.Value) bool) {
	x := s.x
	m := x.matcher()
	defer x.matchers.Put(m)
	s.rlock()
	t := x.tables[tableKey{pred, len(args)}]
	if t == nil {
		s.runlock()
		return
	}
	m.want = m.want[:0]
	for _, a := range args {
		var id uint32
		if !a.IsZero() {
			var ok bool
			if id, ok = x.lookup(a); !ok {
				s.runlock()
				return
			}
		}
		m.want = append(m.want, id)
	}
	s.walk(t, m, m.want, nil, yield)
}

// The id-level reads: a caller that asks many questions of one snapshot
// (the evaluator, through evaluator.IDSource) resolves a predicate to a
// relation number and a value to an id once, matches on ids, and turns an
// id back into a value only when it needs the value. Ids are those of the
// index's interner: never 0 (0 is the one wildcard, "any value", of
// MatchIDs), below 1<<31, and stable while the snapshot is reachable (an
// id is freed, and may be reused for another value, only once no record
// holds it, which compaction does not allow while a snapshot sees the
// record); an id must not be used with a snapshot of another index, nor
// kept past the snapshot it came from.

// Relation returns the number of the facts of pred with arity arguments,
// for MatchIDs, or -1 when the index has none (then the snapshot has
// none). The number is the same in every snapshot of the index.
func (s *Snapshot) Relation(pred string, arity int) int {
	x := s.x
	s.rlock()
	defer s.runlock()
	if t := x.tables[tableKey{pred, arity}]; t != nil {
		return int(t.id)
	}
	return -1
}

// Lookup returns the id of v, or false when the index holds no fact with
// v (then no fact of the snapshot has it). The zero Value has no id.
func (s *Snapshot) Lookup(v term.Value) (uint32, bool) {
	if v.IsZero() {
		return 0, false
	}
	x := s.x
	s.rlock()
	id, ok := x.lookup(v)
	s.runlock()
	return id, ok
}

// Value returns the value of id, an id that MatchIDs yielded or Lookup
// returned on s for a value a fact of s holds. It takes no lock.
func (s *Snapshot) Value(id uint32) term.Value {
	if id == 0 || int(id>>valShift) >= len(s.vals.ents) {
		return term.Value{}
	}
	return s.vals.value(id)
}

// Generation returns a number that identifies the snapshot's ids, never 0:
// a view of the snapshot at an instant (At) has the same; any other
// snapshot has another, as a value's id may differ between them (and so
// may whether the value has one).
func (s *Snapshot) Generation() uint64 { return s.gen }

// MatchIDs calls yield with the argument ids of every fact of relation
// rel (see Relation) that the snapshot sees and whose argument i is ids[i]
// wherever ids[i] is not 0; len(ids) must be the relation's arity (else
// nothing matches). It walks the shortest posting list among the bound
// positions, in record order, lazily: matching records are collected
// under the index's read lock matchChunk at a time, and the lock is
// released before yield runs, so yield may call MatchIDs again, writers
// are not held up by slow readers, and a yield that returns false ends
// the walk without reading the rest. The slice passed to yield must not
// be modified or kept.
func (s *Snapshot) MatchIDs(rel int, ids []uint32, yield func(ids []uint32) bool) {
	x := s.x
	s.rlock()
	if rel < 0 || rel >= len(x.byID) || x.byID[rel].arity != len(ids) {
		s.runlock()
		return
	}
	s.walk(x.byID[rel], nil, ids, yield, nil)
}

// ground reports whether every id of want is bound.
func ground(want []uint32) bool {
	for _, id := range want {
		if id == 0 {
			return false
		}
	}
	return true
}

// yieldOne yields the record of argument ids ids as walk does (m may be
// nil).
func (s *Snapshot) yieldOne(m *matcher, ids []uint32, yieldIDs func([]uint32) bool, yieldVals func([]term.Value) bool) {
	if yieldIDs != nil {
		yieldIDs(ids)
		return
	}
	if m == nil {
		m = s.x.matcher()
		defer s.x.matchers.Put(m)
	}
	if cap(m.out) < len(ids) {
		m.out = make([]term.Value, len(ids))
	}
	out := m.out[:len(ids)]
	for i, id := range ids {
		out[i] = s.vals.value(id)
	}
	yieldVals(out)
}

func (x *Index) matcher() *matcher {
	m, _ := x.matchers.Get().(*matcher)
	if m == nil {
		m = new(matcher)
	}
	return m
}

// inWindow reports whether record r of t is inside its window at the
// instant of s (always, unless s is timed and t has windows).
func (s *Snapshot) inWindow(t *table, r uint32) bool {
	return !s.timed || t.until == nil || (t.from[r] <= s.now && s.now < t.until[r])
}

// shortList is the length up to which walk collects a posting list's
// matching records in one hold of the lock, without a matcher.
const shortList = 32

// walk yields the records of t that s sees and whose argument i is
// want[i] wherever want[i] is not 0: their ids to yieldIDs when it is not
// nil, else their values to yieldVals. It is called with the read lock
// held and releases it; the first chunk is collected under that same
// hold. m holds the call's buffers; when nil, walk takes one from the
// pool if it needs one.
//
// The common questions of a check take a fast path each: a ground
// pattern is one probe of the live set (a record found there is not
// dead, so only its revision and window are checked), and, unless a
// record was removed after the snapshot's revision, a fact not found
// there does not exist for the snapshot; a pattern whose shortest posting
// list is short is answered from that list in one hold of the lock.
func (s *Snapshot) walk(t *table, m *matcher, want []uint32, yieldIDs func([]uint32) bool, yieldVals func([]term.Value) bool) {
	if len(want) > 0 && ground(want) {
		// A fact has at most one record at a revision: the live one
		// unless it was removed since (then it is a dead record,
		// removed after the snapshot's revision).
		if r, ok := t.find(want); ok && r < t.limit(s.rev) && s.inWindow(t, r) {
			ids := t.ids(r)
			s.runlock()
			s.yieldOne(m, ids, yieldIDs, yieldVals)
			return
		}
		if t.lastRemoved <= s.rev {
			s.runlock()
			return
		}
	}
	best, bestSlot, bestLen, bound, ok := shortest(t, want)
	if !ok {
		s.runlock()
		return
	}
	if best >= 0 && bestLen <= shortList {
		s.walkShort(t, m, want, best, bestSlot, bound, yieldIDs, yieldVals)
		return
	}
	s.walkList(t, m, want, best, bestSlot, -1, yieldIDs, yieldVals)
}

// shortest returns the shortest posting list among the bound positions of
// want: its position (-1 when none is bound), slot and length, and the
// number of bound positions; false when a bound value has no record at
// its position. Callers hold mu.
func shortest(t *table, want []uint32) (best int, bestSlot *pslot, bestLen, bound int, ok bool) {
	best = -1
	for i, id := range want {
		if id == 0 {
			continue
		}
		sl := t.post[i].slot(id)
		if sl == nil {
			return -1, nil, 0, 0, false
		}
		if n := t.post[i].count(sl); best < 0 || n < bestLen {
			best, bestSlot, bestLen = i, sl, n
		}
		bound++
	}
	return best, bestSlot, bestLen, bound, true
}

// walkList is walk over the posting list of slot bestSlot of position
// best (every record of t when best is -1), from the first record after
// record after (-1: from the first). It is called with the read lock held
// and releases it.
func (s *Snapshot) walkList(t *table, m *matcher, want []uint32, best int, bestSlot *pslot, after int64, yieldIDs func([]uint32) bool, yieldVals func([]term.Value) bool) {
	x := s.x
	if m == nil {
		m = x.matcher()
		defer x.matchers.Put(m)
	}
	m.bound, m.ids = m.bound[:0], m.ids[:0]
	var list plist
	if best >= 0 {
		list = t.post[best].list(bestSlot)
	}
	for i, id := range want {
		if id != 0 && i != best {
			m.bound = append(m.bound, i)
			m.ids = append(m.ids, id)
		}
	}
	all := best < 0
	v := s.view(t)
	total := list.Len()
	if all {
		total = int(v.lim)
	}
	n := v.arity
	if cap(m.out) < n {
		m.out = make([]term.Value, n)
	}
	out := m.out[:n]
	locked := true
	pos := 0
	switch {
	case after < 0:
	case all:
		pos = min(int(after)+1, total)
	default:
		pos = sort.Search(total, func(i int) bool { return int64(list.at(i)) > after })
	}
	for pos < total {
		recs := m.recs[:0]
		if !locked {
			s.rlock()
		}
	next:
		for ; pos < total && len(recs) < matchChunk; pos++ {
			r := uint32(pos)
			if !all {
				r = list.at(pos)
			}
			if !v.holds(s, r) {
				continue
			}
			ids := v.ids(r)
			for j, i := range m.bound {
				if ids[i] != m.ids[j] {
					continue next
				}
			}
			recs = append(recs, r)
		}
		s.runlock()
		locked = false
		m.recs = recs
		for _, r := range recs {
			ids := v.ids(r)
			if yieldIDs != nil {
				if !yieldIDs(ids) {
					return
				}
				continue
			}
			for i := range out {
				out[i] = v.vals.value(ids[i])
			}
			if !yieldVals(out) {
				return
			}
		}
	}
	if locked {
		s.runlock()
	}
}

// walkShort is walk on the posting list of slot sl of position best, of
// at most shortList records, with bound positions bound in all: it
// collects the matching records in one hold of the lock, reading a
// record's ids under it only to compare the other bound positions.
func (s *Snapshot) walkShort(t *table, m *matcher, want []uint32, best int, sl *pslot, bound int, yieldIDs func([]uint32) bool, yieldVals func([]term.Value) bool) {
	x := s.x
	var segs [2][]uint32
	var singles [2]uint32
	p := &t.post[best]
	switch {
	case sl.n == 1:
		singles[0] = sl.off
		segs[0] = singles[0:1]
	case sl.n > 1:
		segs[0] = p.base[sl.off : sl.off+sl.n]
	}
	if e := sl.rec; e != 0 {
		if e&one != 0 {
			singles[1] = e &^ one
			segs[1] = singles[1:2]
		} else {
			segs[1] = p.dlists[e-1]
		}
	}
	lim := t.limit(s.rev)
	dead := t.ndead > 0
	windows := s.timed && t.until != nil
	var found [shortList]uint32
	k := 0
	for _, seg := range segs {
	next:
		for _, r := range seg {
			if r >= lim {
				break // and so are the later ones
			}
			if dead && t.isDead(r) && s.rev >= t.removedAt[r] {
				continue
			}
			if windows && (t.from[r] > s.now || s.now >= t.until[r]) {
				continue
			}
			if bound > 1 {
				ids := t.ids(r)
				for i, id := range want {
					if id != 0 && ids[i] != id {
						continue next
					}
				}
			}
			found[k] = r
			k++
		}
	}
	args, arity := t.args, t.arity
	s.runlock()
	if k == 0 {
		return
	}
	if yieldVals != nil && m == nil {
		m = x.matcher()
		defer x.matchers.Put(m)
	}
	for _, r := range found[:k] {
		o := int(r&(recChunk-1)) * arity
		ids := args[r>>recShift][o : o+arity : o+arity]
		if yieldIDs != nil {
			if !yieldIDs(ids) {
				return
			}
			continue
		}
		if cap(m.out) < arity {
			m.out = make([]term.Value, arity)
		}
		out := m.out[:arity]
		for i, id := range ids {
			out[i] = s.vals.value(id)
		}
		if !yieldVals(out) {
			return
		}
	}
}

// Facts returns the facts matching p at the snapshot's revision, ordered by
// predicate, then arity, then the order in which they were stored. The
// facts yielded are new and belong to the caller. Like Match it iterates
// lazily, matchChunk records at a time under the read lock: stopping early
// reads no more.
func (s *Snapshot) Facts(p term.Pattern) iter.Seq[term.Fact] {
	return func(yield func(term.Fact) bool) {
		x := s.x
		s.rlock()
		tables := slices.Clone(x.ordered)
		s.runlock()
		var batch []term.Fact
		for _, t := range tables {
			if (p.Predicate != "" && p.Predicate != t.pred) || t.arity < len(p.Args) || (!p.AnyArity && t.arity != len(p.Args)) {
				continue
			}
			s.rlock()
			recs, all, ok := x.candidates(t, p.Args)
			v := s.view(t)
			until := t.until // windows of the facts yielded, timed view or not
			from := t.from
			s.runlock()
			if !ok {
				continue
			}
			total := recs.Len()
			if all {
				total = int(v.lim)
			}
			for pos := 0; pos < total; {
				batch = batch[:0]
				s.rlock()
				for ; pos < total && len(batch) < matchChunk; pos++ {
					r := uint32(pos)
					if !all {
						r = recs.at(pos)
					}
					if !v.holds(s, r) || !v.matches(r, p.Args) {
						continue
					}
					f := term.Fact{Predicate: t.pred, Args: make([]term.Value, v.arity)}
					for i, id := range v.ids(r) {
						f.Args[i] = v.vals.value(id)
					}
					if until != nil && int(r) < len(until) {
						f.Valid = term.WindowOfNanos(from[r], until[r])
					}
					batch = append(batch, f)
				}
				s.runlock()
				for _, f := range batch {
					if !yield(f) {
						return
					}
				}
			}
		}
	}
}

// matches reports whether record r of v matches the pattern arguments
// (each type and id compared on its own), as Index.matchesPattern does.
func (v *recordView) matches(r uint32, args []term.Value) bool {
	ids := v.ids(r)
	for i, a := range args {
		if a.Type == "" && a.ID == "" {
			continue
		}
		val := v.vals.value(ids[i])
		if (a.Type != "" && a.Type != val.Type) || (a.ID != "" && a.ID != val.ID) {
			return false
		}
	}
	return true
}

var _ store.PredicateCounter = (*Snapshot)(nil)

// PredicateCounts counts the facts of each predicate at the snapshot's
// revision, ordered by predicate, then arity; predicates with no fact are
// left out. It reads the records' revisions, not their arguments.
func (s *Snapshot) PredicateCounts() []store.PredicateCount {
	x := s.x
	s.rlock()
	defer s.runlock()
	var out []store.PredicateCount
	for _, t := range x.ordered {
		n := 0
		lim := t.limit(s.rev)
		for r := range lim {
			if t.seen(r, lim, s.rev) {
				n++
			}
		}
		if n > 0 {
			out = append(out, store.PredicateCount{Predicate: t.pred, Arity: t.arity, Facts: n})
		}
	}
	return out
}

// HoldReads takes the index's read lock and returns a view of s whose
// reads all run under that one hold, taking no lock of their own, until
// ReleaseReads is called on the view: a reader that asks many questions
// in a row (the evaluator, a check's half-dozen) pays for the lock once,
// not once a question; the lock's reader count is a cache line that
// every read writes and the cores pass back and forth.
//
// The view is a *Snapshot, typed any so that a package that sees
// snapshots through interfaces of its own (the evaluator's IDSource) can
// ask for it; reuse, a view HoldReads returned before and released, is
// overwritten rather than a new one allocated (nil: allocate).
//
// While the view holds the lock its goroutine must not take the lock
// again (read through s, or any other snapshot of the index) nor wait for
// anything: a writer waiting for the lock would deadlock with it or wait
// as long. A long run of reads should call PauseReads now and then, so
// that writers are not held up. A released view is empty (it keeps no
// snapshot reachable) and must not be read.
func (s *Snapshot) HoldReads(reuse any) any {
	h, _ := reuse.(*Snapshot)
	if h == nil || h.x != nil {
		h = new(Snapshot)
	}
	*h = *s
	if h.parent == nil {
		h.parent = s // keeps s, and the records its revision sees, reachable
	}
	s.x.mu.RLock()
	h.held = true
	return h
}

// ReleaseReads releases the lock a view of HoldReads holds and empties
// the view; it does nothing on any other snapshot, or a view already
// released.
func (s *Snapshot) ReleaseReads() {
	if s.held {
		x := s.x
		*s = Snapshot{}
		x.mu.RUnlock()
	}
}

// PauseReads lets a writer waiting for the lock that a view of HoldReads
// holds take it, and takes the lock back after it (at once when none
// waits). Values, ids and the slices MatchIDs yielded stay valid, as
// they do across MatchIDs's own releases of the lock.
func (s *Snapshot) PauseReads() {
	if s.held {
		s.x.mu.RUnlock()
		s.x.mu.RLock()
	}
}

// rlock takes the index's read lock for a read of s, unless s holds it.
func (s *Snapshot) rlock() {
	if !s.held {
		s.x.mu.RLock()
	}
}

// runlock releases what rlock took.
func (s *Snapshot) runlock() {
	if !s.held {
		s.x.mu.RUnlock()
	}
}
