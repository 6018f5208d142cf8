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
}
