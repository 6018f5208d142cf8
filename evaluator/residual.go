package evaluator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/castellan-authz/castellan/lang"
	"github.com/castellan-authz/castellan/lang/term"
)

// ErrUnsupported reports a question whose answer depends on local data in
// a way that cannot be handed to the application's database (a negation
// or an ordering over local data, a non-linear or mutual recursion over
// local facts). The message names the rule.
var ErrUnsupported = errors.New("not supported by local authorization")

// LocalShape is one shape of local facts: facts of predicate Name held by
// the application's database, one argument per type in Types. Where
// Consts[i] is not the zero Value, argument i is always that constant;
// elsewhere the database supplies a value of type Types[i].
type LocalShape struct {
	Name   string
	Types  []string
	Consts []term.Value
}

// RTerm is one argument in a residual: a variable of the conjunction
// (Var >= 0) or, when Var < 0, the constant Val. A negative Var with a
// zero Val stands for any value (an output the conjunction leaves open).
type RTerm struct {
	Var int
	Val term.Value
}

// IsAny reports whether t stands for any value.
func (t RTerm) IsAny() bool { return t.Var < 0 && t.Val.IsZero() }

// AtomKind says what an Atom reads.
type AtomKind uint8

// Kinds of residual atoms.
const (
	// AtomLocal is a row of LocalShape Shape; Args has one term per
	// argument of the shape (constant positions repeat the constant).
	AtomLocal AtomKind = iota
	// AtomTable is a row of the literal table Rows, one value per Arg:
	// stored and context facts the application's data is joined with.
	AtomTable
	// AtomRec is a row of the recursive predicate Rec.
	AtomRec
	// AtomNotEqual holds when Args[0] and Args[1] differ.
	AtomNotEqual
)

// Atom is one condition of a residual conjunction.
type Atom struct {
	Kind  AtomKind
	Shape int
	Rec   int
	Args  []RTerm
	Rows  [][]term.Value
}

// Conj is one conjunction of a residual: it holds for every assignment of
// its variables that satisfies all its atoms, and then answers Out.
type Conj struct {
	// VarTypes is the type of each variable (every variable is read from
	// an atom, so it has one concrete type).
	VarTypes []string
	Atoms    []Atom
	// Out has one term per output of the question (Residual) or per
	// column of the recursive predicate (RecPred).
	Out []RTerm
}

// RecPred is a predicate recursive over local data, to be computed by the
// database as a fixpoint: its rows are those of Base, and of Step applied
// to rows already found. Every Step conjunction reads the predicate once.
type RecPred struct {
	// Name is the policy predicate it specializes, for messages.
	Name  string
	Types []string // type of each column
	Base  []Conj
	Step  []Conj
}

// Residual is what only the application's data can decide about a
// question: the union of Conjs. No conjunction means the answer is
// "nothing"; a conjunction without atoms holds whatever the data.
type Residual struct {
	Outputs []string // names of the outputs, in Conj.Out order
	Conjs   []Conj
	Recs    []RecPred
}

// Limits of a residual.
const (
	maxResidualConjs = 10_000
	maxResidualDepth = 256
)

