package evaluator

import (
	"github.com/castellan-authz/castellan/lang"
	"github.com/castellan-authz/castellan/lang/ast"
	"github.com/castellan-authz/castellan/lang/term"
)

// maxPlannedArity bounds the arity for which a plan is precomputed for
// every binding pattern; rules of larger arity are planned per call.
const maxPlannedArity = 8

// maxDisjuncts bounds the disjunctive normal form of one rule body.
const maxDisjuncts = 1024

// predInfo is one predicate (name and arity) with the rules that derive it.
// A predicate without rules is answered from facts alone.
type predInfo struct {
	id    int
	name  string
	arity int
	rules []*crule
	// byConst[k], when not nil, maps a constant to the rules whose head
	// argument k is that constant or not a constant, in source order; a
	// bound argument k not in the map selects nonConst[k]. It spares
	// trying the rules of every other action or role.
	byConst  []map[term.Value][]*crule
	nonConst [][]*crule
	// byNum[k] holds the sets of byConst[k] by the number of the constant
	// in the evaluator's cvals, sorted by number (see numberRules).
	byNum [][]numRules
}

// numRules is the set of rules of byConst[k] for constant number num.
type numRules struct {
	num   int32
	rules []*crule
}

// indexRules builds byConst and nonConst.
func (p *predInfo) indexRules() {
	for k := range p.arity {
		consts := map[term.Value]bool{}
		for _, r := range p.rules {
			if k < len(r.head) && r.head[k].kind == opConst {
				consts[r.head[k].val] = true
			}
		}
		if len(consts) == 0 {
			continue
		}
		if p.byConst == nil {
			p.byConst = make([]map[term.Value][]*crule, p.arity)
			p.nonConst = make([][]*crule, p.arity)
		}
		m := make(map[term.Value][]*crule, len(consts))
		for c := range consts {
			for _, r := range p.rules {
				if k >= len(r.head) || r.head[k].kind != opConst || r.head[k].val == c {
					m[c] = append(m[c], r)
				}
			}
		}
		for _, r := range p.rules {
			if k >= len(r.head) || r.head[k].kind != opConst {
				p.nonConst[k] = append(p.nonConst[k], r)
			}
		}
		p.byConst[k] = m
	}
}

// numberRules builds byNum from byConst and the program's distinct
// constants.
func (p *predInfo) numberRules(cvals []term.Value) {
	for k, m := range p.byConst {
		if m == nil {
			continue
		}
		if p.byNum == nil {
			p.byNum = make([][]numRules, p.arity)
		}
		for n, c := range cvals {
			if rules, ok := m[c]; ok {
				p.byNum[k] = append(p.byNum[k], numRules{num: int32(n), rules: rules})
			}
		}
	}
}

// rulesFor is p.rulesFor on handles: the rules of a constant argument are
// found by the constant's number (byNum), no value's text hashed, but
// for a value of a source without generations (a request's context
// facts over the store), found by its value.
func (s *solver) rulesFor(p *predInfo, args []hval) []*crule {
	rules := p.rules
	for k, m := range p.byConst {
		if m == nil || args[k].isWild() {
			continue
		}
		var cand []*crule
		switch h := args[k]; h.kind() {
		case hConst:
			cand = p.numRules(k, int32(h.id()))
		case hLocal:
			cand = p.nonConst[k] // a constant the source lacks is an hConst
		default:
			if s.consts != nil {
				cand = p.numRules(k, s.selectorOf(h))
			} else {
				cand = p.constRules(k, s.value(h), nil)
			}
		}
		if len(cand) < len(rules) {
			rules = cand
		}
	}
	return rules
}

// numRules returns the rules of p whose argument k may be the constant
// number n (-1: a value that is no constant of byConst[k]).
func (p *predInfo) numRules(k int, n int32) []*crule {
	// A binary search written out, on the path of every rule call: no
	// comparison function to call.
	nr := p.byNum[k]
	i, j := 0, len(nr)
	for i < j {
		h := int(uint(i+j) >> 1)
		if nr[h].num < n {
			i = h + 1
		} else {
			j = h
		}
	}
	if i < len(nr) && nr[i].num == n {
		return nr[i].rules
	}
	return p.nonConst[k]
}

