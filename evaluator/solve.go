package evaluator

import (
	"context"
	"fmt"
	"math"
	"time"
	"unsafe"

	"github.com/castellan-authz/castellan/lang/term"
)

// Inside the solver a wildcard is a handle of its own kind (see hval).
// Where one leaves the solver as a value (explanations, policy tests, the
// answers of a list walk or a Query before they are encoded) it is
// Value{Type: T, ID: wildID}, any value of type constraint T (any value at
// all when T is ""), or Value{Type: T, ID: aliasIDs[j]}, a wildcard equal
// to argument j of the same answer; handle turns them back into wildcard
// handles.
//
// A value is a wildcard when its ID is one of these marker strings (points
// into marks), not when it merely spells one: no value that comes from
// outside (a request, a context or stored fact, a policy) can be read as
// a wildcard, whatever its bytes. The markers' bytes are also not valid
// UTF-8, which no stored fact, policy or decoded request holds. Sources
// see the wildcards of their own interfaces only: the zero Value in a
// Match pattern, id 0 in MatchIDs (converted where the solver asks them,
// see matchFacts).
var marks = func() string {
	b := []byte{0xff, '*'}
	for j := range maxAlias {
		b = append(b, 0xff, byte('0'+j))
	}
	return string(b)
}()

// marksAt is where marks' bytes are.
var marksAt = uintptr(unsafe.Pointer(unsafe.StringData(marks)))

// wildID is the wildcard marker; aliasIDs[j] marks a wildcard equal to
// argument j of the same answer: `p(x, x)` with x unbound answers
// (_, same as 0), not two independent wildcards.
var (
	wildID   = marks[:2]
	aliasIDs = func() (ids [maxAlias]string) {
		for j := range ids {
			ids[j] = marks[2+2*j : 4+2*j]
		}
		return ids
	}()
)

// isWild reports whether v is a wildcard: its ID is a marker of marks.
func isWild(v term.Value) bool {
	return len(v.ID) == 2 && uintptr(unsafe.Pointer(unsafe.StringData(v.ID)))-marksAt < uintptr(len(marks))
}

// maxAlias bounds the argument positions an alias marker can name.
const maxAlias = 32

// aliasOf returns j when v is an alias marker for argument j.
func aliasOf(v term.Value) (int, bool) {
	if !isWild(v) {
		return 0, false
	}
	if off := uintptr(unsafe.Pointer(unsafe.StringData(v.ID))) - marksAt; off >= 2 {
		return int(off-2) / 2, true
	}
	return 0, false
}

// wild returns the wildcard of type constraint t.
func wild(t string) term.Value { return term.Value{Type: t, ID: wildID} }

// Table states.
const (
	stActive     uint8 = iota // being evaluated (on the stack)
	stIncomplete              // evaluated, but depends on an active table
	stComplete                // answers are final
)

const noDep = math.MaxInt32

// table memoizes the answers of one subgoal: a predicate with a pattern of
// bound arguments.
type table struct {
	pred        *predInfo
	argOff      int32 // arguments (zero Value = unbound) in solver.vals
	next        int32 // next table in the same hash bucket
	first, last int32 // answer list (solver.ans), -1 when empty
	nAns        int32
	pos         int32 // stack position while active
	leader      int32 // stack position of the SCC leader while incomplete
	epoch       int32
	seenMin     int32 // fewest answers a finished loop over the table saw, this iteration
	state       uint8
	ground      bool
	factsDone   bool
}

// ansNode is one answer of a table: arity values at off in solver.vals.
type ansNode struct {
	off  int32
	tid  int32
	next int32 // next answer of the same table
	dup  int32 // next answer in the same dedup bucket
}

type trailEntry struct {
	idx      int
	old      hval
	oldAlias int32
}

type emitKind uint8

const (
	emitTable emitKind = iota // add the head as an answer of tid
	emitFound                 // record that a solution exists and stop
	emitFunc                  // call fn
)

// bodyCtx says what to do with each solution of a body.
type bodyCtx struct {
	kind  emitKind
	tid   int32
	rule  *crule
	found bool
	fn    func(base int) bool
	// seek: where the answer variable of a list walk is in the body run
	// with this context (see seek.go).
	seek seekCtx
}

