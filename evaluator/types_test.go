package evaluator

import (
	"testing"
	"time"

	"github.com/castellan-authz/castellan/lang"
	"github.com/castellan-authz/castellan/lang/term"
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

	// A solver's type numbers (tnum, typeMatches, typeIntersect) agree
	// with them, whichever copies of the names it is asked about (each
	// pair three times, so that numbers come from the memo), for the
	// program's names and others ("Role", "Nope": numbers of the query).
	e := New(p)
	s := e.acquire(t.Context(), nil, time.Time{})
	defer e.release(s)
	names = append(names, "Nope")
	if n := s.tnum(term.TypeString); n != typeStringNum {
		t.Errorf("tnum(String) = %d, want typeStringNum", n)
	}
	spell := func(name string) string { return string([]byte(name)) } // a copy elsewhere
	copies := map[string][]string{}
	for _, n := range names {
		copies[n] = []string{n, spell(n), spell(n)}
	}
	for round := range 3 {
		for _, vt := range names {
			for _, c := range names {
				a, b := s.tnum(copies[vt][round]), s.tnum(copies[c][(round+1)%3])
				if s.typeName(a) != vt || s.typeName(b) != c {
					t.Errorf("round %d: typeName(tnum(%q)), typeName(tnum(%q)) = %q, %q", round, vt, c, s.typeName(a), s.typeName(b))
				}
				if got, want := s.typeMatches(a, b), ts.matches(vt, c); got != want {
					t.Errorf("round %d: typeMatches(%q, %q) = %v, want %v", round, vt, c, got, want)
				}
				gt, gok := s.typeIntersect(a, b)
				wt, wok := ts.intersect(vt, c)
				if s.typeName(gt) != wt || gok != wok {
					t.Errorf("round %d: typeIntersect(%q, %q) = %q, %v, want %q, %v", round, vt, c, s.typeName(gt), gok, wt, wok)
				}
			}
		}
	}
}