// rulesFor returns the rules that may match arguments args.
func (p *predInfo) rulesFor(args []term.Value) []*crule {
	return p.selectRules(args, nil)
}

// selectRules returns the rules that may match args: those of the
// argument bound to a constant with the fewest candidates. With consts, a
// constant spelled as in the program is found by its number (byNum), else
// by its value (byConst).
func (p *predInfo) selectRules(args []term.Value, consts *constTable) []*crule {
	rules := p.rules
	for k, m := range p.byConst {
		if m == nil || isWild(args[k]) {
			continue
		}
		if cand := p.constRules(k, args[k], consts); len(cand) < len(rules) {
			rules = cand
		}
	}
	return rules
}

// constRules returns the rules of p whose argument k may be the constant
// v: those that name v there and those that name no constant there.
func (p *predInfo) constRules(k int, v term.Value, consts *constTable) []*crule {
	if consts != nil {
		if n := consts.find(v, strHash(v)); n >= 0 {
			return p.numRules(k, consts.num[n])
		}
	}
	if c, ok := p.byConst[k][v]; ok {
		return c
	}
	return p.nonConst[k]
}

type opKind uint8

const (
	opVar opKind = iota
	opConst
	opNow // @current_unix_time
	opList
)

// operand is a compiled term: a frame slot, a constant or a list.
type operand struct {
	kind opKind
	slot int
	val  term.Value
	cnum int32 // a constant of the program: its number in Evaluator.cvals + 1; -1: h; else 0
	h    hval  // the constant's handle, made by the query that made the operand (cnum -1)
	list []operand
}

type litKind uint8

const (
	litCall litKind = iota
	litUnify
	litCompare
	litIn
	litMatches
	litNot
	litFalse
)

// lit is one compiled body literal.
type lit struct {
	kind litKind
	pred *predInfo // litCall
	args []operand // litCall: arguments; others: [left, right] or [term]
	op   string    // litCompare
	typ  string    // litMatches
	tnum uint32    // litMatches: typ's number (see typeNums)
	alts [][]*lit  // litNot: not (alt1 or alt2 ...), each a conjunction
	// vars are the slots the literal must see bound before it runs as a
	// filter (litNot, litCompare, litMatches) or that it binds.
	vars []int
	pos  ast.Position
}

// crule is one compiled rule: a head and a conjunction of literals (a
// rule whose body has `or` becomes several crules).
type crule struct {
	pred     *predInfo
	head     []operand
	lits     []*lit
	nvars    int
	varTypes []string // initial type constraint of each slot
	varTnums []uint32 // their numbers (see typeNums)
	varNames []string
	text     string
	pos      ast.Position
	// plans[mask] orders lits for the binding pattern mask of the head
	// (bit i set: argument i is bound). Nil when the arity is too large.
	plans [][]step
}

// step is one literal of a plan; a negation carries the plans of its
// alternatives.
type step struct {
	lit  *lit
	alts [][]step
	// exist lists, for a negation or a `!=`, the variables it shares with
	// the rule that nothing after it uses and the head does not return:
	// when such a variable holds a wildcard, the literal asks whether
	// some value makes it true.
	exist []int
}

// compiler turns a Program into predicates and plans.
type compiler struct {
	types *typeSys
	preds map[lang.Pred]*predInfo
}

func (c *compiler) pred(p lang.Pred) *predInfo {
	if pi := c.preds[p]; pi != nil {
		return pi
	}
	pi := &predInfo{id: len(c.preds), name: p.Name, arity: p.Arity}
	c.preds[p] = pi
	return pi
}