// solver is the per-request state of one query. Solvers are pooled by the
// Evaluator; every slice and map is reused from request to request.
type solver struct {
	e   *Evaluator
	ctx context.Context
	src Source
	err error

	work   int
	now    hval
	nowSet bool
	nowAt  time.Time // the query's instant when given; now is built from it on first use

	vals     []hval // table arguments and answers
	tables   []table
	tindex   hindex
	ans      []ansNode
	aindex   hindex
	nAnswers int

	frame      []hval
	alias      []int32 // alias[i] >= 0: frame slot i is the same variable as slot alias[i]
	trail      []trailEntry
	tmp        []hval       // facts collected from the source
	pat        []hval       // call arguments being built
	patVals    []term.Value // a pattern given to a source without ids
	stack      []int32      // active tables
	incomplete []int32      // incomplete tables of the SCCs being evaluated
	minDep     int32
	epoch      int32

	// abstracted is set once a subgoal was abstracted, inexact once a
	// negation or comparison was conservative over a wildcard (see
	// abstract).
	abstracted, inexact bool

	collectFn func([]term.Value) bool

	// ids is src when it is an IDSource: facts are then matched on ids
	// (see matchFacts). The ids of this query's predicates and values are
	// resolved once and remembered in rels and memo, whose entries hold
	// for the query of idEpoch only (ids are the source's).
	ids    IDSource
	consts *constIDs // the ids of the program's constants in src, when it has a generation

	// The reads of a check under one hold of the source's lock (see
	// holdReads): holder is src when it can hold its reads, held the view
	// holding them while a check runs (then src and ids are held), heldView
	// the last view, reused.
	holder       readHolder
	held         heldReads
	heldView     any
	idEpoch      uint32
	rels         []relEnt // by predInfo.id
	memo         [memoSize]memoEnt
	tmemo        [1 << tmemoBits]tmemoEnt
	want         []uint32
	wantStack    []uint32 // the patterns of the unfolded fact calls being walked
	collectIDsFn func([]uint32) bool

	// Handles (see hval): cH holds the handles of the program's constants
	// resolved in this query (see constHandle); xtypes the type names of
	// this query the program does not spell (numbered from the program's
	// count), locals the values of this query's local handles.
	cH       []constEnt
	xtypes   []string
	xtypeNum map[string]uint32
	locals   []term.Value
	localIdx map[term.Value]uint32

	// bcFree holds the body contexts of rules run for a table, for reuse
	// (runRule).
	bcFree []*bodyCtx

	// unfold is set during a list walk (see listWalk): a call made outside
	// every table runs its facts and rules inline rather than through a
	// table, so that answers stream; unfolding holds the goals being
	// unfolded, to table a goal that calls itself.
	unfold    bool
	unfolding []unfoldGoal
	seek      *seekState // a paged list walk's stream positions (seek.go), or nil

	// explain is set while an explanation is being built: calls then
	// record how deep a failing body got.
	trace *failTrace
}

func newSolver(e *Evaluator) *solver {
	s := &solver{e: e}
	s.collectFn = s.collect
	s.collectIDsFn = s.collectIDs
	return s
}

// collect is the Source.Match callback: it appends the handles of a
// fact's arguments to tmp. A fact holding a value without a type (no store
// keeps one) or a wildcard (only this package could make one) is ignored:
// a stored or context fact must never grant on every value.
func (s *solver) collect(args []term.Value) bool {
	for _, a := range args {
		if a.Type == "" || isWild(a) {
			return true
		}
	}
	for _, a := range args {
		s.tmp = append(s.tmp, s.handle(a))
	}
	return true
}

// acquire takes a solver for one query over src; a non-zero now is the
// instant @current_unix_time reads (else the evaluator's clock, once).
func (e *Evaluator) acquire(ctx context.Context, src Source, now time.Time) *solver {
	s, _ := e.pool.Get().(*solver)
	if s == nil {
		s = newSolver(e)
	}
	if src == nil {
		src = emptySource{}
	}
	s.ctx, s.src = ctx, src
	s.startIDs(src)
	s.err, s.work, s.nowSet, s.nowAt = nil, 0, false, now
	s.minDep, s.epoch, s.nAnswers = noDep, 0, 0
	s.abstracted, s.inexact = false, false
	s.unfold, s.unfolding, s.seek = false, s.unfolding[:0], nil
	if err := ctx.Err(); err != nil {
		s.err = fmt.Errorf("evaluating query: %w", err)
	}
	return s
}

// bigState is the size past which pooled buffers are dropped rather than
// kept, so that one huge query does not pin memory in the pool.
const bigState = 1 << 18

// done ends a query: it returns s to the pool, or, when evaluation
// panicked (a bug), turns the panic into the query's error and drops s,
// whose state is unknown. A bug fails one query, never the server.
func (e *Evaluator) done(s *solver, err *error) {
	s.releaseReads()
	if r := recover(); r != nil {
		*err = fmt.Errorf("evaluator: internal error: %v", r)
		return
	}
	e.release(s)
}

