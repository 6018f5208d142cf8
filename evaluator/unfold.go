package evaluator

import "github.com/castellan-authz/castellan/lang/term"

// A list walk (listWalk) streams the answers of allow(actor, action, R)
// with R unbound instead of tabling them: a call made outside every table
// runs inline, its stored facts read lazily from the source and its rules
// run with the rest of the caller's body as their continuation (SLD
// resolution). An answer is thus found, and can be returned, before the
// next is looked for, and stopping the walk stops the reads. Calls that
// must be tabled still are: a ground call (memoized: it is asked again
// for each candidate), a goal that calls itself (its recursion needs the
// fixpoint of a table), and calls nested deeper than maxUnfold. Inside a
// table every call goes through tables as usual. The answers are those the
// tabled evaluation gives, in derivation order, possibly more than once.

// maxUnfold bounds the goals unfolded inside one another.
const maxUnfold = 32

// unfoldGoal is a goal being unfolded: a predicate and its arguments at
// off in solver.vals (a wildcard for an unbound one).
type unfoldGoal struct {
	pred *predInfo
	off  int
}

// depth is the number of nested calls being evaluated: tables on the
// stack and goals being unfolded.
func (s *solver) depth() int { return len(s.stack) + len(s.unfolding) }

// unfoldOrTable decides how the call whose n arguments are at pstart in
// pat is run during a list walk. It returns ok false when it is to be
// unfolded; else the call was tabled and tid is its table (-1 on error).
func (s *solver) unfoldOrTable(pstart, n int, p *predInfo) (tid int32, ok bool) {
	if len(p.rules) == 0 {
		return -1, false
	}
	if s.depth() >= s.e.lim.MaxDepth {
		s.fail(s.depthExceeded())
		return -1, true
	}
	args := s.pat[pstart : pstart+n]
	ground := true
	for _, a := range args {
		if a.isWild() {
			ground = false
			break
		}
	}
	table := ground || len(s.unfolding) >= maxUnfold
	for k := 0; !table && k < len(s.unfolding); k++ {
		g := s.unfolding[k]
		if g.pred != p {
			continue
		}
		same := true
		for j, a := range args {
			if b := s.vals[g.off+j]; a != b && !(a.isWild() && b.isWild() && a.typ() == b.typ()) {
				same = false
				break
			}
		}
		table = same
	}
	if !table {
		return -1, false
	}
	tid = s.solve(p, args)
	s.pat = s.pat[:pstart]
	if s.err != nil {
		return -1, true
	}
	return tid, true
}

// unfoldCall runs the call steps[i] inline (see above): the stored facts
// of its predicate that match, then each of its rules, each solution
// continuing with steps[i+1:]. It reports whether the enumeration goes on.
func (s *solver) unfoldCall(bc *bodyCtx, base int, steps []step, i, pstart int) bool {
	p := steps[i].lit.pred
	n := p.arity
	off := len(s.vals)
	for _, a := range s.pat[pstart : pstart+n] {
		if a.isWild() {
			a = a.plain()
		}
		s.vals = append(s.vals, a)
	}
	s.pat = s.pat[:pstart]
	nt, na := len(s.tables), len(s.ans)
	s.unfolding = append(s.unfolding, unfoldGoal{pred: p, off: off})
	cont := s.unfoldFacts(bc, base, steps, i, off)
	if cont && len(p.rules) > 0 {
		for _, r := range s.rulesFor(p, s.vals[off:off+n]) {
			if cont = s.unfoldRule(bc, base, steps, i, off, r); !cont {
				break
			}
		}
	}
	s.unfolding = s.unfolding[:len(s.unfolding)-1]
	if len(s.tables) == nt && len(s.ans) == na {
		s.vals = s.vals[:off] // no table keeps anything past off
	}
	return cont && s.err == nil
}

// unfoldFacts runs steps[i+1:] for each stored fact that matches the goal
// at off in vals, read lazily from the source, as runTable adds them as
// answers (a fact holding a wildcard marker is ignored, the type of an
// unbound argument must match).
func (s *solver) unfoldFacts(bc *bodyCtx, base int, steps []step, i, off int) bool {
	l := steps[i].lit
	p := l.pred
	n := p.arity
	pstart := len(s.pat)
	typed := false
	for _, a := range s.vals[off : off+n] {
		if a.isWild() {
			typed = typed || a.typ() != 0
			a = freeH
		}
		s.pat = append(s.pat, a)
	}
	if s.ids != nil {
		cont := s.unfoldFactIDs(bc, base, steps, i, off, pstart, typed)
		s.pat = s.pat[:pstart]
		return cont && s.err == nil
	}
	pat := make([]term.Value, n) // the source may read it between facts
	for k, h := range s.pat[pstart : pstart+n] {
		if h != freeH {
			pat[k] = s.value(h)
		}
	}
	s.pat = s.pat[:pstart]
	cont := true
	s.src.Match(p.name, pat, func(args []term.Value) bool {
		for _, a := range args {
			if isWild(a) {
				return true
			}
		}
		if !s.tick() {
			cont = false
			return false
		}
		start := len(s.tmp)
		defer func() { s.tmp = s.tmp[:start] }()
		for _, a := range args {
			s.tmp = append(s.tmp, s.handle(a))
		}
		if typed {
			for k, a := range s.vals[off : off+n] {
				if a.isWild() && !s.typeMatches(s.tmp[start+k].typ(), a.typ()) {
					return true
				}
			}
		}
		mark := len(s.trail)
		if s.unifyArgs(base, l.args, s.tmp, start) {
			cont = s.body(bc, base, steps, i+1)
		}
		s.undo(mark)
		return cont
	})
	return cont && s.err == nil
}

