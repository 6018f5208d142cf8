package evaluator

import (
	"slices"
	"testing"

	"github.com/castellan-authz/castellan/evaluator/evaltest"
	"github.com/castellan-authz/castellan/lang/term"
)

// TestRulesForByNumber checks that the rules a solver selects for a
// constant argument by the constant's number are those selected by its
// text, for every constant of a program spelled as in the program or
// elsewhere, and for values no rule names.
func TestRulesForByNumber(t *testing.T) {
	e := New(mustCompile(t, evaltest.GitHubPolicy))
	s := newSolver(e)
	var args []term.Value
	for _, c := range e.consts.vals {
		args = append(args, c, term.Value{Type: c.Type, ID: string([]byte(c.ID))})
	}
	args = append(args, term.String("no-such-action"), term.Entity("User", "alice"))
	checked := 0
	for _, p := range e.preds {
		for k := range p.byConst {
			if p.byConst[k] == nil {
				continue
			}
			for _, a := range args {
				call := make([]term.Value, p.arity)
				for i := range call {
					call[i] = wild("")
				}
				call[k] = a
				if got, want := s.rulesFor(p, call), p.rulesFor(call); !slices.Equal(got, want) {
					t.Errorf("%s/%d argument %d = %v: %d rules by number, %d by text", p.name, p.arity, k, a, len(got), len(want))
				}
				checked++
			}
		}
	}
	if checked == 0 {
		t.Fatal("no predicate has rules indexed by a constant")
	}
}