func (e *Evaluator) release(s *solver) {
	s.releaseReads()
	s.holder = nil
	s.tindex.reset(bigState / 8)
	s.aindex.reset(bigState / 8)
	if cap(s.vals) > bigState || cap(s.tmp) > bigState || cap(s.ans) > bigState {
		s.vals, s.tmp, s.ans, s.tables = nil, nil, nil, nil
	}
	if cap(s.locals) > bigState {
		s.locals, s.localIdx = nil, nil
	}
	clear(s.patVals)
	clear(s.locals)
	clear(s.xtypes)
	if len(s.localIdx) > 0 {
		clear(s.localIdx)
	}
	if len(s.xtypeNum) > 0 {
		clear(s.xtypeNum)
	}
	s.locals, s.patVals, s.xtypes = s.locals[:0], s.patVals[:0], s.xtypes[:0]
	s.vals, s.tables, s.ans = s.vals[:0], s.tables[:0], s.ans[:0]
	s.frame, s.alias, s.trail, s.tmp, s.pat = s.frame[:0], s.alias[:0], s.trail[:0], s.tmp[:0], s.pat[:0]
	s.stack, s.incomplete, s.wantStack = s.stack[:0], s.incomplete[:0], s.wantStack[:0]
	s.ctx, s.src, s.ids, s.consts, s.trace = nil, nil, nil, nil, nil
	e.pool.Put(s)
}

func (s *solver) fail(err error) {
	if s.err == nil {
		s.err = err
	}
}

// tick counts one step of work and checks the limits; it reports whether
// evaluation may go on.
func (s *solver) tick() bool {
	if s.err != nil {
		return false
	}
	s.work++
	if s.work > s.e.lim.MaxWork {
		s.fail(fmt.Errorf("%w: more than %d steps", ErrWorkExceeded, s.e.lim.MaxWork))
		return false
	}
	if s.work&1023 == 0 {
		if s.held != nil {
			s.held.PauseReads() // a long check does not hold writers up
		}
		if err := s.ctx.Err(); err != nil {
			s.fail(fmt.Errorf("evaluating query: %w", err))
			return false
		}
	}
	return true
}

// nowVal returns the handle of @current_unix_time.
func (s *solver) nowVal() hval {
	if !s.nowSet {
		at := s.nowAt
		if at.IsZero() {
			at = s.e.clock()
		}
		s.now, s.nowSet = s.handle(term.Integer(at.Unix())), true
	}
	return s.now
}

// hash hashes a table key or an answer: seed, then each handle.
func hash(seed uint64, vals []hval) uint64 {
	const k = 0x9E3779B97F4A7C15
	h := (seed + 1) * k
	for _, v := range vals {
		h = (h ^ uint64(v)) * k
	}
	return h ^ h>>31
}

// equalVals reports whether two table keys or answers are the same:
// handle for handle (a wildcard is a kind of handle of its own, see hval).
func equalVals(a, b []hval) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// solve returns the table of p(args), evaluating it if needed. Wildcards
// in args are unbound arguments; their type constraint is part of the
// subgoal, so that rules for other types are not even tried (a list of
// Repository resources never evaluates the Issue rules).
//
// Past half of Limits.MaxDepth, a new subgoal is abstracted (see
// abstract), so that a long chain of recursive calls (a folder in a folder
// in a folder...) is answered from one table rather than from one nested
// table per link.
func (s *solver) solve(p *predInfo, args []hval) int32 {
	off := len(s.vals)
	ground := true
	for _, a := range args {
		if a.isWild() {
			a = a.plain()
			ground = false
		}
		s.vals = append(s.vals, a)
	}
	h, head, tid := s.lookup(p, off)
	if tid < 0 && s.depth() >= s.e.lim.MaxDepth/2 && s.abstract(p, s.vals[off:]) {
		ground = false
		h, head, tid = s.lookup(p, off)
	}
	if tid >= 0 {
		s.vals = s.vals[:off]
		s.use(tid)
		return tid
	}
	tid = int32(len(s.tables))
	s.tindex.set(h, tid)
	s.tables = append(s.tables, table{pred: p, argOff: int32(off), next: head, first: -1, last: -1, pos: -1, ground: ground})
	s.evalTable(tid)
	return tid
}

// lookup finds the table of p whose arguments are the key at off in vals
// (to its end). It returns the key's hash, the first table of its bucket
// (-1 when empty) and the table, -1 when there is none.
func (s *solver) lookup(p *predInfo, off int) (h uint64, head, tid int32) {
	key := s.vals[off:]
	h = hash(uint64(p.id), key)
	head, found := s.tindex.get(h)
	if !found {
		return h, -1, -1
	}
	for tid := head; tid >= 0; tid = s.tables[tid].next {
		t := &s.tables[tid]
		if t.pred == p && equalVals(s.vals[t.argOff:int(t.argOff)+p.arity], key) {
			return h, head, tid
		}
	}
	return h, head, -1
}