// unfoldFactIDs is unfoldFacts over an IDSource: the goal's pattern is at
// pstart in pat; each fact's values are put in tmp (at the same place for
// every fact, as nested calls restore tmp's length) and unified from there.
func (s *solver) unfoldFactIDs(bc *bodyCtx, base int, steps []step, i, off, pstart int, typed bool) bool {
	l := steps[i].lit
	p := l.pred
	n := p.arity
	rel := s.relation(p)
	if rel < 0 {
		return true
	}
	// The pattern's ids stay on top of a stack while the walk runs (a
	// source may read them between facts): nested calls push theirs above,
	// and one that grows the stack leaves this region in the old array,
	// which nothing writes any more.
	wstart := len(s.wantStack)
	for _, a := range s.pat[pstart : pstart+n] {
		if a != freeH && a.kind() != hStore {
			s.wantStack = s.wantStack[:wstart]
			return true // no fact holds a
		}
		s.wantStack = append(s.wantStack, a.id())
	}
	want := s.wantStack[wstart : wstart+n : wstart+n]
	q, skip := s.seekOpen(bc, base, steps, i, rel, want, s.vals[off:off+n])
	if skip {
		s.wantStack = s.wantStack[:wstart]
		return true
	}
	start := len(s.tmp)
	s.tmp = append(s.tmp, s.pat[pstart:pstart+n]...)
	cont := true
	s.seekMatch(rel, want, q, func(ids []uint32) bool {
		if q >= 0 && !s.seekPass(ids[q]) {
			return true
		}
		// A bound position holds the pattern's value (in tmp already,
		// its id known): only the others are read and remembered.
		for k, id := range ids {
			if want[k] != 0 {
				continue
			}
			t := s.ids.Value(id).Type
			if t == "" {
				return true
			}
			s.tmp[start+k] = hval(id) | hval(s.tnum(t))<<hTypeShift
		}
		if !s.tick() {
			cont = false
			return false
		}
		if typed {
			for k, a := range s.vals[off : off+n] {
				if a.isWild() && !s.typeMatches(s.tmp[start+k].typ(), a.typ()) {
					return true
				}
			}
		}
		mark := len(s.trail)
		if s.unifyArgs(base, l.args, s.tmp, start) {
			cont = s.body(bc, base, steps, i+1)
		}
		s.undo(mark)
		return cont
	})
	if q >= 0 {
		cont = s.seekClose() && cont
	}
	s.tmp = s.tmp[:start]
	s.wantStack = s.wantStack[:wstart]
	return cont
}

// unfoldRule runs rule r of the goal at off in vals and, for each of its
// solutions, steps[i+1:] with the call's arguments unified with the
// rule's head (as an answer of a table would be).
func (s *solver) unfoldRule(bc *bodyCtx, base int, steps []step, i, off int, r *crule) bool {
	l := steps[i].lit
	cont := true
	rc := &bodyCtx{kind: emitFunc, seek: s.seekRule(bc, base, steps, i, r), fn: func(rbase int) bool {
		toff := len(s.vals)
		nt, na := len(s.tables), len(s.ans)
		s.appendHead(r, rbase)
		mark := len(s.trail)
		if s.unifyArgs(base, l.args, s.vals, toff) {
			cont = s.body(bc, base, steps, i+1)
		}
		s.undo(mark)
		if len(s.tables) == nt && len(s.ans) == na {
			s.vals = s.vals[:toff]
		}
		return cont
	}}
	s.runRule(-1, off, r, rc)
	return cont && s.err == nil
}

// listWalk calls yield with the handle of R in each solution of
// allow(actor, action, R), R unbound of type typ, in derivation order,
// unfolding calls (see above), until yield returns false or the answers
// end. A value may come more than once; a wildcard holds for every value
// of its type.
func (s *solver) listWalk(allow *predInfo, actor term.Value, action, typ string, yield func(hval) bool) {
	base := len(s.frame)
	s.push(wildH(s.tnum(typ)))
	act := operand{kind: opConst, val: term.String(action)}
	if k, ok := s.e.actions[action]; ok {
		act.cnum = k + 1
	}
	l := &lit{kind: litCall, pred: allow, args: []operand{
		{kind: opConst, val: actor, cnum: -1, h: s.handle(actor)}, act, {kind: opVar, slot: 0},
	}}
	steps := []step{{lit: l}}
	bc := &bodyCtx{kind: emitFunc, seek: seekCtx{ans: 1, tail: true}, fn: func(b int) bool { return yield(s.frame[s.deref(b)]) }}
	s.unfold = true
	s.body(bc, base, steps, 0)
	s.unfold = false
	s.pop(base)
}
