package index

import (
	"iter"
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
}

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
	return &Snapshot{x: s.x, rev: s.rev, stats: s.stats, windows: true, timed: true, now: now.UnixNano(), parent: p}
}

// holds reports whether record r of t is visible to s: at its revision
// and, for a timed view, inside its window.
func (s *Snapshot) holds(t *table, r uint32) bool {
	return t.visible(r, s.rev) && (!s.timed || t.until == nil || (t.from[r] <= s.now && s.now < t.until[r]))
}

// Stats counts the facts at the snapshot's revision.
func (s *Snapshot) Stats() store.Stats { return s.stats }

// matcher holds the buffers of one Match call; they are pooled so that a
// Match allocates nothing in the steady state.
type matcher struct {
	recs  []uint32
	bound []int // positions bound in the current call
	ids   []uint32
	out   []term.Value
}

// maxPooledRecs bounds the buffers kept in the pool after a large scan.
const maxPooledRecs = 1 << 16

// visible reports whether record r of t exists at revision rev.
func (t *table) visible(r uint32, rev uint64) bool {
	return t.added[r] <= rev && rev < t.removed[r]
}

// Match calls yield with the arguments of every fact of pred with exactly
// len(args) arguments that equals args wherever args[i] is not the zero
// Value (see store.Snapshot). It walks the shortest posting list among the
// bound positions. The slice passed to yield is reused between calls and
// must not be kept. The matching records are collected under the index's
// read lock, which is released before yield runs, so yield may call Match
// again and writers are not held up by slow readers.
func (s *Snapshot) Match(pred string, args []term.Value, yield func(args []term.Value) bool) {
	x := s.x
	m, _ := x.matchers.Get().(*matcher)
	if m == nil {
		m = new(matcher)
	}
	defer func() {
		if cap(m.recs) > maxPooledRecs {
			m.recs = nil
		}
		x.matchers.Put(m)
	}()
	x.mu.RLock()
	t := x.tables[tableKey{pred, len(args)}]
	if t == nil {
		x.mu.RUnlock()
		return
	}
	m.bound, m.ids = m.bound[:0], m.ids[:0]
	var best []uint32
	for i, a := range args {
		if a.IsZero() {
			continue
		}
		id, ok := x.lookup(a)
		if !ok {
			x.mu.RUnlock()
			return
		}
		pl := t.post[i].get(id)
		if len(pl) == 0 {
			x.mu.RUnlock()
			return
		}
		if len(m.bound) == 0 || len(pl) < len(best) {
			best = pl
		}
		m.bound = append(m.bound, i)
		m.ids = append(m.ids, id)
	}
	recs := m.recs[:0]
	n := t.arity
	timed := s.timed && t.until != nil
	if len(m.bound) == 0 {
		for r := range uint32(len(t.added)) {
			if t.visible(r, s.rev) && (!timed || (t.from[r] <= s.now && s.now < t.until[r])) {
				recs = append(recs, r)
			}
		}
	} else {
	next:
		for _, r := range best {
			if !t.visible(r, s.rev) || (timed && (s.now < t.from[r] || s.now >= t.until[r])) {
				continue
			}
			base := int(r) * n
			for j, i := range m.bound {
				if t.args[base+i] != m.ids[j] {
					continue next
				}
			}
			recs = append(recs, r)
		}
	}
	// The argument ids of a record and the interned values never change
	// once written, and writers append or replace these slices rather than
	// modify them, so the headers copied here stay readable without the lock.
	targs, vals := t.args, x.vals
	x.mu.RUnlock()
	m.recs = recs
	if cap(m.out) < n {
		m.out = make([]term.Value, n)
	}
	out := m.out[:n]
	for _, r := range recs {
		base := int(r) * n
		for i := range out {
			out[i] = vals[targs[base+i]]
		}
		if !yield(out) {
			return
		}
	}
}

// Facts returns the facts matching p at the snapshot's revision, ordered by
// predicate, then arity, then the order in which they were stored. The
// facts yielded are new and belong to the caller.
func (s *Snapshot) Facts(p term.Pattern) iter.Seq[term.Fact] {
	return func(yield func(term.Fact) bool) {
		var facts []term.Fact
		x := s.x
		x.mu.RLock()
		x.eachMatching(p, s.holds, func(t *table, r uint32) {
			facts = append(facts, x.fact(t, r))
		})
		x.mu.RUnlock()
		for _, f := range facts {
			if !yield(f) {
				return
			}
		}
	}
}

var _ store.PredicateCounter = (*Snapshot)(nil)

// PredicateCounts counts the facts of each predicate at the snapshot's
// revision, ordered by predicate, then arity; predicates with no fact are
// left out. It reads the records' revisions, not their arguments.
func (s *Snapshot) PredicateCounts() []store.PredicateCount {
	x := s.x
	x.mu.RLock()
	defer x.mu.RUnlock()
	var out []store.PredicateCount
	for _, t := range x.ordered {
		n := 0
		for r := range uint32(len(t.added)) {
			if t.visible(r, s.rev) {
				n++
			}
		}
		if n > 0 {
			out = append(out, store.PredicateCount{Predicate: t.pred, Arity: t.arity, Facts: n})
		}
	}
	return out
}
