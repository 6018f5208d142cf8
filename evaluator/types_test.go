package evaluator

import (
	"testing"

	"github.com/castellan-authz/castellan/lang"
)

// TestTypesAgreeWithProgram checks the evaluator's precomputed type tables
// against (*lang.Program).TypeMatches on every pair of types.
func TestTypesAgreeWithProgram(t *testing.T) {
	p := mustCompile(t, `actor User {}
		actor Bot extends User {}
		resource Base {}
		resource Repo extends Base {}
		resource Fork extends Repo {}
		resource Org {}`)
	ts := newTypeSys(p)
	names := []string{"", "User", "Bot", "Base", "Repo", "Fork", "Org", "Role", "String", "Integer", "Boolean",
		lang.AbstractActor, lang.AbstractResource}
	for _, vt := range names[1:] {
		for _, c := range names {
			if got, want := ts.matches(vt, c), p.TypeMatches(vt, c); got != want {
				t.Errorf("matches(%q, %q) = %v, want %v", vt, c, got, want)
			}
		}
	}

	// A solver's memo of the answers (typeMatches, typeIntersect) agrees
	// with them, whichever copies of the names it is asked about, in
	// whatever order (each pair is asked three times, with other pairs
	// in between, so that answers come from the memo and entries are
	// replaced).
	s := newSolver(New(p))
	spell := func(name string) string { return string([]byte(name)) } // a copy elsewhere
	copies := map[string][]string{}
	for _, n := range names {
		copies[n] = []string{n, spell(n), spell(n)}
	}
	for round := range 3 {
		for _, vt := range names {
			for _, c := range names {
				a, b := copies[vt][round], copies[c][(round+1)%3]
				if got, want := s.typeMatches(a, b), ts.matches(vt, c); got != want {
					t.Errorf("round %d: typeMatches(%q, %q) = %v, want %v", round, vt, c, got, want)
				}
				gt, gok := s.typeIntersect(a, b)
				wt, wok := ts.intersect(vt, c)
				if gt != wt || gok != wok {
					t.Errorf("round %d: typeIntersect(%q, %q) = %q, %v, want %q, %v", round, vt, c, gt, gok, wt, wok)
				}
			}
		}
	}
}
