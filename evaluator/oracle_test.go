package evaluator

import (
	"strings"

	"github.com/castellan-authz/castellan/lang"
	"github.com/castellan-authz/castellan/lang/term"
)

// oracle is a naive bottom-up evaluator written independently of the
// evaluator, for property tests: it derives every ground fact over a
// finite domain (head variables a body leaves unbound range over the
// domain values of their type) until nothing changes, stratum by stratum.
// It supports calls, and, or, stratified not, matches, == and != between
// bound terms, and = and `in` over constants: enough for the policies the
// property tests use.
type oracle struct {
	prog   *lang.Program
	domain []term.Value
	db     map[string]map[string][]term.Value // pred/arity -> key -> args
}

func newOracle(p *lang.Program, facts []term.Fact, extra []term.Value) *oracle {
	o := &oracle{prog: p, db: map[string]map[string][]term.Value{}}
	seen := map[term.Value]bool{}
	addDomain := func(v term.Value) {
		if !seen[v] {
			seen[v] = true
			o.domain = append(o.domain, v)
		}
	}
	for _, f := range facts {
		o.add(f.Predicate, f.Args)
		for _, a := range f.Args {
			addDomain(a)
		}
	}
	for _, v := range extra {
		addDomain(v)
	}
	strata, ok := stratify(p)
	if !ok {
		return nil
	}
	for _, stratum := range strata {
		for changed := true; changed; {
			changed = false
			for _, pred := range stratum {
				for _, r := range p.Rules[pred] {
					o.solve(r.Body, map[string]term.Value{}, func(b map[string]term.Value) {
						o.heads(r, 0, b, make([]term.Value, len(r.Params)), func(args []term.Value) {
							if o.add(pred.Name, args) {
								changed = true
							}
						})
					})
				}
			}
		}
	}
	return o
}

// stratify orders the rule predicates so that a predicate comes after
// every predicate it depends on through a negation; it reports false when
// the program recurses through a negation.
func stratify(p *lang.Program) ([][]lang.Pred, bool) {
	level := map[lang.Pred]int{}
	var deps func(e lang.Expr, neg bool, f func(lang.Pred, bool))
	deps = func(e lang.Expr, neg bool, f func(lang.Pred, bool)) {
		switch e := e.(type) {
		case lang.And:
			for _, x := range e.Exprs {
				deps(x, neg, f)
			}
		case lang.Or:
			for _, x := range e.Exprs {
				deps(x, neg, f)
			}
		case lang.Not:
			deps(e.Expr, true, f)
		case lang.Call:
			f(e.Pred, neg)
		}
	}
	for changed, rounds := true, 0; changed; rounds++ {
		if rounds > len(p.Rules)+1 {
			return nil, false
		}
		changed = false
		for pred, rules := range p.Rules {
			for _, r := range rules {
				deps(r.Body, false, func(q lang.Pred, neg bool) {
					need := level[q]
					if neg {
						need++
					}
					if level[pred] < need {
						level[pred] = need
						changed = true
					}
				})
			}
		}
	}
	var out [][]lang.Pred
	for pred := range p.Rules {
		for len(out) <= level[pred] {
			out = append(out, nil)
		}
		out[level[pred]] = append(out[level[pred]], pred)
	}
	return out, true
}

func key(args []term.Value) string {
	var b strings.Builder
	for _, a := range args {
		b.WriteString(a.Type + "\x00" + a.ID + "\x01")
	}
	return b.String()
}

func (o *oracle) add(pred string, args []term.Value) bool {
	k := pred + "/" + string(rune('0'+len(args)))
	if o.db[k] == nil {
		o.db[k] = map[string][]term.Value{}
	}
	if _, ok := o.db[k][key(args)]; ok {
		return false
	}
	o.db[k][key(args)] = append([]term.Value(nil), args...)
	return true
}

func (o *oracle) holds(pred string, args []term.Value) bool {
	_, ok := o.db[pred+"/"+string(rune('0'+len(args)))][key(args)]
	return ok
}

