package evaluator

import (
	"cmp"
	"slices"
	"sync"

	"github.com/castellan-authz/castellan/lang/term"
)

// emptySource is a Source with no facts.
type emptySource struct{}

func (emptySource) Match(string, []term.Value, func([]term.Value) bool) {}
func (emptySource) Revision() uint64                                    { return 0 }

// layered is a base Source with one request's context facts on top.
type layered struct {
	base   Source
	groups []ctxGroup // by predicate
}

// ctxGroup holds the context facts of one predicate.
type ctxGroup struct {
	pred  string
	facts []term.Fact
}

// Layer returns a Source that holds the facts of base plus ctxFacts, for
// one request: base is not copied and ctxFacts are never stored. A fact
// present in both, or twice in ctxFacts, is yielded once. With no context
// facts it returns base itself (an empty source when base is nil).
func Layer(base Source, ctxFacts []term.Fact) Source {
	if base == nil {
		base = emptySource{}
	}
	if len(ctxFacts) == 0 {
		return base
	}
	facts := slices.Clone(ctxFacts)
	slices.SortFunc(facts, compareFacts)
	facts = slices.CompactFunc(facts, term.Fact.Equal)
	preds := 1
	for i := 1; i < len(facts); i++ {
		if facts[i].Predicate != facts[i-1].Predicate {
			preds++
		}
	}
	groups := make([]ctxGroup, 0, preds)
	for i := 0; i < len(facts); {
		j := i + 1
		for j < len(facts) && facts[j].Predicate == facts[i].Predicate {
			j++
		}
		groups = append(groups, ctxGroup{pred: facts[i].Predicate, facts: facts[i:j:j]})
		i = j
	}
	if ids, ok := base.(IDSource); ok {
		if _, nested := base.(*layeredIDs); !nested {
			return newLayeredIDs(layered{base: base, groups: groups}, facts, ids)
		}
	}
	return &layered{base: base, groups: groups}
}

func compareFacts(a, b term.Fact) int {
	if c := cmp.Compare(a.Predicate, b.Predicate); c != 0 {
		return c
	}
	if c := cmp.Compare(len(a.Args), len(b.Args)); c != 0 {
		return c
	}
	for i := range a.Args {
		if c := cmp.Compare(a.Args[i].Type, b.Args[i].Type); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Args[i].ID, b.Args[i].ID); c != 0 {
			return c
		}
	}
	return 0
}

func argsMatch(fact, pattern []term.Value) bool {
	if len(fact) != len(pattern) {
		return false
	}
	for i, p := range pattern {
		if !p.IsZero() && p != fact[i] {
			return false
		}
	}
	return true
}

func (l *layered) group(pred string) []term.Fact {
	for i := range l.groups {
		if l.groups[i].pred == pred {
			return l.groups[i].facts
		}
	}
	return nil
}

// ctxFilter passes on the base facts that are not context facts. Filters
// are pooled, each with its callback bound once, so that Match allocates
// nothing and stays re-entrant and safe for concurrent use.
type ctxFilter struct {
	ctx   []term.Fact
	yield func([]term.Value) bool
	fn    func([]term.Value) bool
}

func (f *ctxFilter) filter(a []term.Value) bool {
	for i := range f.ctx {
		if argsMatch(f.ctx[i].Args, a) {
			return true // already yielded as a context fact
		}
	}
	return f.yield(a)
}

var filterPool = sync.Pool{New: func() any {
	f := &ctxFilter{}
	f.fn = f.filter
	return f
}}

// Match yields the matching context facts, then the matching base facts
// that are not also context facts.
func (l *layered) Match(pred string, args []term.Value, yield func([]term.Value) bool) {
	ctx := l.group(pred)
	for i := range ctx {
		if argsMatch(ctx[i].Args, args) && !yield(ctx[i].Args) {
			return
		}
	}
	if len(ctx) == 0 {
		l.base.Match(pred, args, yield)
		return
	}
	f := filterPool.Get().(*ctxFilter)
	f.ctx, f.yield = ctx, yield
	l.base.Match(pred, args, f.fn)
	f.ctx, f.yield = nil, nil
	filterPool.Put(f)
}

