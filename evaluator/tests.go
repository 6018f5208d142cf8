package evaluator

import (
	"context"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/castellan-authz/castellan/lang"
	"github.com/castellan-authz/castellan/lang/ast"
	"github.com/castellan-authz/castellan/lang/term"
)

// TestResult is the outcome of one test block.
type TestResult struct {
	Name     string
	Pos      ast.Position
	Passed   int // assertions that held
	Total    int // assertions
	Failures []TestFailure
}

// OK reports whether every assertion of the test held.
func (r TestResult) OK() bool { return r.Passed == r.Total }

// TestFailure is one assertion that did not hold.
type TestFailure struct {
	Assertion string // as written
	Pos       ast.Position
	Message   string // what was found instead: "got [read edit], want [read]"
	// Derivation, for an assertion without iff, is why its call held (a
	// failed assert_not: the rules and facts that proved it) or where it
	// failed (a failed assert: the rules tried and the premise each
	// stopped at). Nil for iff assertions and when it could not be built.
	Derivation *Explanation
}

// RunTests runs the policy's test blocks. Each test sees only its setup
// facts (an isolated source, nothing stored). An `assert` holds when its
// call has a solution, an `assert_not` when it has none. With
// `iff x in L`, the assertion holds when the values of x that satisfy the
// call are exactly L; with `iff x not in L`, when some value satisfies it
// and none of them is in L (the set of every value of a type cannot be
// enumerated, so "exactly the complement of L" is checked as: disjoint
// from L, not empty, and not a wildcard). `assert_not ... iff ...` holds
// when the iff does not.
func (e *Evaluator) RunTests(ctx context.Context) []TestResult {
	if e.prog == nil {
		return nil
	}
	out := make([]TestResult, 0, len(e.prog.Tests))
	for _, t := range e.prog.Tests {
		facts := Layer(emptySource{}, t.Facts)
		res := TestResult{Name: t.Name, Pos: t.Pos, Total: len(t.Assertions)}
		for _, a := range t.Assertions {
			if msg, ok := e.runAssertion(ctx, facts, a); ok {
				res.Passed++
			} else {
				src := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(a.Text), ";"))
				f := TestFailure{Assertion: src, Pos: a.Pos, Message: msg}
				if a.Iff == nil {
					f.Derivation, _ = e.explainAssertion(ctx, facts, a)
				}
				res.Failures = append(res.Failures, f)
			}
		}
		out = append(out, res)
	}
	return out
}

// assertionResult is what evaluating an assertion's call found.
type assertionResult struct {
	first    string       // the first solution, rendered
	values   []term.Value // values of the iff variable
	wildcard bool         // the iff variable holds for any value
}

func (e *Evaluator) runAssertion(ctx context.Context, src Source, a *lang.Assertion) (string, bool) {
	res, err := e.solveAssertion(ctx, src, a)
	if err != nil {
		return err.Error(), false
	}
	if a.Iff == nil {
		found := res.first != ""
		switch {
		case !a.Negated && !found:
			return "got no result, want a result", false
		case a.Negated && found:
			return "got " + res.first + ", want no result", false
		}
		return "", true
	}
	got := renderSet(res.values)
	want := renderSet(a.Iff.Values)
	var held bool
	var msg string
	if !a.Iff.Not {
		held = !res.wildcard && sameSet(res.values, a.Iff.Values)
		switch {
		case res.wildcard:
			msg = "got any value, want " + want
		default:
			msg = "got " + got + ", want " + want
		}
	} else {
		held = !res.wildcard && len(res.values) > 0 && disjoint(res.values, a.Iff.Values)
		switch {
		case res.wildcard:
			msg = "got any value, want none of " + want
		case len(res.values) == 0:
			msg = "got no result, want values other than " + want
		default:
			msg = "got " + got + ", want none of " + want
		}
	}
	if a.Negated {
		if held {
			return "got " + got + ", want the iff not to hold", false
		}
		return "", true
	}
	return msg, held
}