func compileProgram(p *lang.Program, ts *typeSys) map[lang.Pred]*predInfo {
	c := &compiler{types: ts, preds: map[lang.Pred]*predInfo{}}
	if p == nil {
		return c.preds
	}
	for pr, rules := range p.Rules {
		pi := c.pred(pr)
		for _, r := range rules {
			pi.rules = append(pi.rules, c.rule(pi, r)...)
		}
	}
	for _, pi := range c.preds {
		for _, r := range pi.rules {
			r.planAll()
		}
		pi.indexRules()
	}
	return c.preds
}

// scope numbers the variables of one rule.
type scope struct {
	slots map[string]int
	names []string
}

func (sc *scope) slot(name string) int {
	if s, ok := sc.slots[name]; ok {
		return s
	}
	s := len(sc.names)
	sc.slots[name] = s
	sc.names = append(sc.names, name)
	return s
}

func (c *compiler) term(sc *scope, t lang.Term) operand {
	switch t := t.(type) {
	case lang.Var:
		return operand{kind: opVar, slot: sc.slot(t.Name)}
	case *lang.Var:
		return operand{kind: opVar, slot: sc.slot(t.Name)}
	case lang.Const:
		return operand{kind: opConst, val: t.Value}
	case *lang.Const:
		return operand{kind: opConst, val: t.Value}
	case lang.ConstRef:
		return operand{kind: opNow}
	case *lang.ConstRef:
		return operand{kind: opNow}
	case lang.List:
		return c.list(sc, t.Elems)
	case *lang.List:
		return c.list(sc, t.Elems)
	}
	return operand{kind: opList} // unknown term: an empty list never unifies with a value
}

func (c *compiler) list(sc *scope, elems []lang.Term) operand {
	o := operand{kind: opList, list: make([]operand, len(elems))}
	for i, e := range elems {
		o.list[i] = c.term(sc, e)
	}
	return o
}

// rule compiles one rule into one crule per disjunct of its body.
func (c *compiler) rule(pi *predInfo, r *lang.Rule) []*crule {
	sc := &scope{slots: map[string]int{}}
	head := make([]operand, len(r.Params))
	headTypes := map[int]string{}
	bad := false
	for i, p := range r.Params {
		head[i] = c.term(sc, p.Term)
		if head[i].kind == opVar && p.Type != "" {
			t, ok := c.types.intersect(headTypes[head[i].slot], p.Type)
			if !ok {
				bad = true
			}
			headTypes[head[i].slot] = t
		}
	}
	if bad {
		return nil
	}
	var out []*crule
	for _, conj := range dnf(r.Body) {
		cr := &crule{pred: pi, head: head, text: r.Text, pos: r.Pos}
		types := map[int]string{}
		for s, t := range headTypes {
			types[s] = t
		}
		ok := true
		for _, e := range conj {
			l, keep := c.literal(sc, e, types, true)
			if !keep {
				ok = false
				break
			}
			if l != nil {
				cr.lits = append(cr.lits, l)
			}
		}
		if !ok {
			continue
		}
		cr.lits = substLists(cr.lits, head)
		cr.finish(sc, types)
		out = append(out, cr)
	}
	return out
}

// finish sizes the frame of a rule once every variable is numbered. Rules
// of one source rule share the scope, so slots stay valid for all.
func (cr *crule) finish(sc *scope, types map[int]string) {
	cr.nvars = len(sc.names)
	cr.varNames = sc.names
	cr.varTypes = make([]string, cr.nvars)
	for s, t := range types {
		cr.varTypes[s] = t
	}
	setNotVars(cr.lits, cr.head)
}