// abstract generalizes the subgoal p(key) against the innermost active
// table of p: every bound argument that differs from that table's becomes
// a wildcard of its type. A recursive call that walks a chain (has_role on
// a folder, then on its parent, ...) thus becomes the table the chain
// started from with the walking argument unbound, which the fixpoint
// iteration of its component answers without nesting deeper; the caller
// keeps the answers that match the bound values. It reports whether key
// changed.
//
// The answers of the general table are exact, but for a negation or a
// comparison over a wildcard the rule returns, which is conservative (see
// the package comment): a query that needs both fails with
// ErrDepthExceeded, as it did before abstracting.
func (s *solver) abstract(p *predInfo, key []hval) bool {
	for i := len(s.stack) - 1; i >= 0; i-- {
		t := &s.tables[s.stack[i]]
		if t.pred != p {
			continue
		}
		outer := s.vals[t.argOff : int(t.argOff)+p.arity]
		changed := false
		for k, v := range key {
			if !v.isWild() && v != outer[k] {
				key[k] = wildH(v.typ())
				changed = true
			}
		}
		if changed {
			s.abstracted = true
			if s.inexact {
				s.fail(s.depthExceeded())
			}
		}
		return changed
	}
	return false
}

// conservative records that a negation or a comparison dropped answers
// over a wildcard: those of an abstracted subgoal are then not exact.
func (s *solver) conservative() {
	s.inexact = true
	if s.abstracted {
		s.fail(s.depthExceeded())
	}
}

func (s *solver) depthExceeded() error {
	return fmt.Errorf("%w: more than %d nested calls", ErrDepthExceeded, s.e.lim.MaxDepth)
}

// use records a dependency on an existing table, re-evaluating it when it
// is incomplete from an earlier iteration of its SCC.
func (s *solver) use(tid int32) {
	t := &s.tables[tid]
	switch t.state {
	case stActive:
		if !(t.ground && t.nAns > 0) {
			s.dep(t.pos)
		}
	case stIncomplete:
		if t.epoch == s.epoch {
			s.dep(t.leader)
		} else {
			s.evalTable(tid)
		}
	}
}

func (s *solver) dep(pos int32) {
	if pos < s.minDep {
		s.minDep = pos
	}
}

// evalTable evaluates a table. A table that depends on an active table
// below it on the stack is left incomplete, to be completed by the leader
// of its strongly connected component, which re-evaluates the component
// until no new answer appears.
func (s *solver) evalTable(tid int32) {
	if s.depth() >= s.e.lim.MaxDepth {
		s.fail(s.depthExceeded())
		return
	}
	if tid&63 == 63 {
		if err := s.ctx.Err(); err != nil {
			s.fail(fmt.Errorf("evaluating query: %w", err))
			return
		}
	}
	pos := int32(len(s.stack))
	s.stack = append(s.stack, tid)
	mark := len(s.incomplete)
	saved := s.minDep
	var iterStart int32
	for {
		iterStart = s.epoch
		t := &s.tables[tid]
		t.state, t.pos, t.epoch, t.seenMin = stActive, pos, s.epoch, noDep
		s.minDep = noDep
		before := s.nAnswers
		s.runTable(tid)
		t = &s.tables[tid]
		if s.err != nil {
			break
		}
		dep := s.minDep
		if t.ground && t.nAns > 0 {
			// The answer set of a ground goal cannot grow: done. Members
			// of its component that depend on it are recomputed on their
			// next use; those that depend on older tables stay pending.
			kept := s.incomplete[:mark]
			for _, m := range s.incomplete[mark:] {
				if mt := &s.tables[m]; mt.leader < pos {
					mt.leader = min(mt.leader, dep)
					kept = append(kept, m)
				} else {
					mt.epoch = -1
				}
			}
			s.incomplete = kept
			t.state, t.pos = stComplete, -1
			s.stack = s.stack[:pos]
			s.minDep = saved
			if len(kept) > mark {
				s.dep(dep)
			}
			return
		}
		if dep < pos {
			t.state, t.pos, t.leader = stIncomplete, -1, dep
			for _, m := range s.incomplete[mark:] {
				s.tables[m].leader = dep
			}
			s.incomplete = append(s.incomplete, tid)
			s.stack = s.stack[:pos]
			s.minDep = min(saved, dep)
			return
		}
		if dep == pos && s.nAnswers > before {
			if len(s.incomplete) == mark && t.seenMin >= t.nAns {
				// The component is this table alone, and every loop over
				// its answers ran past the last one: nothing was missed,
				// another pass would find nothing new.
				break
			}
			s.epoch++
			continue
		}
		break
	}
	// The last iteration added nothing: the members it evaluated are
	// complete. A member it did not reach (a path cut short by a ground
	// goal that found its answer) may lack answers: it is recomputed on
	// its next use.
	for _, m := range s.incomplete[mark:] {
		if mt := &s.tables[m]; mt.epoch >= iterStart {
			mt.state = stComplete
		} else {
			mt.epoch = -1
		}
	}
	s.incomplete = s.incomplete[:mark]
	t := &s.tables[tid]
	t.state, t.pos = stComplete, -1
	s.stack = s.stack[:pos]
	s.minDep = saved
}

