package evaluator

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRunTests(t *testing.T) {
	policy := `actor User {}
resource Organization {
  roles = ["member", "owner"];
  permissions = ["read", "edit"];
  "member" if "owner";
  "read" if "member";
  "edit" if "owner";
}
test fixture acme {
  has_role(User{"bob"}, "owner", Organization{"acme"});
}
test "owners" {
  setup {
    fixture acme;
    has_role(User{"alice"}, "member", Organization{"acme"});
  }
  assert allow(User{"bob"}, "read", Organization{"acme"});
  assert_not allow(User{"alice"}, "edit", Organization{"acme"});
  assert allow(User{"bob"}, action: String, Organization{"acme"}) iff action in ["read", "edit"];
  assert allow(User{"alice"}, action: String, Organization{"acme"}) iff action not in ["edit"];
  assert has_role(u: User, "member", Organization{"acme"}) iff u in [User{"alice"}, User{"bob"}];
}
test "failing" {
  setup {
    has_role(User{"alice"}, "member", Organization{"acme"});
  }
  assert allow(User{"alice"}, action: String, Organization{"acme"}) iff action in ["read", "edit"];
  assert allow(User{"alice"}, "edit", Organization{"acme"});
  assert_not allow(User{"alice"}, "read", Organization{"acme"});
  assert allow(User{"alice"}, action: String, Organization{"acme"}) iff action not in ["read"];
}
test "isolated" {
  assert_not allow(User{"bob"}, "read", Organization{"acme"});
}
`
	e := New(mustCompile(t, policy))
	got := e.RunTests(t.Context())
	type summary struct {
		Name          string
		Passed, Total int
		Failures      []string
	}
	var sums []summary
	for _, r := range got {
		s := summary{Name: r.Name, Passed: r.Passed, Total: r.Total}
		for _, f := range r.Failures {
			s.Failures = append(s.Failures, f.Pos.String()+": "+f.Assertion+": "+f.Message)
		}
		sums = append(sums, s)
	}
	want := []summary{
		{Name: "owners", Passed: 5, Total: 5},
		{Name: "failing", Passed: 0, Total: 4, Failures: []string{
			`policy.polar:27:3: assert allow(User{"alice"}, action: String, Organization{"acme"}) iff action in ["read", "edit"]: got [read], want [edit read]`,
			`policy.polar:28:3: assert allow(User{"alice"}, "edit", Organization{"acme"}): got no result, want a result`,
			`policy.polar:29:3: assert_not allow(User{"alice"}, "read", Organization{"acme"}): got allow(User{"alice"}, "read", Organization{"acme"}), want no result`,
			`policy.polar:30:3: assert allow(User{"alice"}, action: String, Organization{"acme"}) iff action not in ["read"]: got [read], want none of [read]`,
		}},
		{Name: "isolated", Passed: 1, Total: 1},
	}
	if diff := cmp.Diff(want, sums); diff != "" {
		t.Errorf("RunTests (-want +got):\n%s", diff)
	}
	// Each failed assertion without iff carries its derivation: where the
	// assert failed, why the assert_not held.
	fs := got[1].Failures
	if fs[0].Derivation != nil || fs[3].Derivation != nil {
		t.Error("an iff assertion has a derivation")
	}
	if d := fs[1].Derivation; d == nil || d.Holds || d.Goal != `allow(User{"alice"}, "edit", Organization{"acme"})` || len(d.Tried) == 0 {
		t.Errorf("derivation of the failed assert: %+v", d)
	}
	d := fs[2].Derivation
	if d == nil || !d.Holds || d.Rule == nil || len(d.Premises) != 1 {
		t.Fatalf("derivation of the failed assert_not: %+v", d)
	}
	perm := d.Premises[0]
	if perm.Rule == nil || !strings.Contains(perm.Rule.Text, `"read" if "member"`) || len(perm.Premises) != 1 ||
		perm.Premises[0].Fact == nil || perm.Premises[0].Fact.Fact != `has_role(User{"alice"}, "member", Organization{"acme"})` {
		t.Errorf("the assert_not held by %+v", perm)
	}
	for _, r := range got {
		if r.Name != "failing" {
			for _, f := range r.Failures {
				t.Errorf("unexpected failure %+v", f)
			}
		}
	}
}
