package evaluator

import (
	"slices"
	"testing"
	"time"

	"github.com/castellan-authz/castellan/evaluator/evaltest"
	"github.com/castellan-authz/castellan/lang/term"
)

// TestRulesForByNumber checks that the rules a solver selects for a
// constant argument by the constant's number are those selected by its
// text, for every constant of a program spelled as in the program or
// elsewhere, and for values no rule names, over a source without ids, a
// store holding half of the constants (by generation) and the store with
// context facts (no generation).
func TestRulesForByNumber(t *testing.T) {
	e := New(mustCompile(t, evaltest.GitHubPolicy))
	var args []term.Value
	var fs []term.Fact
	for i, c := range e.consts.vals {
		args = append(args, c, term.Value{Type: c.Type, ID: string([]byte(c.ID))})
		if i%2 == 0 {
			fs = append(fs, term.Fact{Predicate: "holds", Args: []term.Value{c}})
		}
	}
	args = append(args, term.String("no-such-action"), term.Entity("User", "alice"))
	fs = append(fs, term.Fact{Predicate: "holds", Args: []term.Value{term.Entity("User", "alice")}})
	mem := loadMemory(t, fs)
	for _, r := range []Request{{}, {Source: mem}, {Source: mem, Context: fs[:1]}} {
		s := e.acquire(t.Context(), r.source(), time.Time{})
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
					if got, want := s.rulesFor(p, s.handles(nil, call)), p.rulesFor(call); !slices.Equal(got, want) {
						t.Errorf("%T: %s/%d argument %d = %v: %d rules by number, %d by text", r.Source, p.name, p.arity, k, a, len(got), len(want))
					}
					checked++
				}
			}
		}
		e.release(s)
		if checked == 0 {
			t.Fatal("no predicate has rules indexed by a constant")
		}
	}
}
