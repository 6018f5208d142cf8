package evaluator

import (
	"slices"
	"testing"

	"github.com/castellan-authz/castellan/lang/term"
)

// A stored fact of a predicate the policy also derives by rules holds beside
// the derivations (Oso Cloud lets facts be written "explicit to the rule
// itself"): Authorize, Actions and List all see it.
func TestStoredFactsOfDerivedPredicates(t *testing.T) {
	prog := mustCompile(t, `actor User {}
resource Repo {
  roles = ["reader"];
  permissions = ["read", "push"];
  "read" if "reader";
}`)
	eve, anvil := term.Entity("User", "eve"), term.Entity("Repo", "anvil")
	direct := term.Fact{Predicate: "has_permission", Args: []term.Value{eve, term.String("push"), anvil}}
	if err := prog.CheckFact(direct); err != nil {
		t.Fatalf("CheckFact(%s) = %v, want it storable", direct, err)
	}
	e := New(prog)
	for name, req := range map[string]Request{
		"stored":  {Source: &sliceSource{facts: []term.Fact{direct}}},
		"context": {Context: []term.Fact{direct}},
	} {
		t.Run(name, func(t *testing.T) {
			d, err := e.Authorize(t.Context(), req, eve, "push", anvil)
			if err != nil || !d.Allowed {
				t.Errorf("Authorize(push) = %v, %v; want allowed", d.Allowed, err)
			}
			d, err = e.Authorize(t.Context(), req, eve, "read", anvil)
			if err != nil || d.Allowed {
				t.Errorf("Authorize(read) = %v, %v; want denied (only push was granted)", d.Allowed, err)
			}
			acts, err := e.Actions(t.Context(), req, eve, anvil)
			if err != nil || !slices.Equal(acts, []string{"push"}) {
				t.Errorf("Actions = %v, %v; want [push]", acts, err)
			}
			res, err := e.List(t.Context(), req, eve, "push", "Repo", Page{})
			if err != nil || !slices.Equal(res.IDs, []string{"anvil"}) {
				t.Errorf("List = %+v, %v; want [anvil]", res, err)
			}
		})
	}
}
