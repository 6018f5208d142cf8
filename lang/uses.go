package lang

import (
	"iter"
	"sort"
)

// UsedBy returns, for every predicate that may be stored (FactTypes), the
// rules whose bodies call it, in file and line order: the rules a stored
// fact of it can feed. A predicate no rule calls (declared only) has an
// empty list.
func (p *Program) UsedBy() map[Pred][]*Rule {
	out := make(map[Pred][]*Rule, len(p.FactTypes))
	for q := range p.FactTypes {
		out[q] = nil
	}
	for _, rules := range p.Rules {
		for _, r := range rules {
			seen := map[Pred]bool{}
			for q := range calls(r.Body) {
				if _, stored := out[q]; stored && !seen[q] {
					seen[q] = true
					out[q] = append(out[q], r)
				}
			}
		}
	}
	for q, rs := range out {
		sort.SliceStable(rs, func(i, j int) bool {
			a, b := rs[i].Pos, rs[j].Pos
			if a.File != b.File {
				return a.File < b.File
			}
			if a.Line != b.Line {
				return a.Line < b.Line
			}
			return a.Col < b.Col
		})
		out[q] = rs
	}
	return out
}

// calls yields the predicates e calls, under and, or and not.
func calls(e Expr) iter.Seq[Pred] {
	return func(yield func(Pred) bool) {
		var walk func(Expr) bool
		walk = func(e Expr) bool {
			switch e := e.(type) {
			case Call:
				return yield(e.Pred)
			case And:
				for _, x := range e.Exprs {
					if !walk(x) {
						return false
					}
				}
			case Or:
				for _, x := range e.Exprs {
					if !walk(x) {
						return false
					}
				}
			case Not:
				return walk(e.Expr)
			}
			return true
		}
		walk(e)
	}
}