// runTable adds the matching facts (once) and the answers of every rule.
func (s *solver) runTable(tid int32) {
	t := &s.tables[tid]
	p := t.pred
	if !t.factsDone {
		t.factsDone = true
		start := len(s.tmp)
		pstart := len(s.pat)
		typed := false
		for _, a := range s.vals[t.argOff : int(t.argOff)+p.arity] {
			if a.isWild() {
				typed = typed || a.typ() != 0
				a = freeH
			}
			s.pat = append(s.pat, a)
		}
		s.matchFacts(p, s.pat[pstart:])
		s.pat = s.pat[:pstart]
	facts:
		for off := start; off+p.arity <= len(s.tmp); off += p.arity {
			if !s.tick() {
				break
			}
			if typed {
				for k, a := range s.vals[s.tables[tid].argOff : int(s.tables[tid].argOff)+p.arity] {
					if a.isWild() && !s.typeMatches(s.tmp[off+k].typ(), a.typ()) {
						continue facts
					}
				}
			}
			aoff := len(s.vals)
			s.vals = append(s.vals, s.tmp[off:off+p.arity]...)
			if !s.commit(tid, aoff) {
				break
			}
		}
		s.tmp = s.tmp[:start]
	}
	argOff := int(s.tables[tid].argOff)
	for _, r := range s.rulesFor(p, s.vals[argOff:argOff+p.arity]) {
		if s.err != nil || (s.tables[tid].ground && s.tables[tid].nAns > 0) {
			return
		}
		s.runRule(tid, argOff, r, nil)
	}
}

// runRule unifies the head of r with the arguments at argOff in vals and
// runs its body. When bc is nil, solutions become answers of table tid.
func (s *solver) runRule(tid int32, argOff int, r *crule, bc *bodyCtx) {
	if !s.tick() {
		return
	}
	base := len(s.frame)
	for _, t := range r.varTnums {
		s.push(wildH(t))
	}
	mark := len(s.trail)
	var mask uint
	ok := true
	for i := range r.head {
		h := &r.head[i]
		a := s.vals[argOff+i]
		if a.isWild() {
			if a.typ() != 0 && !s.unifyVal(base, h, a) {
				ok = false
				break
			}
			continue
		}
		if !s.unifyVal(base, h, a) {
			ok = false
			break
		}
		mask |= 1 << uint(i)
	}
	if ok {
		own := bc == nil
		if own {
			// From the solver's free list: a body context escapes (the
			// unfolded calls of a list capture it), and nothing holds it
			// once the body has run.
			if n := len(s.bcFree); n > 0 {
				bc, s.bcFree = s.bcFree[n-1], s.bcFree[:n-1]
			} else {
				bc = new(bodyCtx)
			}
			*bc = bodyCtx{kind: emitTable, tid: tid, rule: r}
		}
		plan := r.plan(mask)
		if s.trace != nil && s.trace.base == base && s.trace.plan == nil {
			s.trace.plan = plan
		}
		s.body(bc, base, plan, 0)
		if own {
			*bc = bodyCtx{}
			s.bcFree = append(s.bcFree, bc)
		}
	}
	s.undo(mark)
	s.pop(base)
}

// body runs steps[i:] and emits every solution. It returns false when the
// enumeration must stop (error, or the consumer has what it needs).
func (s *solver) body(bc *bodyCtx, base int, steps []step, i int) bool {
	if i == len(steps) {
		return s.emit(bc, base)
	}
	if !s.tick() {
		return false
	}
	if s.trace != nil {
		s.trace.reached(s, base, steps, i)
	}
	st := &steps[i]
	l := st.lit
	mark := len(s.trail)
	cont := true
	switch l.kind {
	case litCall:
		return s.call(bc, base, steps, i)
	case litUnify:
		if s.unify(base, &l.args[0], &l.args[1]) {
			cont = s.body(bc, base, steps, i+1)
		}
	case litCompare:
		if s.compare(base, l) || (l.op == "!=" && s.someValueDiffers(base, l, st.exist)) {
			cont = s.body(bc, base, steps, i+1)
		} else if l.op != "==" && s.anyWild(base, l.vars) {
			s.conservative()
			cont = s.err == nil
		}
	case litIn:
		list := l.args[1]
		if list.kind == opList {
			for k := range list.list {
				if s.unify(base, &l.args[0], &list.list[k]) {
					cont = s.body(bc, base, steps, i+1)
				}
				s.undo(mark)
				if !cont {
					break
				}
			}
		}
	case litMatches:
		v := s.resolve(base, &l.args[0])
		if !v.isWild() {
			if s.typeMatches(v.typ(), l.tnum) {
				cont = s.body(bc, base, steps, i+1)
			}
		} else if t, ok := s.typeIntersect(v.typ(), l.tnum); ok {
			if l.args[0].kind == opVar && t != v.typ() {
				s.bind(s.deref(base+l.args[0].slot), wildH(t))
			}
			cont = s.body(bc, base, steps, i+1)
		}
	case litNot:
		if wild := s.existentialWildcards(base, st); wild != nil {
			// not G, where G's free variables hold wildcards nothing
			// else reads: some value satisfies it unless G holds for
			// every value of them.
			for ai := range st.alts {
				if s.holdsForAll(base, st.alts[ai], wild) {
					return s.err == nil
				}
			}
			if s.err != nil {
				return false
			}
			cont = s.body(bc, base, steps, i+1)
			break
		}
		for ai := range st.alts {
			if s.exists(base, st.alts[ai]) {
				if s.anyWild(base, l.vars) {
					s.conservative()
				}
				return s.err == nil
			}
		}
		if s.err != nil {
			return false
		}
		cont = s.body(bc, base, steps, i+1)
	case litFalse:
	}
	s.undo(mark)
	return cont
}

