package lang

import (
	"strings"

	"github.com/castellan-authz/castellan/lang/ast"
)

// varSet is a set of variable names.
type varSet map[string]bool

func (s varSet) clone() varSet {
	out := make(varSet, len(s)+4)
	for k := range s {
		out[k] = true
	}
	return out
}

// termVars appends the variables of a term (inside lists too). Every "_"
// is a distinct variable that nothing binds, so it is left out.
func termVars(t ast.Term, out []*ast.Var) []*ast.Var {
	switch t := t.(type) {
	case *ast.Var:
		if t.Name != "_" {
			out = append(out, t)
		}
	case *ast.List:
		for _, e := range t.Elems {
			out = termVars(e, out)
		}
	}
	return out
}

func allIn(vs []*ast.Var, s varSet) bool {
	for _, v := range vs {
		if !s[v.Name] {
			return false
		}
	}
	return true
}

// hasAnon reports whether a term holds a "_".
func hasAnon(t ast.Term) bool {
	switch t := t.(type) {
	case *ast.Var:
		return t.Name == "_"
	case *ast.List:
		for _, e := range t.Elems {
			if hasAnon(e) {
				return true
			}
		}
	}
	return false
}

// bound returns ctx plus the variables e binds when it succeeds: variables
// of positive calls, of unifications with a bound side, of `x in list` with
// the list bound. A disjunction binds what all its branches bind.
func bound(e ast.Expr, ctx varSet) varSet {
	out := ctx.clone()
	bindInto(e, out)
	return out
}

// bindInto adds to s the variables e binds given s, and reports whether it
// added any.
func bindInto(e ast.Expr, s varSet) bool {
	add := func(vs []*ast.Var) bool {
		changed := false
		for _, v := range vs {
			if !s[v.Name] {
				s[v.Name], changed = true, true
			}
		}
		return changed
	}
	switch e := e.(type) {
	case *ast.Call:
		changed := false
		var buf [8]*ast.Var
		for _, a := range e.Args {
			if add(termVars(a, buf[:0])) {
				changed = true
			}
		}
		return changed
	case *ast.And:
		changed := false
		for again := true; again; {
			again = false
			for _, x := range e.Exprs {
				if bindInto(x, s) {
					again, changed = true, true
				}
			}
		}
		return changed
	case *ast.Or:
		var common varSet
		for _, x := range e.Exprs {
			b := s.clone()
			bindInto(x, b)
			if common == nil {
				common = b
				continue
			}
			for v := range common {
				if !b[v] {
					delete(common, v)
				}
			}
		}
		changed := false
		for v := range common {
			if !s[v] {
				s[v], changed = true, true
			}
		}
		return changed
	case *ast.Binary:
		var lbuf, rbuf [4]*ast.Var
		l, r := termVars(e.Left, lbuf[:0]), termVars(e.Right, rbuf[:0])
		changed := false
		switch e.Op {
		case "=":
			if allIn(l, s) && !hasAnon(e.Left) && add(r) {
				changed = true
			}
			if allIn(r, s) && !hasAnon(e.Right) && add(l) {
				changed = true
			}
		case "in":
			if allIn(r, s) && !hasAnon(e.Right) && add(l) {
				changed = true
			}
		}
		return changed
	}
	return false
}

// checkSafety reports variables that a negation, comparison, unification
// or `in` needs bound and that nothing in the rule binds. Head variables
// are bound by the query (a head variable the body leaves unbound is a
// wildcard, not an error).
func (c *checker) checkSafety(r *ast.Rule) {
	ctx := varSet{}
	for _, p := range r.Params {
		if p == nil {
			continue
		}
		switch t := p.Term.(type) {
		case *ast.TypedVar:
			if t.Name != "_" {
				ctx[t.Name] = true
			}
		default:
			var buf [4]*ast.Var
			for _, v := range termVars(t, buf[:0]) {
				ctx[v.Name] = true
			}
		}
	}
	reported := map[string]bool{}
	c.safe(r.Body, ctx, reported)
}

func (c *checker) safe(e ast.Expr, ctx varSet, reported map[string]bool) {
	report := func(v *ast.Var, where, hint string) {
		if reported[v.Name] {
			return
		}
		reported[v.Name] = true
		c.errorf(v.Pos, hint, "variable %s %s is never bound: nothing else in the rule gives it a value", v.Name, where)
	}
	reportAnon := func(pos ast.Position, where string) {
		c.errorf(pos, "`_` matches anything and has no value; use a named variable bound by a call", "`_` %s has no value", where)
	}
	switch e := e.(type) {
	case *ast.And:
		all := bound(e, ctx)
		for _, x := range e.Exprs {
			c.safe(x, all, reported)
		}
	case *ast.Or:
		for _, x := range e.Exprs {
			c.safe(x, bound(x, ctx), reported)
		}
	case *ast.Not:
		inner := bound(e.Expr, ctx)
		for _, v := range exprVars(e.Expr, nil) {
			if !ctx[v.Name] && !strings.HasPrefix(v.Name, "_") {
				report(v, "under `not`", "bind "+v.Name+" outside the `not` (for example with a call), or write `_` if any value will do")
			}
		}
		c.safe(e.Expr, inner, reported)
	case *ast.Binary:
		where := "in a comparison"
		switch e.Op {
		case "=":
			where = "in a unification"
		case "in":
			where = "in `in`"
		}
		for _, side := range []ast.Term{e.Left, e.Right} {
			if e.Op != "=" && hasAnon(side) {
				reportAnon(side.Position(), where)
			}
			for _, v := range termVars(side, nil) {
				if !ctx[v.Name] {
					report(v, where, "bind "+v.Name+" with a call in the same rule, such as `has_role(user, "+v.Name+", resource)`")
				}
			}
		}
	}
}

// exprVars appends the variables of an expression.
func exprVars(e ast.Expr, out []*ast.Var) []*ast.Var {
	switch e := e.(type) {
	case *ast.And:
		for _, x := range e.Exprs {
			out = exprVars(x, out)
		}
	case *ast.Or:
		for _, x := range e.Exprs {
			out = exprVars(x, out)
		}
	case *ast.Not:
		out = exprVars(e.Expr, out)
	case *ast.Call:
		for _, a := range e.Args {
			out = termVars(a, out)
		}
	case *ast.Binary:
		out = termVars(e.Right, termVars(e.Left, out))
	case *ast.Matches:
		out = termVars(e.Term, out)
	}
	return out
}