// Revision is the revision of the base source.
func (l *layered) Revision() uint64 { return l.base.Revision() }

// fromContext reports whether the ground fact pred(args) is a context fact.
func (l *layered) fromContext(pred string, args []term.Value) bool {
	for _, f := range l.group(pred) {
		if argsMatch(f.Args, args) {
			return true
		}
	}
	return false
}

// contextual is implemented by sources that know which facts came with
// the request (used by explanations).
type contextual interface {
	fromContext(pred string, args []term.Value) bool
}

// layeredIDs is a layered source over an IDSource, itself an IDSource.
// A value of the context facts goes by its id in the base when the base
// has it, else by a request-local id (localID|k), held here and never in
// the base, so a request's values never grow the store's shared state.
// Each value thus has one id (see canon).
type layeredIDs struct {
	layered
	ids   IDSource
	facts []term.Fact // the context facts, sorted
	// Local id localID|k is the value at argument lpos[2k+1] of
	// facts[lpos[2k]]; its id in the base is lbase[k] (0: none).
	lbase []uint32
	lpos  []uint32
	index map[term.Value]uint32 // value -> local id, past 16 values
	rels  []ctxRel              // relation ctxRelBase+k

	// The ids of a few context facts and their relations are kept here,
	// so that such a request allocates no more than a Layer of values.
	buf    [32]uint32
	relBuf [2]ctxRel
}

// localID marks a request-local id; the base's ids are below it.
const localID = 1 << 31

// ctxRelBase is the first relation number of context facts; the base's
// relation numbers are below it.
const ctxRelBase = 1 << 30

// ctxRel is the context facts of one predicate and arity.
type ctxRel struct {
	pred  string
	arity int
	base  int      // the base's relation of pred and arity, -1: none
	rows  []uint32 // arity ids per fact
}

// newLayeredIDs gives the values of l's context facts (facts, sorted by
// predicate, then arity) their ids: the rows of a relation are then
// contiguous in one array, which with the local values' records takes
// one allocation at most.
func newLayeredIDs(l layered, facts []term.Fact, ids IDSource) *layeredIDs {
	li := &layeredIDs{layered: l, ids: ids, facts: facts}
	li.rels = li.relBuf[:0]
	n := 0
	for _, f := range facts {
		n += len(f.Args)
	}
	buf := li.buf[:]
	if 4*n > len(buf) {
		buf = make([]uint32, 4*n)
	}
	rows := buf[:0:n]
	li.lbase, li.lpos = buf[n:n:2*n], buf[2*n:2*n:4*n]
	for fi, f := range facts {
		k := li.rel(f.Predicate, len(f.Args))
		start := len(rows)
		for ai, v := range f.Args {
			rows = append(rows, li.canon(li.localOf(v, fi, ai)))
		}
		r := &li.rels[k]
		if r.rows == nil {
			r.rows = rows[start:start] // rows has room for every fact: never reallocated
		}
		r.rows = r.rows[:len(r.rows)+len(f.Args)]
	}
	return li
}

// rel returns the index in rels of the context facts of pred and arity,
// adding it.
func (l *layeredIDs) rel(pred string, arity int) int {
	for k := range l.rels {
		if l.rels[k].pred == pred && l.rels[k].arity == arity {
			return k
		}
	}
	l.rels = append(l.rels, ctxRel{pred: pred, arity: arity, base: l.ids.Relation(pred, arity)})
	return len(l.rels) - 1
}

// local returns the value of local id localID|k.
func (l *layeredIDs) local(k int) term.Value {
	return l.facts[l.lpos[2*k]].Args[l.lpos[2*k+1]]
}

// localOf returns the local id of v, argument ai of fact fi, assigning
// one.
func (l *layeredIDs) localOf(v term.Value, fi, ai int) uint32 {
	if id, ok := l.findLocal(v); ok {
		return id
	}
	var base uint32
	if id, ok := l.ids.Lookup(v); ok && id < localID {
		base = id
	}
	l.lbase = append(l.lbase, base)
	l.lpos = append(l.lpos, uint32(fi), uint32(ai))
	id := uint32(localID | (len(l.lbase) - 1))
	if l.index != nil {
		l.index[v] = id
	} else if len(l.lbase) > 16 {
		l.index = make(map[term.Value]uint32, 2*len(l.lbase))
		for k := range l.lbase {
			l.index[l.local(k)] = uint32(localID | k)
		}
	}
	return id
}