// existentialWildcards returns the frame slots of the negation's
// variables that hold wildcards, when all of them are existential (see
// step.exist); otherwise nil, and the negation treats wildcards as
// unbound (it fails when any value would make its body true: a
// conservative answer for a variable the rule returns).
func (s *solver) existentialWildcards(base int, st *step) []int {
	var out []int
	for _, v := range st.lit.vars {
		idx := s.deref(base + v)
		if !s.frame[idx].isWild() {
			continue
		}
		if !contains(st.exist, v) || s.shared(base, v, idx) {
			return nil
		}
		out = append(out, idx)
	}
	return out
}

// shared reports whether another variable of the rule whose frame starts
// at base is the same variable as slot v (frame index idx): then v is not
// existential, whatever the plan says.
func (s *solver) shared(base, v, idx int) bool {
	for k := base; k < len(s.frame); k++ {
		if k != base+v && s.deref(k) == idx {
			return true
		}
	}
	return false
}

// anyWild reports whether one of the variables vars of the rule whose
// frame starts at base holds a wildcard.
func (s *solver) anyWild(base int, vars []int) bool {
	for _, v := range vars {
		if s.frame[s.deref(base+v)].isWild() {
			return true
		}
	}
	return false
}

// holdsForAll reports whether steps have a solution that leaves every
// slot of wild unbound: one that holds whatever values they take.
func (s *solver) holdsForAll(base int, steps []step, wild []int) bool {
	found := false
	bc := &bodyCtx{kind: emitFunc, fn: func(int) bool {
		for _, idx := range wild {
			if !s.frame[s.deref(idx)].isWild() {
				return true
			}
		}
		found = true
		return false
	}}
	s.body(bc, base, steps, 0)
	return found
}

// someValueDiffers reports whether `a != b` holds for some value of an
// existential wildcard operand: it does, as there are always more values.
func (s *solver) someValueDiffers(base int, l *lit, exist []int) bool {
	a, b := &l.args[0], &l.args[1]
	if a.kind == opVar && b.kind == opVar && s.deref(base+a.slot) == s.deref(base+b.slot) {
		return false // x != x
	}
	for _, o := range l.args {
		if o.kind == opVar && contains(exist, o.slot) && s.resolve(base, &o).isWild() &&
			!s.shared(base, o.slot, s.deref(base+o.slot)) {
			return true
		}
	}
	return false
}

// exists reports whether steps have a solution under the current frame.
func (s *solver) exists(base int, steps []step) bool {
	bc := bodyCtx{kind: emitFound}
	s.body(&bc, base, steps, 0)
	return bc.found
}

func (s *solver) emit(bc *bodyCtx, base int) bool {
	switch bc.kind {
	case emitFound:
		bc.found = true
		return false
	case emitFunc:
		return bc.fn(base)
	}
	off := len(s.vals)
	s.appendHead(bc.rule, base)
	return s.commit(bc.tid, off)
}

// appendHead appends to vals the head of r under the frame at base, as an
// answer: an unbound argument is a wildcard of its type, or an alias
// marker when it is the same variable as an earlier argument.
func (s *solver) appendHead(r *crule, base int) {
	head := r.head
	var slots [maxAlias]int // frame slot of each argument, -1 when none
	for i := range head {
		h := &head[i]
		v := s.resolve(base, h)
		if i < maxAlias {
			slots[i] = -1
		}
		if v.isWild() {
			v = v.plain()
			if h.kind == opVar && i < maxAlias {
				idx := s.deref(base + h.slot)
				slots[i] = idx
				for j := range i {
					if slots[j] == idx {
						v = aliasH(v.typ(), j) // the same unbound variable as argument j
						break
					}
				}
			}
		}
		s.vals = append(s.vals, v)
	}
}