// literal compiles one conjunct. At top level a `matches` on a variable
// becomes a type constraint in types (order-independent); it returns
// keep=false when the conjunct can never hold.
func (c *compiler) literal(sc *scope, e lang.Expr, types map[int]string, top bool) (l *lit, keep bool) {
	switch e := e.(type) {
	case lang.Call:
		return c.call(sc, e), true
	case *lang.Call:
		return c.call(sc, *e), true
	case lang.Unify:
		return c.binary(sc, litUnify, "", e.Left, e.Right), true
	case *lang.Unify:
		return c.binary(sc, litUnify, "", e.Left, e.Right), true
	case lang.Compare:
		return c.binary(sc, litCompare, e.Op, e.Left, e.Right), true
	case *lang.Compare:
		return c.binary(sc, litCompare, e.Op, e.Left, e.Right), true
	case lang.In:
		return c.binary(sc, litIn, "", e.Elem, e.List), true
	case *lang.In:
		return c.binary(sc, litIn, "", e.Elem, e.List), true
	case lang.Matches:
		return c.matches(sc, e, types, top)
	case *lang.Matches:
		return c.matches(sc, *e, types, top)
	case lang.Not:
		return c.not(sc, e.Expr), true
	case *lang.Not:
		return c.not(sc, e.Expr), true
	case lang.And, *lang.And, lang.Or, *lang.Or:
		// Only reached inside a negation's normal form, which flattens
		// these; treat defensively as a nested negation of negation.
		return c.not(sc, lang.Not{Expr: e}), true
	}
	return &lit{kind: litFalse}, true
}

func (c *compiler) call(sc *scope, e lang.Call) *lit {
	l := &lit{kind: litCall, pred: c.pred(e.Pred), pos: e.Pos, args: make([]operand, len(e.Args))}
	for i, a := range e.Args {
		l.args[i] = c.term(sc, a)
	}
	l.vars = operandVars(nil, l.args...)
	return l
}

func (c *compiler) binary(sc *scope, k litKind, op string, left, right lang.Term) *lit {
	l := &lit{kind: k, op: op, args: []operand{c.term(sc, left), c.term(sc, right)}}
	l.vars = operandVars(nil, l.args...)
	return l
}

func (c *compiler) matches(sc *scope, e lang.Matches, types map[int]string, top bool) (*lit, bool) {
	o := c.term(sc, e.Term)
	switch o.kind {
	case opConst:
		return nil, c.types.matches(o.val.Type, e.Type)
	case opNow:
		return nil, c.types.matches(term.TypeInteger, e.Type)
	case opList:
		return nil, false
	}
	if top {
		t, ok := c.types.intersect(types[o.slot], e.Type)
		types[o.slot] = t
		return nil, ok
	}
	return &lit{kind: litMatches, typ: e.Type, args: []operand{o}, vars: []int{o.slot}}, true
}

func (c *compiler) not(sc *scope, inner lang.Expr) *lit {
	l := &lit{kind: litNot}
	for _, conj := range dnf(inner) {
		var alt []*lit
		ok := true
		for _, e := range conj {
			il, keep := c.literal(sc, e, nil, false)
			if !keep {
				ok = false
				break
			}
			if il != nil {
				alt = append(alt, il)
			}
		}
		if ok {
			l.alts = append(l.alts, alt)
		}
	}
	return l
}

// setNotVars gives each negation the variables it shares with the rest of
// the rule: those must be bound before it runs. Variables that occur only
// inside it are local.
func setNotVars(lits []*lit, head []operand) {
	for i, l := range lits {
		if l.kind != litNot {
			continue
		}
		outside := map[int]bool{}
		for _, s := range operandVars(nil, head...) {
			outside[s] = true
		}
		for j, o := range lits {
			if j != i {
				for _, s := range litVars(nil, o) {
					outside[s] = true
				}
			}
		}
		l.vars = nil
		for _, s := range litVars(nil, l) {
			if outside[s] {
				l.vars = append(l.vars, s)
			}
		}
		for _, alt := range l.alts {
			setNotVars(alt, nil)
		}
	}
}

// litVars appends every slot mentioned anywhere in l (nested too).
func litVars(dst []int, l *lit) []int {
	dst = operandVars(dst, l.args...)
	for _, alt := range l.alts {
		for _, il := range alt {
			dst = litVars(dst, il)
		}
	}
	return dst
}

func operandVars(dst []int, ops ...operand) []int {
	for _, o := range ops {
		switch o.kind {
		case opVar:
			dst = append(dst, o.slot)
		case opList:
			dst = operandVars(dst, o.list...)
		}
	}
	return dst
}