// Residual partially evaluates q: predicates with a shape in local are
// the application's; stored facts, context facts and rules are evaluated
// here. outputs names the variables of q the residual answers (each must
// be a variable of q). Constraint types are exact, as in Query.
func (e *Evaluator) Residual(ctx context.Context, r Request, local []LocalShape, q Query, outputs []string) (_ *Residual, err error) {
	defer func() {
		if rec := recover(); rec != nil {
			err = fmt.Errorf("evaluator: internal error: %v", rec)
		}
	}()
	p := &partial{
		e: e, ctx: ctx, req: r, src: r.source(), shapes: local,
		local: map[lang.Pred][]int{}, recByKey: map[string]int{},
	}
	for i, sh := range local {
		if len(sh.Types) != len(sh.Consts) {
			return nil, fmt.Errorf("%w: local shape %s: %d types, %d constants", ErrInvalidQuery, sh.Name, len(sh.Types), len(sh.Consts))
		}
		pr := lang.Pred{Name: sh.Name, Arity: len(sh.Types)}
		p.local[pr] = append(p.local[pr], i)
	}
	p.dynamic = e.dynamicPreds(p.local)

	calls := append([]Call{q.Predicate}, q.Calls...)
	st := &pstate{}
	names := map[string]int{}
	var order []string
	varOf := func(name string) (int, error) {
		if v, ok := names[name]; ok {
			return v, nil
		}
		con, ok := q.Constraints[name]
		if !ok {
			return 0, fmt.Errorf("%w: variable %q has no constraint", ErrInvalidQuery, name)
		}
		if con.Type == "" {
			return 0, fmt.Errorf("%w: variable %q has no type", ErrInvalidQuery, name)
		}
		v := st.newVar(con.Type)
		names[name] = v
		order = append(order, name)
		return v, nil
	}
	type qcall struct {
		pred *predInfo
		args []int
	}
	var qcalls []qcall
	for _, cl := range calls {
		if cl.Name == "" {
			return nil, fmt.Errorf("%w: a call has no predicate name", ErrInvalidQuery)
		}
		c := qcall{pred: e.pred(cl.Name, len(cl.Args))}
		for _, a := range cl.Args {
			v, err := varOf(a)
			if err != nil {
				return nil, err
			}
			c.args = append(c.args, v)
		}
		qcalls = append(qcalls, c)
	}
	outVars := make([]int, len(outputs))
	for i, o := range outputs {
		v, ok := names[o]
		if !ok {
			return nil, fmt.Errorf("%w: output %q is not a variable of the query", ErrInvalidQuery, o)
		}
		outVars[i] = v
	}
	// Constraints with ids: one id binds; several branch.
	var lits []*lit
	for i, name := range order {
		con := q.Constraints[name]
		if con.IDs == nil {
			continue
		}
		list := operand{kind: opList}
		for _, id := range con.IDs {
			v, err := term.Normalize(term.Value{Type: con.Type, ID: id})
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrInvalidQuery, name, err)
			}
			list.list = append(list.list, operand{kind: opConst, val: v})
		}
		lits = append(lits, &lit{kind: litIn, args: []operand{{kind: opVar, slot: i}, list}, vars: []int{i}})
	}
	for _, c := range qcalls {
		l := &lit{kind: litCall, pred: c.pred, args: make([]operand, len(c.args))}
		for i, v := range c.args {
			l.args[i] = operand{kind: opVar, slot: v}
		}
		l.vars = operandVars(nil, l.args...)
		lits = append(lits, l)
	}
	exact := make([]string, len(st.vars))
	for i := range st.vars {
		exact[i] = st.vars[i].typ
	}
	res := &Residual{Outputs: outputs}
	top := &frame{env: identity(len(st.vars)), where: "the query"}
	p.conj(st, lits, top, func(st *pstate) {
		for v, t := range exact {
			if !st.exactType(v, t) {
				return
			}
		}
		if c, ok := p.finish(st, outVars); ok {
			res.Conjs = append(res.Conjs, c)
		}
		if len(res.Conjs) > maxResidualConjs {
			p.fail(fmt.Errorf("%w: the question unfolds into more than %d alternatives", ErrWorkExceeded, maxResidualConjs))
		}
	})
	if p.err != nil {
		return nil, p.err
	}
	res.Conjs = p.typeRecRefs(res.Conjs)
	for i := range p.recs {
		p.recs[i].Base = p.typeRecRefs(p.recs[i].Base)
		p.recs[i].Step = p.typeRecRefs(p.recs[i].Step)
	}
	res.Recs = p.recs
	if err := checkRecs(res); err != nil {
		return nil, err
	}
	return res, nil
}

