package server

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/castellan-authz/castellan/evaluator"
)

// TestExplanationWire pins the JSON of an explanation: key order, and which
// keys are left out when empty.
func TestExplanationWire(t *testing.T) {
	x := &evaluator.Explanation{
		Goal: `allow(User{"a"}, "read", Doc{"d"})`, Holds: true,
		Rule: &evaluator.RuleUse{Text: `"read" if "reader";`, Position: "p.polar:3:3"},
		Premises: []*evaluator.Explanation{
			{Goal: `has_role(User{"a"}, "reader", Doc{"d"})`, Holds: true, Fact: &evaluator.FactUse{Fact: `has_role(User{"a"}, "reader", Doc{"d"})`, Origin: evaluator.OriginContext}},
			{Goal: `x = 1`, Holds: true},
		},
		Tried: []*evaluator.Explanation{
			{Goal: `allow(User{"a"}, "read", Doc{"d"})`, Rule: &evaluator.RuleUse{Text: "allow if false"}, Failed: "the rule body is false"},
		},
	}
	tests := []struct {
		name string
		in   *evaluator.Explanation
		want string
	}{
		{"nil", nil, `null`},
		{"empty", &evaluator.Explanation{Premises: []*evaluator.Explanation{}}, `{"goal":"","holds":false}`},
		{"full", x, `{"goal":"allow(User{\"a\"}, \"read\", Doc{\"d\"})","holds":true,` +
			`"rule":{"source":"\"read\" if \"reader\";","position":"p.polar:3:3"},` +
			`"premises":[{"goal":"has_role(User{\"a\"}, \"reader\", Doc{\"d\"})","holds":true,"fact":{"fact":"has_role(User{\"a\"}, \"reader\", Doc{\"d\"})","origin":"context"}},` +
			`{"goal":"x = 1","holds":true}],` +
			`"tried":[{"goal":"allow(User{\"a\"}, \"read\", Doc{\"d\"})","holds":false,"rule":{"source":"allow if false"},"failed":"the rule body is false"}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.Marshal(toExplanationOut(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("explanation JSON (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPolicyMetadataWire pins the bytes of GET /api/policy_metadata: key
// order, and empty lists and maps sent as [] and {}.
func TestPolicyMetadataWire(t *testing.T) {
	e := newTestEnv(t, nil)
	e.uploadPolicy(t, testPolicy+"global { roles = [\"admin\"]; }\n")
	got := e.must(t, http.StatusOK, "GET", "/api/policy_metadata", nil).body
	want := `{"metadata":{"resources":{` +
		`"Organization":{"roles":["member","owner"],"permissions":["admin","read"],"relations":{}},` +
		`"Repository":{"roles":["maintainer","reader"],"permissions":["push","read"],"relations":{"parent":"Organization"}},` +
		`"User":{"roles":[],"permissions":[],"relations":{}},` +
		`"global":{"roles":["admin"],"permissions":[],"relations":{}}}}}` + "\n"
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("policy_metadata (-want +got):\n%s", diff)
	}
}