// dnf returns e in disjunctive normal form: a list of conjunctions.
func dnf(e lang.Expr) [][]lang.Expr {
	switch x := e.(type) {
	case nil:
		return [][]lang.Expr{{}}
	case *lang.And:
		return dnf(*x)
	case *lang.Or:
		return dnf(*x)
	case lang.And:
		res := [][]lang.Expr{{}}
		for _, sub := range x.Exprs {
			d := dnf(sub)
			next := make([][]lang.Expr, 0, len(res)*len(d))
			for _, a := range res {
				for _, b := range d {
					conj := make([]lang.Expr, 0, len(a)+len(b))
					conj = append(append(conj, a...), b...)
					next = append(next, conj)
				}
			}
			if len(next) > maxDisjuncts {
				next = next[:maxDisjuncts]
			}
			res = next
		}
		return res
	case lang.Or:
		var res [][]lang.Expr
		for _, sub := range x.Exprs {
			res = append(res, dnf(sub)...)
		}
		return res
	}
	return [][]lang.Expr{{e}}
}

// planAll computes a plan for every binding pattern of the head.
func (cr *crule) planAll() {
	arity := len(cr.head)
	if arity > maxPlannedArity {
		return
	}
	cr.plans = make([][]step, 1<<arity)
	keep := cr.boundByMask(1<<arity - 1)
	for mask := range cr.plans {
		cr.plans[mask] = planConj(cr.lits, cr.boundByMask(uint(mask)), cr.nvars, keep)
	}
}

// plan returns the plan for the binding pattern mask.
func (cr *crule) plan(mask uint) []step {
	if cr.plans != nil {
		return cr.plans[mask]
	}
	return planConj(cr.lits, cr.boundByMask(mask), cr.nvars, cr.boundByMask(1<<len(cr.head)-1))
}

func (cr *crule) boundByMask(mask uint) []bool {
	bound := make([]bool, cr.nvars)
	for i, h := range cr.head {
		if mask&(1<<uint(i)) == 0 {
			continue
		}
		for _, s := range operandVars(nil, h) {
			bound[s] = true
		}
	}
	return bound
}

// planConj orders lits greedily: at each point the literal that is most
// bound (filters first, then calls by how many of their arguments are
// bound), ties broken by source order. A negation or a `!=` waits for
// every positive literal that shares a variable with it. keep marks the
// variables the caller reads after the conjunction (the head's). bound is
// updated in place.
func planConj(lits []*lit, bound []bool, nvars int, keep []bool) []step {
	if len(bound) < nvars {
		b := make([]bool, nvars)
		copy(b, bound)
		bound = b
	}
	used := make([]bool, len(lits))
	out := make([]step, 0, len(lits))
	for range lits {
		best, bestScore := -1, -2
		for i, l := range lits {
			if used[i] {
				continue
			}
			sc := score(l, bound)
			if isNegative(l) && sharesWithPositive(l, lits, used, i) {
				sc = -1
			}
			if sc > bestScore {
				best, bestScore = i, sc
			}
		}
		used[best] = true
		l := lits[best]
		st := step{lit: l}
		if l.kind == litNot {
			for _, alt := range l.alts {
				inner := make([]bool, len(bound))
				copy(inner, bound)
				st.alts = append(st.alts, planConj(alt, inner, nvars, nil))
			}
		}
		if isNegative(l) {
			for _, v := range l.vars {
				if (keep == nil || v >= len(keep) || !keep[v]) && !sharesWithPositive(&lit{vars: []int{v}}, lits, used, -1) {
					st.exist = append(st.exist, v)
				}
			}
		}
		out = append(out, st)
		switch l.kind {
		case litCall, litUnify, litIn, litCompare:
			for _, s := range l.vars {
				bound[s] = true
			}
		}
	}
	return out
}

// isNegative reports whether l only filters by what does not hold.
func isNegative(l *lit) bool {
	return l.kind == litNot || (l.kind == litCompare && l.op == "!=")
}