// heads enumerates the head tuples of rule r under binding b.
func (o *oracle) heads(r *lang.Rule, i int, b map[string]term.Value, out []term.Value, emit func([]term.Value)) {
	if i == len(r.Params) {
		emit(out)
		return
	}
	p := r.Params[i]
	switch t := p.Term.(type) {
	case lang.Const:
		out[i] = t.Value
		o.heads(r, i+1, b, out, emit)
	case lang.Var:
		if v, ok := b[t.Name]; ok {
			if o.prog.TypeMatches(v.Type, p.Type) {
				out[i] = v
				o.heads(r, i+1, b, out, emit)
			}
			return
		}
		for _, v := range o.domain {
			if o.prog.TypeMatches(v.Type, p.Type) {
				nb := copyBinding(b)
				nb[t.Name] = v
				out[i] = v
				o.heads(r, i+1, nb, out, emit)
			}
		}
	}
}

func copyBinding(b map[string]term.Value) map[string]term.Value {
	nb := make(map[string]term.Value, len(b)+1)
	for k, v := range b {
		nb[k] = v
	}
	return nb
}

// solve calls k with every binding extending b that satisfies e.
func (o *oracle) solve(e lang.Expr, b map[string]term.Value, k func(map[string]term.Value)) {
	switch e := e.(type) {
	case nil:
		k(b)
	case lang.And:
		o.conj(e.Exprs, b, k)
	case lang.Or:
		for _, sub := range e.Exprs {
			o.solve(sub, b, k)
		}
	case lang.Call:
		for _, args := range o.db[e.Pred.Name+"/"+string(rune('0'+e.Pred.Arity))] {
			nb := copyBinding(b)
			ok := true
			for i, a := range e.Args {
				if !o.unify(nb, a, args[i]) {
					ok = false
					break
				}
			}
			if ok {
				k(nb)
			}
		}
	case lang.Matches:
		v := e.Term.(lang.Var)
		if val, ok := b[v.Name]; ok {
			if o.prog.TypeMatches(val.Type, e.Type) {
				k(b)
			}
			return
		}
		for _, val := range o.domain {
			if o.prog.TypeMatches(val.Type, e.Type) {
				nb := copyBinding(b)
				nb[v.Name] = val
				k(nb)
			}
		}
	case lang.Unify:
		c := e.Right.(lang.Const)
		nb := copyBinding(b)
		if o.unify(nb, e.Left, c.Value) {
			k(nb)
		}
	case lang.Not:
		found := false
		o.solve(e.Expr, b, func(map[string]term.Value) { found = true })
		if !found {
			k(b)
		}
	case lang.Compare:
		l, r := o.value(b, e.Left), o.value(b, e.Right)
		if (e.Op == "==") == (l == r) && (e.Op == "==" || e.Op == "!=") {
			k(b)
		}
	case lang.In:
		for _, el := range e.List.(lang.List).Elems {
			nb := copyBinding(b)
			if o.unify(nb, e.Elem, el.(lang.Const).Value) {
				k(nb)
			}
		}
	default:
		panic("oracle: unsupported expression")
	}
}

func (o *oracle) conj(es []lang.Expr, b map[string]term.Value, k func(map[string]term.Value)) {
	if len(es) == 0 {
		k(b)
		return
	}
	o.solve(es[0], b, func(nb map[string]term.Value) { o.conj(es[1:], nb, k) })
}

func (o *oracle) unify(b map[string]term.Value, t lang.Term, v term.Value) bool {
	switch t := t.(type) {
	case lang.Const:
		return t.Value == v
	case lang.Var:
		if cur, ok := b[t.Name]; ok {
			return cur == v
		}
		b[t.Name] = v
		return true
	}
	return false
}

func (o *oracle) value(b map[string]term.Value, t lang.Term) term.Value {
	switch t := t.(type) {
	case lang.Const:
		return t.Value
	case lang.Var:
		return b[t.Name]
	}
	panic("oracle: unsupported term")
}