func identity(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// dynamicPreds returns the predicates whose answers depend on local data:
// the local ones and every rule predicate that calls one, transitively.
func (e *Evaluator) dynamicPreds(local map[lang.Pred][]int) map[*predInfo]bool {
	dyn := map[*predInfo]bool{}
	for _, pi := range e.preds {
		if local[lang.Pred{Name: pi.name, Arity: pi.arity}] != nil {
			dyn[pi] = true
		}
	}
	var uses func(lits []*lit) bool
	uses = func(lits []*lit) bool {
		for _, l := range lits {
			if l.kind == litCall && (dyn[l.pred] || local[lang.Pred{Name: l.pred.name, Arity: l.pred.arity}] != nil) {
				return true
			}
			for _, alt := range l.alts {
				if uses(alt) {
					return true
				}
			}
		}
		return false
	}
	for changed := true; changed; {
		changed = false
		for _, pi := range e.preds {
			if dyn[pi] {
				continue
			}
			for _, r := range pi.rules {
				if uses(r.lits) {
					dyn[pi], changed = true, true
					break
				}
			}
		}
	}
	return dyn
}

// pvar is one variable of a partial evaluation.
type pvar struct {
	val  term.Value // the value, once known
	typ  string     // the type constraint while not known
	link int        // the variable it was unified with, or -1
}

// pstate is one branch of a partial evaluation: variables and the atoms
// left for the database.
type pstate struct {
	vars  []pvar
	atoms []patom
}

// patom is an Atom over pstate variables.
type patom struct {
	kind  AtomKind
	shape int
	rec   int
	args  []int
	rows  [][]term.Value
}

func (st *pstate) newVar(typ string) int {
	st.vars = append(st.vars, pvar{typ: typ, link: -1})
	return len(st.vars) - 1
}

func (st *pstate) clone() *pstate {
	c := &pstate{vars: make([]pvar, len(st.vars), len(st.vars)+8), atoms: make([]patom, len(st.atoms), len(st.atoms)+2)}
	copy(c.vars, st.vars)
	copy(c.atoms, st.atoms)
	return c
}

func (st *pstate) find(v int) int {
	for st.vars[v].link >= 0 {
		v = st.vars[v].link
	}
	return v
}

func (st *pstate) ground(v int) (term.Value, bool) {
	x := st.vars[st.find(v)]
	return x.val, !x.val.IsZero()
}

// exactType reports whether variable v can only hold a value of type t.
func (st *pstate) exactType(v int, t string) bool {
	x := st.vars[st.find(v)]
	if !x.val.IsZero() {
		return x.val.Type == t
	}
	return x.typ == t || !st.inAtoms(st.find(v))
}

func (st *pstate) inAtoms(root int) bool {
	for _, a := range st.atoms {
		for _, v := range a.args {
			if st.find(v) == root {
				return true
			}
		}
	}
	return false
}

// partial is one partial evaluation.
type partial struct {
	e        *Evaluator
	ctx      context.Context
	req      Request
	src      Source
	shapes   []LocalShape
	local    map[lang.Pred][]int
	dynamic  map[*predInfo]bool
	stack    []string // keys of the dynamic calls being unfolded
	recs     []RecPred
	recByKey map[string]int
	work     int
	err      error
}

// frame maps the slots of a rule (or of the query) to pstate variables.
type frame struct {
	env   []int
	where string // the rule, for messages
}

func (p *partial) fail(err error) {
	if p.err == nil {
		p.err = err
	}
}

func (p *partial) tick() bool {
	if p.err != nil {
		return false
	}
	p.work++
	if p.work > p.e.lim.MaxWork {
		p.fail(fmt.Errorf("%w: more than %d steps", ErrWorkExceeded, p.e.lim.MaxWork))
		return false
	}
	if p.work&255 == 0 {
		if err := p.ctx.Err(); err != nil {
			p.fail(fmt.Errorf("evaluating query: %w", err))
			return false
		}
	}
	return true
}

func (p *partial) unsupported(f *frame, format string, args ...any) {
	p.fail(fmt.Errorf("%w: %s: %s", ErrUnsupported, f.where, fmt.Sprintf(format, args...)))
}

func ruleWhere(r *crule) string {
	if r.pos.Line > 0 {
		return fmt.Sprintf("%s:%d: rule %s", r.pos.File, r.pos.Line, strings.TrimSuffix(r.text, ";"))
	}
	return "rule " + strings.TrimSuffix(r.text, ";")
}

// operandVar returns the pstate variable of operand o in frame f, adding
// a variable for a constant.
func (p *partial) operandVar(st *pstate, f *frame, o operand) (int, bool) {
	switch o.kind {
	case opVar:
		return f.env[o.slot], true
	case opConst:
		v := st.newVar(o.val.Type)
		st.vars[v].val = o.val
		return v, true
	case opNow:
		v := st.newVar(term.TypeInteger)
		st.vars[v].val = p.now()
		return v, true
	}
	return 0, false
}

// bindVal gives variable v the value val; it reports false when v holds
// another value or a type val does not match.
func (p *partial) bindVal(st *pstate, v int, val term.Value) bool {
	r := st.find(v)
	x := &st.vars[r]
	if !x.val.IsZero() {
		return x.val == val
	}
	if !p.e.types.matches(val.Type, x.typ) {
		return false
	}
	x.val = val
	return true
}

// restrict narrows the type constraint of an unknown variable.
func (p *partial) restrict(st *pstate, v int, typ string) bool {
	r := st.find(v)
	x := &st.vars[r]
	if !x.val.IsZero() {
		return p.e.types.matches(x.val.Type, typ)
	}
	t, ok := p.e.types.intersect(x.typ, typ)
	if ok {
		x.typ = t
	}
	return ok
}

// unifyVars makes a and b one variable.
func (p *partial) unifyVars(st *pstate, a, b int) bool {
	ra, rb := st.find(a), st.find(b)
	if ra == rb {
		return true
	}
	va, vb := st.vars[ra], st.vars[rb]
	switch {
	case !va.val.IsZero() && !vb.val.IsZero():
		return va.val == vb.val
	case !va.val.IsZero():
		if !p.bindVal(st, rb, va.val) {
			return false
		}
	case !vb.val.IsZero():
		if !p.bindVal(st, ra, vb.val) {
			return false
		}
	default:
		t, ok := p.e.types.intersect(va.typ, vb.typ)
		if !ok {
			return false
		}
		st.vars[rb].typ = t
	}
	st.vars[ra].link = rb
	return true
}

// unifyOperand unifies operand o of frame f with variable v.
func (p *partial) unifyOperand(st *pstate, f *frame, o operand, v int) bool {
	switch o.kind {
	case opVar:
		return p.unifyVars(st, f.env[o.slot], v)
	case opConst:
		return p.bindVal(st, v, o.val)
	case opNow:
		return p.bindVal(st, v, p.now())
	}
	return false
}

// groundOperand returns the value of o when known.
func (p *partial) groundOperand(st *pstate, f *frame, o operand) (term.Value, bool) {
	switch o.kind {
	case opVar:
		return st.ground(f.env[o.slot])
	case opConst:
		return o.val, true
	case opNow:
		return p.now(), true
	}
	return term.Value{}, false
}

func (p *partial) allGround(st *pstate, f *frame, ops []operand) bool {
	for _, o := range ops {
		if o.kind == opList {
			if !p.allGround(st, f, o.list) {
				return false
			}
			continue
		}
		if _, ok := p.groundOperand(st, f, o); !ok {
			return false
		}
	}
	return true
}

// conj evaluates the conjunction lits in frame f and calls k with every
// resulting branch.
func (p *partial) conj(st *pstate, lits []*lit, f *frame, k func(*pstate)) {
	if !p.tick() {
		return
	}
	if len(lits) == 0 {
		k(st)
		return
	}
	best, bestScore := 0, -1
	for i, l := range lits {
		if sc := p.priority(st, f, l); sc > bestScore {
			best, bestScore = i, sc
		}
	}
	l := lits[best]
	rest := make([]*lit, 0, len(lits)-1)
	rest = append(append(rest, lits[:best]...), lits[best+1:]...)
	next := func(st *pstate) { p.conj(st, rest, f, k) }
	switch l.kind {
	case litFalse:
	case litUnify:
		p.unify(st, f, l.args[0], l.args[1], next)
	case litCompare:
		p.compare(st, f, l, next)
	case litIn:
		p.in(st, f, l, next)
	case litMatches:
		if v, ok := p.groundOperand(st, f, l.args[0]); ok {
			if p.e.types.matches(v.Type, l.typ) {
				next(st)
			}
			return
		}
		if l.args[0].kind == opVar && p.restrict(st, f.env[l.args[0].slot], l.typ) {
			next(st)
		}
	case litNot:
		p.not(st, f, l, next)
	case litCall:
		if p.dynamic[l.pred] {
			p.dynCall(st, f, l, next)
		} else {
			p.staticCall(st, f, l, next)
		}
	}
}

// priority rates running l next: known filters first, then calls by how
// many arguments are known (static before local), then what is left for
// the database.
func (p *partial) priority(st *pstate, f *frame, l *lit) int {
	switch l.kind {
	case litFalse:
		return 1000
	case litUnify:
		return 900
	case litCompare, litMatches:
		if p.allGround(st, f, l.args) {
			return 900
		}
		if l.kind == litMatches || l.op == "==" {
			return 850
		}
		return 10
	case litIn:
		if p.allGround(st, f, l.args[1:]) {
			return 700
		}
		return 10
	case litNot:
		for _, s := range l.vars {
			if _, ok := st.ground(f.env[s]); !ok {
				return 5
			}
		}
		return 800
	case litCall:
		n := 0
		for _, a := range l.args {
			if _, ok := p.groundOperand(st, f, a); ok {
				n++
			}
		}
		base := 200
		if p.dynamic[l.pred] {
			base = 100
		}
		if n > 0 {
			base += 300
		}
		return base + n*10
	}
	return 0
}

func (p *partial) unify(st *pstate, f *frame, a, b operand, k func(*pstate)) {
	if a.kind == opList || b.kind == opList {
		if a.kind != opList || b.kind != opList || len(a.list) != len(b.list) {
			return
		}
		var step func(st *pstate, i int)
		step = func(st *pstate, i int) {
			if i == len(a.list) {
				k(st)
				return
			}
			p.unify(st, f, a.list[i], b.list[i], func(st *pstate) { step(st, i+1) })
		}
		step(st, 0)
		return
	}
	st = st.clone()
	if a.kind == opVar {
		if p.unifyOperand(st, f, b, f.env[a.slot]) {
			k(st)
		}
		return
	}
	if b.kind == opVar {
		if p.unifyOperand(st, f, a, f.env[b.slot]) {
			k(st)
		}
		return
	}
	va, _ := p.groundOperand(st, f, a)
	vb, _ := p.groundOperand(st, f, b)
	if va == vb {
		k(st)
	}
}

func (p *partial) compare(st *pstate, f *frame, l *lit, k func(*pstate)) {
	a, okA := p.groundOperand(st, f, l.args[0])
	b, okB := p.groundOperand(st, f, l.args[1])
	if okA && okB {
		if compareValues(l.op, a, b) {
			k(st)
		}
		return
	}
	switch l.op {
	case "==":
		p.unify(st, f, l.args[0], l.args[1], k)
		return
	case "!=":
		if l.args[0].kind != opList && l.args[1].kind != opList {
			st = st.clone()
			va, _ := p.operandVar(st, f, l.args[0])
			vb, _ := p.operandVar(st, f, l.args[1])
			st.atoms = append(st.atoms, patom{kind: AtomNotEqual, args: []int{va, vb}})
			k(st)
			return
		}
	}
	p.unsupported(f, "the comparison %s compares a value that only the application's database holds; only == and != can be handed to it", l.op)
}

// compareValues evaluates a comparison of two known values, as the solver
// does.
func compareValues(op string, a, b term.Value) bool {
	switch op {
	case "==":
		return a == b
	case "!=":
		return a != b
	}
	var c int
	switch {
	case a.Type == term.TypeInteger && b.Type == term.TypeInteger:
		x, ok1 := a.Int()
		y, ok2 := b.Int()
		if !ok1 || !ok2 {
			return false
		}
		switch {
		case x < y:
			c = -1
		case x > y:
			c = 1
		}
	case a.Type == term.TypeString && b.Type == term.TypeString:
		c = strings.Compare(a.ID, b.ID)
	default:
		return false
	}
	switch op {
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	}
	return false
}

// in branches over the elements of a known list.
func (p *partial) in(st *pstate, f *frame, l *lit, k func(*pstate)) {
	list := l.args[1]
	if list.kind != opList || !p.allGround(st, f, list.list) {
		p.unsupported(f, "`in` over a list that is not known")
		return
	}
	for _, el := range list.list {
		p.unify(st, f, l.args[0], el, k)
		if p.err != nil {
			return
		}
	}
}

// not evaluates a negation whose alternatives Castellan can decide: it
// holds when no alternative does. An alternative that would need the
// application's data is not supported.
func (p *partial) not(st *pstate, f *frame, l *lit, k func(*pstate)) {
	holds := false
	for _, alt := range l.alts {
		p.conj(st.clone(), alt, f, func(inner *pstate) {
			if len(inner.atoms) > len(st.atoms) {
				p.unsupported(f, "a negation (`not`) over data that only the application's database holds")
				return
			}
			holds = true
		})
		if holds || p.err != nil {
			break
		}
	}
	if !holds && p.err == nil {
		k(st)
	}
}

// callArgs returns a variable for each argument of call l.
func (p *partial) callArgs(st *pstate, f *frame, l *lit) ([]int, bool) {
	args := make([]int, len(l.args))
	for i, o := range l.args {
		v, ok := p.operandVar(st, f, o)
		if !ok {
			p.unsupported(f, "a list as an argument of %s", l.pred.name)
			return nil, false
		}
		args[i] = v
	}
	return args, true
}

// staticCall evaluates a call of a predicate that does not depend on
// local data: the evaluator answers it with what it knows bound.
func (p *partial) staticCall(st *pstate, f *frame, l *lit, k func(*pstate)) {
	st = st.clone()
	args, ok := p.callArgs(st, f, l)
	if !ok {
		return
	}
	q := Query{Predicate: Call{Name: l.pred.name, Args: make([]string, len(args))}, Constraints: map[string]Constraint{}}
	for i, v := range args {
		name := "v" + strconv.Itoa(st.find(v))
		q.Predicate.Args[i] = name
		if val, ok := st.ground(v); ok {
			q.Constraints[name] = Constraint{Type: val.Type, IDs: []string{val.ID}}
		} else {
			q.Constraints[name] = Constraint{}
		}
	}
	rows, err := p.e.QueryValues(p.ctx, p.req, q)
	if err != nil {
		p.fail(err)
		return
	}
	tuples := make([][]term.Value, 0, len(rows))
	for _, row := range rows {
		t := make([]term.Value, len(args))
		for i := range args {
			t[i] = row[q.Predicate.Args[i]]
			if t[i].ID == "" {
				t[i] = wild(t[i].Type)
			}
		}
		tuples = append(tuples, t)
	}
	p.joinTuples(st, args, tuples, k)
}

// joinTuples continues with args equal to one of tuples (a wildcard
// element matches any value of its type): one tuple binds, several become
// a literal table for the database.
func (p *partial) joinTuples(st *pstate, args []int, tuples [][]term.Value, k func(*pstate)) {
	// Keep the tuples that fit what is known, grouped by the pattern of
	// wildcards and types over the unknown arguments.
	type group struct {
		cols []int // argument positions the table reads
		rows [][]term.Value
	}
	groups := map[string]*group{}
	var keys []string
	var kb strings.Builder
next:
	for _, t := range tuples {
		kb.Reset()
		var cols []int
		for i, a := range args {
			r := st.find(a)
			x := st.vars[r]
			v := t[i]
			if isWild(v) {
				if !x.val.IsZero() {
					if !p.e.types.matches(x.val.Type, v.Type) {
						continue next
					}
				} else if _, ok := p.e.types.intersect(x.typ, v.Type); !ok {
					continue next
				}
				kb.WriteString("*" + v.Type + "\x00")
				continue
			}
			if !x.val.IsZero() {
				if x.val != v {
					continue next
				}
				continue
			}
			if !p.e.types.matches(v.Type, x.typ) {
				continue next
			}
			// The same unknown variable twice must get one value.
			for _, c := range cols {
				if st.find(args[c]) == r && t[c] != v {
					continue next
				}
			}
			cols = append(cols, i)
			kb.WriteString(strconv.Itoa(i) + ":" + v.Type + "\x00")
		}
		key := kb.String()
		g := groups[key]
		if g == nil {
			g = &group{cols: cols}
			groups[key] = g
			keys = append(keys, key)
		}
		g.rows = append(g.rows, t)
	}
	sort.Strings(keys)
	for _, key := range keys {
		g := groups[key]
		nst := st.clone()
		ok := true
		// Wildcards narrow the type of what they leave unknown.
		for i, a := range args {
			if v := g.rows[0][i]; isWild(v) && st.vars[st.find(a)].val.IsZero() {
				ok = ok && p.restrict(nst, a, v.Type)
			}
		}
		if !ok {
			continue
		}
		if len(g.rows) == 1 {
			for _, c := range g.cols {
				ok = ok && p.bindVal(nst, args[c], g.rows[0][c])
			}
			if ok {
				k(nst)
			}
			continue
		}
		// One column per distinct unknown variable.
		var tvars, tpos []int
		for _, c := range g.cols {
			r := nst.find(args[c])
			dup := false
			for _, tv := range tvars {
				dup = dup || tv == r
			}
			if !dup {
				tvars, tpos = append(tvars, r), append(tpos, c)
			}
		}
		rows := make([][]term.Value, 0, len(g.rows))
		seen := map[string]bool{}
		for _, t := range g.rows {
			row := make([]term.Value, len(tpos))
			kb.Reset()
			for j, c := range tpos {
				row[j] = t[c]
				kb.WriteString(t[c].ID + "\x00")
			}
			if !seen[kb.String()] {
				seen[kb.String()] = true
				rows = append(rows, row)
			}
		}
		for j, v := range tvars {
			nst.vars[v].typ = g.rows[0][tpos[j]].Type
		}
		nst.atoms = append(nst.atoms, patom{kind: AtomTable, args: tvars, rows: rows})
		k(nst)
		if p.err != nil {
			return
		}
	}
}

// callKey identifies a dynamic call up to renaming: the predicate, the
// known arguments, the types of the unknown ones and which are equal.
func (p *partial) callKey(st *pstate, pred *predInfo, args []int) string {
	var b strings.Builder
	b.WriteString(pred.name + "/" + strconv.Itoa(pred.arity))
	for i, a := range args {
		r := st.find(a)
		x := st.vars[r]
		if !x.val.IsZero() {
			b.WriteString("\x00=" + x.val.Type + "\x01" + x.val.ID)
			continue
		}
		first := i
		for j := range i {
			if st.find(args[j]) == r {
				first = j
				break
			}
		}
		b.WriteString("\x00?" + x.typ + "\x01" + strconv.Itoa(first))
	}
	return b.String()
}

// dynCall unfolds a call of a predicate that depends on local data: its
// local shapes, its stored and context facts, and its rules. A call that
// recurs while it is being unfolded becomes a recursive predicate the
// database computes.
func (p *partial) dynCall(st *pstate, f *frame, l *lit, k func(*pstate)) {
	st = st.clone()
	args, ok := p.callArgs(st, f, l)
	if !ok {
		return
	}
	p.callPred(st, f, l.pred, args, k)
}

func (p *partial) callPred(st *pstate, f *frame, pred *predInfo, args []int, k func(*pstate)) {
	key := p.callKey(st, pred, args)
	if idx, ok := p.recByKey[key]; ok {
		p.recRef(st, idx, args, k)
		return
	}
	for _, active := range p.stack {
		if active == key {
			idx := p.defineRec(st, f, pred, args, key)
			if p.err == nil {
				p.recRef(st, idx, args, k)
			}
			return
		}
	}
	if len(p.stack) >= maxResidualDepth {
		p.fail(fmt.Errorf("%w: more than %d nested rule calls over local data", ErrDepthExceeded, maxResidualDepth))
		return
	}
	// The answers are collected before they continue: when the call turns
	// out to be recursive (a call below it has the same key), the
	// recursive predicate defined for it holds all of its answers, and
	// reading it replaces the answers unfolded here (which would repeat
	// the first steps of the recursion next to it in the SQL).
	p.stack = append(p.stack, key)
	var answers []*pstate
	p.unfold(st, pred, args, func(st *pstate) { answers = append(answers, st) })
	p.stack = p.stack[:len(p.stack)-1]
	if p.err != nil {
		return
	}
	if idx, ok := p.recByKey[key]; ok {
		p.recRef(st, idx, args, k)
		return
	}
	for _, a := range answers {
		k(a)
		if p.err != nil {
			return
		}
	}
}

// unfold gives every way pred(args) holds: local rows, facts, rules.
func (p *partial) unfold(st *pstate, pred *predInfo, args []int, k func(*pstate)) {
	for _, si := range p.local[lang.Pred{Name: pred.name, Arity: pred.arity}] {
		p.localAtom(st, si, args, k)
		if p.err != nil {
			return
		}
	}
	// Stored and context facts of the predicate.
	pat := make([]term.Value, len(args))
	for i, a := range args {
		pat[i], _ = st.ground(a)
	}
	var tuples [][]term.Value
	matchValues(p.src, pred.name, pat, func(fa []term.Value) bool {
		for _, v := range fa {
			if v.Type == "" || isWild(v) { // as the solver's collect
				return true
			}
		}
		tuples = append(tuples, append([]term.Value(nil), fa...))
		return true
	})
	if len(tuples) > 0 {
		p.joinTuples(st, args, tuples, k)
		if p.err != nil {
			return
		}
	}
	known := make([]term.Value, len(args))
	for i, a := range args {
		if v, ok := st.ground(a); ok {
			known[i] = v
		} else {
			known[i] = wild(st.vars[st.find(a)].typ)
		}
	}
	for _, r := range pred.rulesFor(known) {
		nst := st.clone()
		env := make([]int, r.nvars)
		for s := range env {
			env[s] = nst.newVar(r.varTypes[s])
		}
		rf := &frame{env: env, where: ruleWhere(r)}
		ok := true
		for i, h := range r.head {
			if !p.unifyOperand(nst, rf, h, args[i]) {
				ok = false
				break
			}
		}
		if ok {
			p.conj(nst, r.lits, rf, k)
		}
		if p.err != nil {
			return
		}
	}
}

// localAtom continues with a row of local shape si.
func (p *partial) localAtom(st *pstate, si int, args []int, k func(*pstate)) {
	sh := p.shapes[si]
	st = st.clone()
	for i, a := range args {
		if c := sh.Consts[i]; !c.IsZero() {
			if !p.bindVal(st, a, c) {
				return
			}
			continue
		}
		r := st.find(a)
		x := st.vars[r]
		if !x.val.IsZero() {
			if x.val.Type != sh.Types[i] {
				return
			}
			continue
		}
		if !p.e.types.matches(sh.Types[i], x.typ) {
			return
		}
		st.vars[r].typ = sh.Types[i]
	}
	st.atoms = append(st.atoms, patom{kind: AtomLocal, shape: si, args: args})
	k(st)
}

// defineRec makes the call key a recursive predicate: its columns are the
// unknown arguments; its rows are unfolded once, on their own.
func (p *partial) defineRec(st *pstate, f *frame, pred *predInfo, args []int, key string) int {
	idx := len(p.recs)
	p.recs = append(p.recs, RecPred{Name: pred.name})
	p.recByKey[key] = idx

	// A fresh state with the same known values and column variables.
	rst := &pstate{}
	rargs := make([]int, len(args))
	var cols []int
	for i, a := range args {
		r := st.find(a)
		dup := -1
		for j := range i {
			if st.find(args[j]) == r {
				dup = j
				break
			}
		}
		if dup >= 0 {
			rargs[i] = rargs[dup]
			continue
		}
		x := st.vars[r]
		rargs[i] = rst.newVar(x.typ)
		if !x.val.IsZero() {
			rst.vars[rargs[i]].val = x.val
		} else {
			cols = append(cols, rargs[i])
			p.recs[idx].Types = append(p.recs[idx].Types, x.typ)
		}
	}
	saved := p.stack
	p.stack = []string{key}
	var base, step []Conj
	p.unfold(rst, pred, rargs, func(s *pstate) {
		c, ok := p.finish(s, cols)
		if !ok {
			return
		}
		n := 0
		for _, a := range c.Atoms {
			if a.Kind == AtomRec && a.Rec == idx {
				n++
			}
		}
		for _, o := range c.Out {
			if o.IsAny() {
				p.unsupported(f, "the recursive rule of %s leaves an argument open (any value); recursion over local data must bind every argument", pred.name)
				return
			}
		}
		switch n {
		case 0:
			base = append(base, c)
		case 1:
			step = append(step, c)
		default:
			p.unsupported(f, "%s recurs more than once in one rule (non-linear recursion over local data); PostgreSQL's WITH RECURSIVE needs linear recursion", pred.name)
		}
	})
	p.stack = saved
	p.recs[idx].Base, p.recs[idx].Step = base, step
	// Each column holds values of one concrete type: the database
	// compares ids only.
	for j := range p.recs[idx].Types {
		var seen string
		for _, c := range append(slices.Clone(base), step...) {
			o := c.Out[j]
			t := o.Val.Type
			if o.Var >= 0 {
				t = c.VarTypes[o.Var]
			}
			if seen != "" && t != seen {
				p.unsupported(f, "the recursive rule of %s returns values of types %s and %s in one argument; give the argument a type", pred.name, seen, t)
				return idx
			}
			seen = t
		}
		if seen != "" {
			p.recs[idx].Types[j] = seen
		}
	}
	return idx
}

// typeRecRefs gives the variables read from recursive predicates the
// concrete types of their columns; a conjunction whose variable cannot
// have that type is dropped.
func (p *partial) typeRecRefs(cs []Conj) []Conj {
	out := cs[:0]
next:
	for _, c := range cs {
		for _, a := range c.Atoms {
			if a.Kind != AtomRec {
				continue
			}
			for j, arg := range a.Args {
				want := p.recs[a.Rec].Types[j]
				switch {
				case arg.Var < 0:
					if arg.Val.Type != want {
						continue next
					}
				case c.VarTypes[arg.Var] == want:
				case p.e.types.matches(want, c.VarTypes[arg.Var]):
					c.VarTypes[arg.Var] = want
				default:
					continue next
				}
			}
		}
		out = append(out, c)
	}
	return out
}

// openArgs returns the positions of args that are unknown, each
// variable once: the columns of a recursive predicate.
func openArgs(st *pstate, args []int) []int {
	var out []int
	for i, a := range args {
		r := st.find(a)
		dup := false
		for j := range i {
			dup = dup || st.find(args[j]) == r
		}
		if _, known := st.ground(a); !known && !dup {
			out = append(out, i)
		}
	}
	return out
}

// recRef continues with a row of recursive predicate idx.
func (p *partial) recRef(st *pstate, idx int, args []int, k func(*pstate)) {
	st = st.clone()
	var cols []int
	for _, i := range openArgs(st, args) {
		cols = append(cols, args[i])
	}
	if len(cols) != len(p.recs[idx].Types) {
		p.fail(fmt.Errorf("evaluator: internal error: recursive predicate %s has %d columns, call has %d unknown arguments", p.recs[idx].Name, len(p.recs[idx].Types), len(cols)))
		return
	}
	st.atoms = append(st.atoms, patom{kind: AtomRec, rec: idx, args: cols})
	k(st)
}

// finish turns a branch into a conjunction answering outs; ok is false
// when the branch cannot hold.
func (p *partial) finish(st *pstate, outs []int) (Conj, bool) {
	var c Conj
	num := map[int]int{}
	rt := func(v int) RTerm {
		r := st.find(v)
		x := st.vars[r]
		if !x.val.IsZero() {
			return RTerm{Var: -1, Val: x.val}
		}
		n, ok := num[r]
		if !ok {
			n = len(c.VarTypes)
			num[r] = n
			c.VarTypes = append(c.VarTypes, x.typ)
		}
		return RTerm{Var: n}
	}
	inAtoms := map[int]bool{}
	for _, a := range st.atoms {
		if a.kind != AtomNotEqual {
			for _, v := range a.args {
				inAtoms[st.find(v)] = true
			}
		}
	}
	for _, a := range st.atoms {
		at := Atom{Kind: a.kind, Shape: a.shape, Rec: a.rec}
		switch a.kind {
		case AtomNotEqual:
			x, y := st.find(a.args[0]), st.find(a.args[1])
			vx, kx := st.ground(x)
			vy, ky := st.ground(y)
			switch {
			case x == y:
				return Conj{}, false
			case kx && ky:
				if vx == vy {
					return Conj{}, false
				}
				continue
			case (!kx && !inAtoms[x]) || (!ky && !inAtoms[y]):
				continue // some value of the open side differs
			}
			at.Args = []RTerm{rt(x), rt(y)}
		case AtomTable:
			// Filter the rows by what became known; keep the rest.
			var keep []int
			for j, v := range a.args {
				if _, ok := st.ground(v); !ok {
					keep = append(keep, j)
				}
			}
			for _, row := range a.rows {
				ok := true
				for j, v := range a.args {
					if g, known := st.ground(v); known && row[j] != g {
						ok = false
						break
					}
				}
				if !ok {
					continue
				}
				nr := make([]term.Value, len(keep))
				for i, j := range keep {
					nr[i] = row[j]
				}
				at.Rows = append(at.Rows, nr)
			}
			if len(at.Rows) == 0 {
				return Conj{}, false
			}
			if len(keep) == 0 {
				continue
			}
			for _, j := range keep {
				at.Args = append(at.Args, rt(a.args[j]))
			}
		default:
			for _, v := range a.args {
				at.Args = append(at.Args, rt(v))
			}
		}
		c.Atoms = append(c.Atoms, at)
	}
	for _, v := range outs {
		r := st.find(v)
		if _, known := st.ground(r); !known && !inAtoms[r] {
			c.Out = append(c.Out, RTerm{Var: -1})
			continue
		}
		c.Out = append(c.Out, rt(v))
	}
	return c, true
}

// checkRecs refuses recursion PostgreSQL cannot run: recursive
// predicates that read one another.
func checkRecs(res *Residual) error {
	reads := func(cs []Conj, self int) []int {
		var out []int
		for _, c := range cs {
			for _, a := range c.Atoms {
				if a.Kind == AtomRec && a.Rec != self {
					out = append(out, a.Rec)
				}
			}
		}
		return out
	}
	n := len(res.Recs)
	deps := make([][]int, n)
	for i, r := range res.Recs {
		deps[i] = append(reads(r.Base, i), reads(r.Step, i)...)
	}
	// A cycle through two or more predicates is mutual recursion.
	state := make([]uint8, n)
	var visit func(i int) bool
	visit = func(i int) bool {
		state[i] = 1
		for _, j := range deps[i] {
			if state[j] == 1 || (state[j] == 0 && visit(j)) {
				return true
			}
		}
		state[i] = 2
		return false
	}
	for i := range n {
		if state[i] == 0 && visit(i) {
			// Calls of one predicate with other arguments unknown are
			// separate recursive predicates: a cycle among them only is a
			// rule that recurs more than once.
			for j := range n {
				if state[j] == 1 && res.Recs[j].Name != res.Recs[i].Name {
					return fmt.Errorf("%w: %s and %s recur through each other over local data (mutual recursion); PostgreSQL's WITH RECURSIVE cannot compute it", ErrUnsupported, res.Recs[i].Name, res.Recs[j].Name)
				}
			}
			return fmt.Errorf("%w: %s recurs more than once in one rule (non-linear recursion over local data); PostgreSQL's WITH RECURSIVE needs linear recursion", ErrUnsupported, res.Recs[i].Name)
		}
	}
	return nil
}

// now is the query's @current_unix_time: the request's instant, else the
// evaluator's clock.
func (p *partial) now() term.Value {
	if !p.req.Now.IsZero() {
		return term.Integer(p.req.Now.Unix())
	}
	return term.Integer(p.e.clock().Unix())
}
