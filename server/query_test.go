package server

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// queryV1Policy has a rule that holds for any User and one that holds for
// a value of any type.
const queryV1Policy = `actor User {}

resource Organization {
  roles = ["member", "owner"];
  "member" if "owner";
}

resource Repository {
  permissions = ["read"];
}

has_permission(_: User, "read", repo: Repository) if is_public(repo);

anything(_, "x");
`

func TestQueryV1(t *testing.T) {
	e := newTestEnv(t, nil)
	e.uploadPolicy(t, queryV1Policy)
	e.insert(t, fact("has_role", "User:alice", "owner", "Organization:acme"))
	public := []any{fact("is_public", "Repository:anvil")}
	// v is a pattern value, and a result value: nil stands for null.
	v := func(typ, id any) map[string]any { return map[string]any{"type": typ, "id": id} }
	anyValue := v(nil, nil)

	tests := []struct {
		name    string
		pred    string
		args    []any
		context []any
		want    []any // args of each result, in order
	}{
		{
			name: "null types",
			pred: "has_role",
			args: []any{anyValue, anyValue, anyValue},
			want: []any{
				[]any{v("User", "alice"), v("String", "member"), v("Organization", "acme")},
				[]any{v("User", "alice"), v("String", "owner"), v("Organization", "acme")},
			},
		},
		{
			name: "typed with null ids",
			pred: "has_role",
			args: []any{v("User", nil), v("String", nil), v("Organization", "acme")},
			want: []any{
				[]any{v("User", "alice"), v("String", "member"), v("Organization", "acme")},
				[]any{v("User", "alice"), v("String", "owner"), v("Organization", "acme")},
			},
		},
		{
			name: "a type no value has",
			pred: "has_role",
			args: []any{v("Repository", nil), anyValue, anyValue},
			want: []any{},
		},
		{
			name:    "wildcard answer of a null type",
			pred:    "has_permission",
			args:    []any{anyValue, anyValue, v("Repository", "anvil")},
			context: public,
			want:    []any{[]any{v("User", nil), v("String", "read"), v("Repository", "anvil")}},
		},
		{
			name:    "wildcard answer of a given type",
			pred:    "has_permission",
			args:    []any{v("User", nil), v("String", nil), v("Repository", nil)},
			context: public,
			want:    []any{[]any{v("User", nil), v("String", "read"), v("Repository", "anvil")}},
		},
		{
			name: "wildcard of any type",
			pred: "anything",
			args: []any{anyValue, anyValue},
			want: []any{[]any{anyValue, v("String", "x")}},
		},
		{
			name: "wildcard of any type, asked with a type",
			pred: "anything",
			args: []any{v("Organization", nil), v("String", "x")},
			want: []any{[]any{v("Organization", nil), v("String", "x")}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := map[string]any{"fact": map[string]any{"predicate": tt.pred, "args": tt.args}}
			if tt.context != nil {
				body["context_facts"] = tt.context
			}
			var got map[string]any
			e.must(t, http.StatusOK, "POST", "/api/query", body).json(t, &got)
			results := []any{}
			for _, args := range tt.want {
				results = append(results, map[string]any{"predicate": tt.pred, "args": args})
			}
			if diff := cmp.Diff(map[string]any{"results": results}, got); diff != "" {
				t.Errorf("query v1 (-want +got):\n%s", diff)
			}
		})
	}
}