// explainAssertion returns the derivation of a's call over src: why it
// holds, or where each rule tried failed. Variables of the call are
// unbound (an instance is explained).
func (e *Evaluator) explainAssertion(ctx context.Context, src Source, a *lang.Assertion) (_ *Explanation, err error) {
	sc := &scope{slots: map[string]int{}}
	c := &compiler{types: &e.types, preds: e.preds}
	ops := make([]operand, len(a.Call.Args))
	for i, t := range a.Call.Args {
		ops[i] = c.term(sc, t)
	}
	s := e.acquire(ctx, src, time.Time{})
	defer e.done(s, &err)
	base := len(s.frame)
	for _, n := range sc.names {
		s.push(wildH(s.tnum(a.VarTypes[n])))
	}
	hs := make([]hval, len(ops))
	for i := range ops {
		hs[i] = s.resolve(base, &ops[i])
	}
	args := s.values(hs)
	p := e.pred(a.Call.Pred.Name, len(args))
	tid := s.solve(p, hs)
	if s.err != nil {
		s.pop(base)
		return nil, s.err
	}
	x := s.explain(p, args, s.tables[tid].nAns > 0)
	s.pop(base)
	return x, s.err
}

// solveAssertion evaluates the call of a, collecting the values of the
// iff variable, or stopping at the first solution when there is none.
func (e *Evaluator) solveAssertion(ctx context.Context, src Source, a *lang.Assertion) (_ assertionResult, err error) {
	sc := &scope{slots: map[string]int{}}
	c := &compiler{types: &e.types, preds: e.preds}
	l := &lit{kind: litCall, pred: e.pred(a.Call.Pred.Name, len(a.Call.Args)), args: make([]operand, len(a.Call.Args))}
	for i, t := range a.Call.Args {
		l.args[i] = c.term(sc, t)
	}
	l.vars = operandVars(nil, l.args...)
	types := make([]string, len(sc.names))
	for i, n := range sc.names {
		types[i] = a.VarTypes[n]
	}
	iffSlot := -1
	if a.Iff != nil {
		if s, ok := sc.slots[a.Iff.Var]; ok {
			iffSlot = s
		}
	}
	plan := planConj([]*lit{l}, make([]bool, len(sc.names)), len(sc.names), nil)

	s := e.acquire(ctx, src, time.Time{})
	defer e.done(s, &err)
	var res assertionResult
	base := len(s.frame)
	for _, t := range types {
		s.push(wildH(s.tnum(t)))
	}
	bc := &bodyCtx{kind: emitFunc, fn: func(base int) bool {
		if res.first == "" {
			res.first = s.renderLit(base, l, nil)
		}
		if a.Iff == nil {
			return false
		}
		if iffSlot < 0 {
			res.wildcard = true
			return true
		}
		v := s.value(s.frame[s.deref(base+iffSlot)])
		if isWild(v) {
			res.wildcard = true
		} else if !slices.Contains(res.values, v) {
			res.values = append(res.values, v)
		}
		return true
	}}
	s.body(bc, base, plan, 0)
	s.pop(base)
	return res, s.err
}

func sameSet(a, b []term.Value) bool {
	for _, v := range a {
		if !slices.Contains(b, v) {
			return false
		}
	}
	for _, v := range b {
		if !slices.Contains(a, v) {
			return false
		}
	}
	return true
}

func disjoint(a, b []term.Value) bool {
	for _, v := range a {
		if slices.Contains(b, v) {
			return false
		}
	}
	return true
}

// renderSet renders values as "[read edit]": sorted, strings unquoted.
func renderSet(vals []term.Value) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		if v.Type == term.TypeString {
			parts[i] = v.ID
		} else {
			parts[i] = v.String()
		}
	}
	sort.Strings(parts)
	return "[" + strings.Join(parts, " ") + "]"
}
