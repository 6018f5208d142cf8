package evaluator

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/castellan-authz/castellan/lang/term"
)

// Actions returns the actions actor may perform on resource: every String
// a such that allow(actor, a, resource) holds, sorted and deduplicated. An
// answer that holds for any action is dropped (it names no action).
func (e *Evaluator) Actions(ctx context.Context, r Request, actor, resource term.Value) (_ []string, err error) {
	if err := checkValue("actor", actor); err != nil {
		return nil, err
	}
	if err := checkValue("resource", resource); err != nil {
		return nil, err
	}
	s := e.acquire(ctx, r.source(), r.Now)
	defer e.done(s, &err)
	args := [3]hval{s.handle(actor), wildH(typeStringNum), s.handle(resource)}
	tid := s.solve(e.pred("allow", 3), args[:])
	if s.err != nil {
		return nil, s.err
	}
	out := []string{}
	for a := s.tables[tid].first; a >= 0; a = s.ans[a].next {
		if h := s.vals[int(s.ans[a].off)+1]; !h.isWild() && h.typ() == typeStringNum {
			out = append(out, s.value(h).ID)
		}
	}
	sort.Strings(out)
	return slices.Compact(out), nil
}

// ActionsEach returns, for each (actor, resource) pair, the actions
// Actions would return, computed in one evaluation: the tables of the
// rules and of each actor's roles are shared by the pairs.
func (e *Evaluator) ActionsEach(ctx context.Context, r Request, pairs [][2]term.Value) (_ [][]string, err error) {
	for i, p := range pairs {
		// The error's name is formatted only for a malformed value.
		if checkValue("actor", p[0]) != nil {
			return nil, checkValue(fmt.Sprintf("actor %d", i), p[0])
		}
		if checkValue("resource", p[1]) != nil {
			return nil, checkValue(fmt.Sprintf("resource %d", i), p[1])
		}
	}
	s := e.acquire(ctx, r.source(), r.Now)
	defer e.done(s, &err)
	s.holdReads()
	allow := e.pred("allow", 3)
	out := make([][]string, len(pairs))
	// The pairs' actions share one array (a few actions a pair), each
	// capped at its own end so that appending to one cannot reach the next.
	buf := make([]string, 0, 4*len(pairs))
	for i, p := range pairs {
		args := [3]hval{s.handle(p[0]), wildH(typeStringNum), s.handle(p[1])}
		tid := s.solve(allow, args[:])
		if s.err != nil {
			return nil, s.err
		}
		start := len(buf)
		for a := s.tables[tid].first; a >= 0; a = s.ans[a].next {
			if h := s.vals[int(s.ans[a].off)+1]; !h.isWild() && h.typ() == typeStringNum {
				buf = append(buf, s.value(h).ID)
			}
		}
		acts := buf[start:len(buf):len(buf)]
		slices.Sort(acts)
		out[i] = slices.Compact(acts)
	}
	return out, nil
}

// Query is a conjunction of calls over variables (the model of the Oso
// query builder). Every argument is a variable name; a constant
// is a variable with a one-element Constraint.IDs.
type Query struct {
	Predicate   Call
	Calls       []Call
	Constraints map[string]Constraint
}

// Call is one predicate call of a Query.
type Call struct {
	Name string
	Args []string // variable names
}

// Constraint restricts a query variable to values of exactly Type (no
// subtype matching) and, when IDs is not nil, to those ids. An empty Type
// (an Oso v1 query's untyped variable) admits every type; a row then
// holds only the id.
type Constraint struct {
	Type string
	IDs  []string // nil = any value of Type
}

// Row is one solution of a Query: the id of each variable, or nil when
// the solution holds for any value of the variable's type.
type Row map[string]*string

// Query returns every distinct solution of q, in a deterministic order
// (by variable name, a nil before any id, ids in byte order). A solution
// that holds for any value of two variables provided they are equal (as
// `p(x, x)` with x unbound) cannot be written as a row, since two nils
// would claim every pair: it is left out rather than over-reported.
func (e *Evaluator) Query(ctx context.Context, r Request, q Query) ([]Row, error) {
	var rows []Row
	seen := map[string]bool{}
	var key strings.Builder
	names, err := e.query(ctx, r, q, func(names []string, vals []term.Value) {
		key.Reset()
		for _, v := range vals {
			if v.ID == "" {
				key.WriteString("\x00*\x01")
				continue
			}
			key.WriteString(v.ID)
			key.WriteByte(1)
		}
		if seen[key.String()] {
			return
		}
		seen[key.String()] = true
		row := make(Row, len(names))
		for i, name := range names {
			if vals[i].ID == "" {
				row[name] = nil
				continue
			}
			id := vals[i].ID
			row[name] = &id
		}
		rows = append(rows, row)
	})
	if err != nil {
		return nil, err
	}
	sortRows(rows, names)
	return rows, nil
}

// ValueRow is one solution of a Query with typed values: a value with an
// empty ID holds for any value of its Type ("" for any type at all).
type ValueRow map[string]term.Value