// commit adds the tuple at off in vals as an answer of tid unless it is
// already one. It reports whether the table wants more answers.
func (s *solver) commit(tid int32, off int) bool {
	t := &s.tables[tid]
	n := t.pred.arity
	tuple := s.vals[off : off+n]
	if t.ground {
		if t.nAns > 0 {
			s.vals = s.vals[:off]
		} else {
			s.link(tid, off, -1)
		}
		return false
	}
	h := hash(uint64(tid)+1<<40, tuple)
	head, ok := s.aindex.get(h)
	if !ok {
		head = -1
	}
	for a := head; a >= 0; a = s.ans[a].dup {
		if s.ans[a].tid == tid && equalVals(s.vals[s.ans[a].off:int(s.ans[a].off)+n], tuple) {
			s.vals = s.vals[:off]
			return true
		}
	}
	s.aindex.set(h, s.link(tid, off, head))
	return true
}

func (s *solver) link(tid int32, off int, dup int32) int32 {
	id := int32(len(s.ans))
	s.ans = append(s.ans, ansNode{off: int32(off), tid: tid, next: -1, dup: dup})
	t := &s.tables[tid]
	if t.last >= 0 {
		s.ans[t.last].next = id
	} else {
		t.first = id
	}
	t.last = id
	t.nAns++
	s.nAnswers++
	return id
}

// call runs a call literal: facts only, or through the table of the
// subgoal when the predicate has rules.
func (s *solver) call(bc *bodyCtx, base int, steps []step, i int) bool {
	l := steps[i].lit
	p := l.pred
	n := p.arity
	if len(l.args) != n {
		return true
	}
	pstart := len(s.pat)
	for k := range l.args {
		s.pat = append(s.pat, s.resolve(base, &l.args[k]))
	}
	if s.unfold && len(s.stack) == 0 {
		if tid, ok := s.unfoldOrTable(pstart, n, p); !ok {
			return s.unfoldCall(bc, base, steps, i, pstart)
		} else if tid >= 0 {
			return s.callAnswers(bc, base, steps, i, tid)
		}
		return false
	}
	if len(p.rules) == 0 {
		for k := pstart; k < pstart+n; k++ {
			if s.pat[k].isWild() {
				s.pat[k] = freeH
			}
		}
		start := len(s.tmp)
		s.matchFacts(p, s.pat[pstart:pstart+n])
		s.pat = s.pat[:pstart]
		for off := start; off+n <= len(s.tmp); off += n {
			if !s.tick() {
				s.tmp = s.tmp[:start]
				return false
			}
			mark := len(s.trail)
			cont := true
			if s.unifyArgs(base, l.args, s.tmp, off) {
				cont = s.body(bc, base, steps, i+1)
			}
			s.undo(mark)
			if !cont {
				s.tmp = s.tmp[:start]
				return false
			}
		}
		s.tmp = s.tmp[:start]
		return true
	}
	tid := s.solve(p, s.pat[pstart:pstart+n])
	s.pat = s.pat[:pstart]
	if s.err != nil {
		return false
	}
	return s.callAnswers(bc, base, steps, i, tid)
}

// callAnswers runs steps[i+1:] for each answer of table tid that unifies
// with the arguments of the call steps[i].
func (s *solver) callAnswers(bc *bodyCtx, base int, steps []step, i int, tid int32) bool {
	l := steps[i].lit
	for a := s.tables[tid].first; a >= 0; a = s.ans[a].next {
		if !s.tick() {
			return false
		}
		mark := len(s.trail)
		cont := true
		if s.unifyArgs(base, l.args, s.vals, int(s.ans[a].off)) {
			cont = s.body(bc, base, steps, i+1)
		}
		s.undo(mark)
		if !cont {
			return false
		}
	}
	if t := &s.tables[tid]; t.state == stActive && t.nAns < t.seenMin {
		t.seenMin = t.nAns
	}
	return true
}

// answerMatches reports whether the answer at off in vals holds for the
// ground values want.
func (s *solver) answerMatches(off int, want []hval) bool {
	for k, w := range want {
		v := s.vals[off+k]
		if j, ok := v.alias(); ok && j < k && want[j] != w {
			return false
		}
		if !s.matchVal(w, v) {
			return false
		}
	}
	return true
}

// unifyArgs unifies call arguments with the values at off in src. src is
// re-read by index because nested calls may grow it.
func (s *solver) unifyArgs(base int, args []operand, src []hval, off int) bool {
	for k := range args {
		if j, ok := src[off+k].alias(); ok && j < k {
			// The answer says: the same (any) value as argument j.
			if !s.unify(base, &args[k], &args[j]) {
				return false
			}
			continue
		}
		if !s.unifyVal(base, &args[k], src[off+k]) {
			return false
		}
	}
	return true
}

// push adds an unaliased frame slot holding v.
func (s *solver) push(v hval) {
	s.frame = append(s.frame, v)
	s.alias = append(s.alias, -1)
}

