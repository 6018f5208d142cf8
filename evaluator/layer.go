package evaluator

import "github.com/castellan-authz/castellan/lang/term"

// emptySource is a Source with no facts.
type emptySource struct{}

func (emptySource) Match(string, []term.Value, func([]term.Value) bool) {}
func (emptySource) Revision() uint64                                    { return 0 }

// layered is a base Source with one request's context facts on top.
type layered struct {
	base   Source
	byPred map[string][]term.Fact
}

// Layer returns a Source that holds the facts of base plus ctxFacts, for
// one request: base is not copied and ctxFacts are never stored. A fact
// present in both is yielded once. With no context facts it returns base
// itself (an empty source when base is nil).
func Layer(base Source, ctxFacts []term.Fact) Source {
	if base == nil {
		base = emptySource{}
	}
	if len(ctxFacts) == 0 {
		return base
	}
	l := &layered{base: base, byPred: make(map[string][]term.Fact, len(ctxFacts))}
	for _, f := range ctxFacts {
		dup := false
		for _, g := range l.byPred[f.Predicate] {
			if g.Equal(f) {
				dup = true
				break
			}
		}
		if !dup {
			l.byPred[f.Predicate] = append(l.byPred[f.Predicate], f)
		}
	}
	return l
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

// Match yields the matching context facts, then the matching base facts
// that are not also context facts.
func (l *layered) Match(pred string, args []term.Value, yield func([]term.Value) bool) {
	ctx := l.byPred[pred]
	for _, f := range ctx {
		if argsMatch(f.Args, args) && !yield(f.Args) {
			return
		}
	}
	if len(ctx) == 0 {
		l.base.Match(pred, args, yield)
		return
	}
	l.base.Match(pred, args, func(a []term.Value) bool {
		for _, f := range ctx {
			if argsMatch(f.Args, a) {
				return true // already yielded as a context fact
			}
		}
		return yield(a)
	})
}

// Revision is the revision of the base source.
func (l *layered) Revision() uint64 { return l.base.Revision() }

// fromContext reports whether the ground fact pred(args) is a context fact.
func (l *layered) fromContext(pred string, args []term.Value) bool {
	for _, f := range l.byPred[pred] {
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
