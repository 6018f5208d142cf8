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
	l := &layered{base: base}
	for i := 0; i < len(facts); {
		j := i + 1
		for j < len(facts) && facts[j].Predicate == facts[i].Predicate {
			j++
		}
		l.groups = append(l.groups, ctxGroup{pred: facts[i].Predicate, facts: facts[i:j:j]})
		i = j
	}
	return l
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
