package server

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/castellan-authz/castellan/evaluator/evaltest"
	"github.com/castellan-authz/castellan/lang/term"
)

// TestDeepChainEndpointsAgree asks every endpoint the same question about
// the last folder of a parent chain deeper than the evaluator's default
// MaxDepth (1024). List and AuthZEN resource search used to list it as
// readable while authorize, actions, evaluate_query and AuthZEN
// evaluation answered 422: every endpoint must give the same answer.
func TestDeepChainEndpointsAgree(t *testing.T) {
	const n = 3000
	e := newTestEnv(t, nil)
	e.uploadPolicy(t, evaltest.FolderPolicy)
	var facts []map[string]any
	for _, f := range evaltest.FolderChain(n, term.Entity("User", "u")) {
		args := make([]any, len(f.Args))
		for i, a := range f.Args {
			args[i] = map[string]any{"type": a.Type, "id": a.ID}
		}
		facts = append(facts, map[string]any{"predicate": f.Predicate, "args": args})
	}
	e.insert(t, facts...)
	leaf := fmt.Sprint(n)

	// answer runs one endpoint and reduces its response to "allowed",
	// "denied" or the error.
	answer := func(path string, body any, allowed func(r response) bool) string {
		r := e.do(t, "POST", path, body)
		if r.status != http.StatusOK {
			return fmt.Sprintf("%d %s", r.status, r.body)
		}
		if allowed(r) {
			return "allowed"
		}
		return "denied"
	}
	decode := func(r response) map[string]any {
		var out map[string]any
		r.json(t, &out)
		return out
	}
	results := func(r response) []any { res, _ := decode(r)["results"].([]any); return res }
	subject, action, resource := entity("User", "u"), map[string]any{"name": "read"}, entity("Folder", leaf)
	got := map[string]string{
		"/api/authorize": answer("/api/authorize", map[string]any{"actor_type": "User", "actor_id": "u", "action": "read", "resource_type": "Folder", "resource_id": leaf},
			func(r response) bool { return decode(r)["allowed"] == true }),
		"/api/authorize_resources": answer("/api/authorize_resources", map[string]any{"actor_type": "User", "actor_id": "u", "action": "read", "resources": []any{resource}},
			func(r response) bool { return len(results(r)) == 1 }),
		"/api/list": answer("/api/list", map[string]any{"actor_type": "User", "actor_id": "u", "action": "read", "resource_type": "Folder"},
			func(r response) bool { return slices.Contains(results(r), any(leaf)) }),
		"/api/actions": answer("/api/actions", map[string]any{"actor_type": "User", "actor_id": "u", "resource_type": "Folder", "resource_id": leaf},
			func(r response) bool { return slices.Contains(results(r), any("read")) }),
		"/api/evaluate_query": answer("/api/evaluate_query", map[string]any{
			"predicate": []any{"allow", []any{"u", "a", "r"}},
			"constraints": map[string]any{
				"u": map[string]any{"type": "User", "ids": []any{"u"}},
				"a": map[string]any{"type": "String", "ids": []any{"read"}},
				"r": map[string]any{"type": "Folder", "ids": []any{leaf}},
			}}, func(r response) bool { return len(results(r)) == 1 }),
		"/access/v1/evaluation": answer("/access/v1/evaluation", map[string]any{"subject": subject, "action": action, "resource": resource},
			func(r response) bool { return decode(r)["decision"] == true }),
		"/access/v1/evaluations": answer("/access/v1/evaluations", map[string]any{"subject": subject, "action": action, "evaluations": []any{map[string]any{"resource": resource}}},
			func(r response) bool {
				ev, _ := decode(r)["evaluations"].([]any)
				return len(ev) == 1 && ev[0].(map[string]any)["decision"] == true
			}),
		"/access/v1/search/resource": answer("/access/v1/search/resource", map[string]any{"subject": subject, "action": action, "resource": map[string]any{"type": "Folder"}, "page": map[string]any{"limit": n + 1}},
			func(r response) bool {
				return slices.ContainsFunc(results(r), func(v any) bool { return v.(map[string]any)["id"] == leaf })
			}),
	}
	for path, g := range got {
		if g != "allowed" {
			t.Errorf("%s: %s, want allowed", path, g)
		}
	}
}