// pop drops the frame slots from base on.
func (s *solver) pop(base int) {
	s.frame, s.alias = s.frame[:base], s.alias[:base]
}

// deref follows aliases from frame slot idx to the slot that holds the
// variable's value.
func (s *solver) deref(idx int) int {
	for s.alias[idx] >= 0 {
		idx = int(s.alias[idx])
	}
	return idx
}

func (s *solver) resolve(base int, o *operand) hval {
	switch o.kind {
	case opVar:
		return s.frame[s.deref(base+o.slot)]
	case opConst:
		return s.constOf(o)
	case opNow:
		return s.nowVal()
	}
	return wildH(0) // a list operand (unify takes lists element by element)
}

// constOf returns the handle of constant operand o: the program's
// constants' from their numbers, a list walk's actor's as made once for
// the walk, any other's (a policy test's) from its value.
func (s *solver) constOf(o *operand) hval {
	switch {
	case o.cnum > 0:
		return s.constHandle(o.cnum - 1)
	case o.cnum < 0:
		return o.h
	}
	return s.handle(o.val)
}

func (s *solver) bind(idx int, v hval) {
	s.trail = append(s.trail, trailEntry{idx: idx, old: s.frame[idx], oldAlias: s.alias[idx]})
	s.frame[idx] = v
}

// linkVar makes slot idx an alias of slot to (both unbound).
func (s *solver) linkVar(idx, to int) {
	s.trail = append(s.trail, trailEntry{idx: idx, old: s.frame[idx], oldAlias: s.alias[idx]})
	s.alias[idx] = int32(to)
}

func (s *solver) undo(mark int) {
	for i := len(s.trail) - 1; i >= mark; i-- {
		e := &s.trail[i]
		s.frame[e.idx], s.alias[e.idx] = e.old, e.oldAlias
	}
	s.trail = s.trail[:mark]
}

// matchVal reports whether the concrete value c unifies with v, which may
// be a wildcard.
func (s *solver) matchVal(c, v hval) bool {
	if v.isWild() {
		return s.typeMatches(c.typ(), v.typ())
	}
	return c == v
}

// unifyVal unifies operand o with value v (concrete or wildcard).
func (s *solver) unifyVal(base int, o *operand, v hval) bool {
	switch o.kind {
	case opConst:
		return s.matchVal(s.constOf(o), v)
	case opNow:
		return s.matchVal(s.nowVal(), v)
	case opVar:
		idx := s.deref(base + o.slot)
		cur := s.frame[idx]
		if !cur.isWild() {
			return s.matchVal(cur, v)
		}
		if !v.isWild() {
			if !s.typeMatches(v.typ(), cur.typ()) {
				return false
			}
			s.bind(idx, v)
			return true
		}
		t, ok := s.typeIntersect(cur.typ(), v.typ())
		if !ok {
			return false
		}
		if t != cur.typ() {
			s.bind(idx, wildH(t))
		}
		return true
	}
	return false
}

// unify unifies two operands; lists unify element by element. A variable
// is never bound to a list.
func (s *solver) unify(base int, a, b *operand) bool {
	if a.kind == opList || b.kind == opList {
		if a.kind != opList || b.kind != opList || len(a.list) != len(b.list) {
			return false
		}
		for i := range a.list {
			if !s.unify(base, &a.list[i], &b.list[i]) {
				return false
			}
		}
		return true
	}
	if a.kind == opVar && b.kind == opVar {
		ia, ib := s.deref(base+a.slot), s.deref(base+b.slot)
		if ia == ib {
			return true
		}
		va, vb := s.frame[ia], s.frame[ib]
		if va.isWild() && vb.isWild() {
			// Two unbound variables become one, constrained by both types.
			t, ok := s.typeIntersect(va.typ(), vb.typ())
			if !ok {
				return false
			}
			if t != vb.typ() {
				s.bind(ib, wildH(t))
			}
			s.linkVar(ia, ib)
			return true
		}
	}
	va := s.resolve(base, a)
	if va.isWild() && a.kind == opVar {
		return s.unifyVal(base, a, s.resolve(base, b))
	}
	return s.unifyVal(base, b, va)
}

// compare evaluates a comparison. Ordering applies to two Integers or two
// Strings; anything else is false. `==` on an unbound side unifies.
func (s *solver) compare(base int, l *lit) bool {
	a, b := s.resolve(base, &l.args[0]), s.resolve(base, &l.args[1])
	if a.isWild() || b.isWild() {
		if l.op == "==" {
			return s.unify(base, &l.args[0], &l.args[1])
		}
		return false
	}
	switch l.op {
	case "==": // one handle a value (see hval)
		return a == b
	case "!=":
		return a != b
	}
	return compareValues(l.op, s.value(a), s.value(b))
}