func (l *layeredIDs) findLocal(v term.Value) (uint32, bool) {
	if l.index != nil {
		id, ok := l.index[v]
		return id, ok
	}
	for k := range l.lbase {
		if l.local(k) == v {
			return uint32(localID | k), true
		}
	}
	return 0, false
}

// Relation returns the base's relation of pred and arity, or a relation
// of context facts (ctxRelBase on) when the request has some.
func (l *layeredIDs) Relation(pred string, arity int) int {
	for k := range l.rels {
		if l.rels[k].pred == pred && l.rels[k].arity == arity {
			return ctxRelBase + k
		}
	}
	return l.ids.Relation(pred, arity)
}

// Lookup returns the id of v: the base's id when the base has v, else
// the local id of a value of the context facts (see canon).
func (l *layeredIDs) Lookup(v term.Value) (uint32, bool) {
	if id, ok := l.findLocal(v); ok {
		return l.canon(id), true
	}
	return l.ids.Lookup(v)
}

// canon returns the one id a value goes by outside the layer: its id in
// the base when it has one, else its local id. The rows of context facts
// hold these ids, and Lookup gives them, so a value has the same id
// whether it was read from a context fact, from a base fact or looked up
// (the solver keys tables and a list's answers by id).
func (l *layeredIDs) canon(id uint32) uint32 {
	if id&localID != 0 {
		if b := l.lbase[id&^localID]; b != 0 {
			return b
		}
	}
	return id
}

// Generation is 0: the local ids are this request's.
func (l *layeredIDs) Generation() uint64 { return 0 }

// Value returns the value of a local id or of a base id.
func (l *layeredIDs) Value(id uint32) term.Value {
	if id&localID != 0 {
		if k := int(id &^ localID); k < len(l.lbase) {
			return l.local(k)
		}
		return term.Value{}
	}
	return l.ids.Value(id)
}

// rowMatches reports whether a context fact's ids match a pattern's (0:
// any). A value has one id (see canon), so ids match when equal.
func rowMatches(row, ids []uint32) bool {
	for k, p := range ids {
		if p != 0 && row[k] != p {
			return false
		}
	}
	return true
}

// idFilter passes on the base facts that are not also context facts. Filters are pooled, each with
// its callback bound once, so that MatchIDs allocates nothing.
type idFilter struct {
	rows  []uint32 // the context facts of the relation, arity ids each
	arity int
	yield func([]uint32) bool
	fn    func([]uint32) bool
}

func (f *idFilter) filter(a []uint32) bool {
	for o := 0; o+f.arity <= len(f.rows); o += f.arity {
		if rowMatches(f.rows[o:o+f.arity], a) {
			return true // already yielded as a context fact
		}
	}
	return f.yield(a)
}

var idFilterPool = sync.Pool{New: func() any {
	f := &idFilter{}
	f.fn = f.filter
	return f
}}

// MatchIDs yields the matching context facts, then the matching base facts
// that are not also context facts.
func (l *layeredIDs) MatchIDs(rel int, ids []uint32, yield func([]uint32) bool) {
	var rows []uint32
	base := rel
	if rel >= ctxRelBase {
		cr := &l.rels[rel-ctxRelBase]
		if cr.arity != len(ids) {
			return
		}
		rows, base = cr.rows, cr.base
		for o := 0; o+cr.arity <= len(rows); o += cr.arity {
			if rowMatches(rows[o:o+cr.arity], ids) && !yield(rows[o:o+cr.arity]) {
				return
			}
		}
	}
	if base < 0 {
		return
	}
	for _, id := range ids {
		if id&localID != 0 {
			return // a value only the request has: no base fact holds it
		}
	}
	if len(rows) == 0 {
		l.ids.MatchIDs(base, ids, yield)
		return
	}
	f := idFilterPool.Get().(*idFilter)
	defer idFilterPool.Put(f)
	f.rows, f.arity, f.yield = rows, len(ids), yield
	l.ids.MatchIDs(base, ids, f.fn)
	f.rows, f.yield = nil, nil
}