// sharesWithPositive reports whether a positive literal not yet planned
// (other than lits[self]) mentions a variable of l.
func sharesWithPositive(l *lit, lits []*lit, used []bool, self int) bool {
	for j, o := range lits {
		if used[j] || j == self || isNegative(o) || o.kind == litMatches {
			continue
		}
		for _, v := range l.vars {
			if contains(o.vars, v) {
				return true
			}
		}
	}
	return false
}

// score rates how good it is to run l next given the bound slots; -1
// means it cannot usefully run yet.
func score(l *lit, bound []bool) int {
	var allBound func(ops ...operand) bool
	allBound = func(ops ...operand) bool {
		for _, o := range ops {
			switch {
			case o.kind == opVar && !bound[o.slot]:
				return false
			case o.kind == opList && !allBound(o.list...):
				return false
			}
		}
		return true
	}
	switch l.kind {
	case litFalse:
		return 2000
	case litUnify:
		lb, rb := allBound(l.args[0]), allBound(l.args[1])
		switch {
		case lb && rb:
			return 900
		case lb || rb:
			return 800
		}
		return -1
	case litCompare:
		if allBound(l.args...) {
			return 900
		}
		if l.op == "==" && (allBound(l.args[0]) || allBound(l.args[1])) {
			return 800
		}
		return -1
	case litMatches:
		if allBound(l.args...) {
			return 900
		}
		return -1
	case litNot:
		for _, s := range l.vars {
			if !bound[s] {
				return -1
			}
		}
		return 850
	case litIn:
		if !allBound(l.args[1]) {
			return -1
		}
		if allBound(l.args[0]) {
			return 900
		}
		return 400
	case litCall:
		if allBound(l.args...) {
			return 500
		}
		n, boundVars := 0, 0
		for _, a := range l.args {
			switch {
			case a.kind == opConst || a.kind == opNow:
				n++
			case a.kind == opVar && bound[a.slot]:
				n += 2
				boundVars++
			}
		}
		if boundVars > 0 && len(l.pred.rules) == 0 {
			// A stored relation looked up by a bound value is small
			// (a resource's parent, an issue's repository); a derived
			// predicate may be as large as everything the actor reaches.
			return 300 + n
		}
		return 100 + n
	}
	return 0
}

// substLists removes `x = [..]` literals that bind a body variable to a
// list, replacing x by the list wherever else it occurs in the conjunction
// (so that `x = ["a", "b"] and y in x` works). A variable is never bound
// to a list at run time; a head variable bound to a list is left alone
// (and the unification fails).
func substLists(lits []*lit, head []operand) []*lit {
	inHead := map[int]bool{}
	for _, s := range operandVars(nil, head...) {
		inHead[s] = true
	}
	for {
		slot, list, at := -1, operand{}, -1
		for i, l := range lits {
			if l.kind != litUnify {
				continue
			}
			a, b := l.args[0], l.args[1]
			if b.kind == opVar && a.kind == opList {
				a, b = b, a
			}
			if a.kind == opVar && b.kind == opList && !inHead[a.slot] && !contains(operandVars(nil, b), a.slot) {
				slot, list, at = a.slot, b, i
				break
			}
		}
		if at < 0 {
			return lits
		}
		lits = append(lits[:at:at], lits[at+1:]...)
		for _, l := range lits {
			substLit(l, slot, list)
		}
	}
}

func contains(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func substLit(l *lit, slot int, list operand) {
	for i := range l.args {
		l.args[i] = substOperand(l.args[i], slot, list)
	}
	l.vars = operandVars(nil, l.args...)
	for _, alt := range l.alts {
		for _, il := range alt {
			substLit(il, slot, list)
		}
	}
}

func substOperand(o operand, slot int, list operand) operand {
	switch o.kind {
	case opVar:
		if o.slot == slot {
			return list
		}
	case opList:
		elems := make([]operand, len(o.list))
		for i, e := range o.list {
			elems[i] = substOperand(e, slot, list)
		}
		o.list = elems
	}
	return o
}