// QueryValues is Query with typed values in the rows, for callers whose
// variables admit several types (a Constraint with an empty Type). Rows
// are distinct and in no particular order.
func (e *Evaluator) QueryValues(ctx context.Context, r Request, q Query) ([]ValueRow, error) {
	var rows []ValueRow
	seen := map[string]bool{}
	var key strings.Builder
	_, err := e.query(ctx, r, q, func(names []string, vals []term.Value) {
		key.Reset()
		for _, v := range vals {
			key.WriteString(v.Type)
			key.WriteByte(0)
			key.WriteString(v.ID)
			key.WriteByte(1)
		}
		if seen[key.String()] {
			return
		}
		seen[key.String()] = true
		row := make(ValueRow, len(names))
		for i, name := range names {
			row[name] = vals[i]
		}
		rows = append(rows, row)
	})
	if err != nil {
		return nil, err
	}
	return rows, nil
}

// query evaluates q, calls emit with the value of each variable (by name,
// in names order; a wildcard has an empty ID) for every solution, and
// returns the names. vals is reused between calls.
func (e *Evaluator) query(ctx context.Context, r Request, q Query, emit func(names []string, vals []term.Value)) (_ []string, err error) {
	calls := append([]Call{q.Predicate}, q.Calls...)
	sc := &scope{slots: map[string]int{}}
	var lits []*lit
	for _, cl := range calls {
		if cl.Name == "" {
			return nil, fmt.Errorf("%w: a call has no predicate name", ErrInvalidQuery)
		}
		l := &lit{kind: litCall, pred: e.pred(cl.Name, len(cl.Args)), args: make([]operand, len(cl.Args))}
		for i, v := range cl.Args {
			if _, ok := q.Constraints[v]; !ok {
				return nil, fmt.Errorf("%w: variable %q has no constraint", ErrInvalidQuery, v)
			}
			l.args[i] = operand{kind: opVar, slot: sc.slot(v)}
		}
		l.vars = operandVars(nil, l.args...)
		lits = append(lits, l)
	}
	names := slices.Clone(sc.names)
	cr := &crule{nvars: len(sc.names), varNames: sc.names, varTypes: make([]string, len(sc.names))}
	bound := make([]bool, cr.nvars)
	pre := make([]term.Value, cr.nvars) // pre-bound variables (one id)
	for i, name := range names {
		con := q.Constraints[name]
		if con.Type == "" && con.IDs != nil {
			return nil, fmt.Errorf("%w: variable %q has ids but no type", ErrInvalidQuery, name)
		}
		cr.varTypes[i] = con.Type
		switch {
		case con.IDs == nil:
		case len(con.IDs) == 1:
			v, err := term.Normalize(term.Value{Type: con.Type, ID: con.IDs[0]})
			if err == nil && markerLike(v.ID) {
				err = fmt.Errorf("id %q is not allowed", v.ID)
			}
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrInvalidQuery, name, err)
			}
			pre[i], bound[i] = v, true
		default:
			list := operand{kind: opList}
			for _, id := range con.IDs {
				v, err := term.Normalize(term.Value{Type: con.Type, ID: id})
				if err == nil && markerLike(v.ID) {
					err = fmt.Errorf("id %q is not allowed", v.ID)
				}
				if err != nil {
					return nil, fmt.Errorf("%w: %s: %v", ErrInvalidQuery, name, err)
				}
				list.list = append(list.list, operand{kind: opConst, val: v})
			}
			lits = append(lits, &lit{kind: litIn, args: []operand{{kind: opVar, slot: i}, list}, vars: []int{i}})
		}
	}
	cr.lits = lits
	cr.head = make([]operand, cr.nvars)
	for i := range cr.head {
		cr.head[i] = operand{kind: opVar, slot: i}
	}
	keep := make([]bool, cr.nvars)
	for i := range keep {
		keep[i] = true
	}
	plan := planConj(lits, bound, cr.nvars, keep) // marks the variables its steps bind

	s := e.acquire(ctx, r.source(), r.Now)
	defer e.done(s, &err)
	vals := make([]term.Value, len(names))
	base := len(s.frame)
	for i, t := range cr.varTypes {
		switch {
		case !pre[i].IsZero(): // one id given
			s.push(s.handle(pre[i]))
		case bound[i]:
			// A variable a step binds starts as a wildcard of any type,
			// as it always has (its type is checked on the row below).
			s.push(wildH(0))
		default:
			s.push(wildH(s.tnum(t)))
		}
	}
	bc := &bodyCtx{kind: emitFunc, fn: func(base int) bool {
		for i := range names {
			idx := s.deref(base + i)
			v := s.value(s.frame[idx])
			for j := range i {
				if idx == s.deref(base+j) && isWild(v) {
					// Two variables bound to one another and to no
					// value: a row cannot say "equal, any value", and
					// two nulls would claim every pair. Leave it out.
					return true
				}
			}
			want := cr.varTypes[i]
			if isWild(v) {
				if want != "" && !e.types.matches(want, v.Type) {
					return true
				}
				v = term.Value{Type: v.Type}
			} else if want != "" && v.Type != want {
				return true // exact type: no subtype matching
			}
			vals[i] = v
		}
		emit(names, vals)
		return true
	}}
	s.body(bc, base, plan, 0)
	s.pop(base)
	if s.err != nil {
		return nil, s.err
	}
	return names, nil
}

func sortRows(rows []Row, names []string) {
	sorted := slices.Clone(names)
	sort.Strings(sorted)
	sort.SliceStable(rows, func(i, j int) bool {
		for _, n := range sorted {
			a, b := rows[i][n], rows[j][n]
			switch {
			case a == nil && b == nil:
				continue
			case a == nil:
				return true
			case b == nil:
				return false
			case *a != *b:
				return *a < *b
			}
		}
		return false
	})
}
