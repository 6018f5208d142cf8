package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPolicyUpload(t *testing.T) {
	e := newTestEnv(t, nil)
	var msg map[string]any
	e.must(t, http.StatusOK, "POST", "/api/policy", map[string]any{"filename": nil, "src": testPolicy}).json(t, &msg)
	if diff := cmp.Diff(map[string]any{"message": "Policy loaded (version 1)"}, msg); diff != "" {
		t.Errorf("upload answer (-want +got):\n%s", diff)
	}
	r := e.must(t, http.StatusAccepted, "POST", "/api/policy", map[string]any{"filename": nil, "src": testPolicy})
	if r.header.Get("OsoOffset") == "" {
		t.Error("policy upload did not set OsoOffset")
	}

	var got struct {
		Policy *osoPolicy `json:"policy"`
	}
	e.must(t, http.StatusOK, "GET", "/api/policy", nil).json(t, &got)
	if got.Policy == nil || got.Policy.Src != testPolicy || got.Policy.Filename != defaultPolicyFilename {
		t.Errorf("GET /api/policy = %+v, want the uploaded source", got.Policy)
	}

	var md map[string]any
	e.must(t, http.StatusOK, "GET", "/api/policy_metadata", nil).json(t, &md)
	want := map[string]any{"metadata": map[string]any{"resources": map[string]any{
		"User": map[string]any{"roles": []any{}, "permissions": []any{}, "relations": map[string]any{}},
		"Organization": map[string]any{"roles": []any{"member", "owner"}, "permissions": []any{"admin", "read"},
			"relations": map[string]any{}},
		"Repository": map[string]any{"roles": []any{"maintainer", "reader"}, "permissions": []any{"push", "read"},
			"relations": map[string]any{"parent": "Organization"}},
		// Always listed, as Oso does, even without a global block.
		"global": map[string]any{"roles": []any{}, "permissions": []any{}, "relations": map[string]any{}},
	}}}
	if diff := cmp.Diff(want, md); diff != "" {
		t.Errorf("policy_metadata (-want +got):\n%s", diff)
	}

	// Several files checked together.
	e.must(t, http.StatusOK, "POST", "/api/policy", map[string]any{"files": []any{
		map[string]any{"filename": "a.polar", "src": "actor User {}\n"},
		map[string]any{"filename": "b.polar", "src": "resource Doc { permissions = [\"read\"]; }\nhas_permission(_: User, \"read\", _: Doc);\n"},
	}})
	if v := e.liveVersion(); v != 2 {
		t.Errorf("live version = %d, want 2", v)
	}
	if !e.authorize(t, "User:x", "read", "Doc:d") {
		t.Error("the two-file policy does not allow what it says")
	}
}

func TestFactsAndChecks(t *testing.T) {
	e := newTestEnv(t, nil)
	e.uploadPolicy(t, testPolicy)
	r := e.insert(t,
		fact("has_role", "User:alice", "owner", "Organization:acme"),
		fact("has_relation", "Repository:anvil", "parent", "Organization:acme"),
		fact("has_relation", "Repository:forge", "parent", "Organization:acme"),
		fact("has_role", "User:bob", "maintainer", "Repository:solo"),
	)
	off, err := strconv.ParseUint(r.header.Get("OsoOffset"), 10, 64)
	if err != nil || off == 0 {
		t.Fatalf("batch OsoOffset = %q, want a revision", r.header.Get("OsoOffset"))
	}

	checks := []struct {
		actor, action, resource string
		want                    bool
	}{
		{"User:alice", "read", "Repository:anvil", true},
		{"User:alice", "push", "Repository:anvil", false},
		{"User:bob", "push", "Repository:solo", true},
		{"User:bob", "read", "Repository:anvil", false},
		{"User:carol", "read", "Organization:acme", false},
	}
	for _, c := range checks {
		if got := e.authorize(t, c.actor, c.action, c.resource); got != c.want {
			t.Errorf("authorize(%s, %s, %s) = %v, want %v", c.actor, c.action, c.resource, got, c.want)
		}
	}
	// A context fact grants for one request and is never stored.
	before := e.numFacts(t)
	if !e.authorize(t, "User:carol", "read", "Repository:anvil", fact("has_role", "User:carol", "member", "Organization:acme")) {
		t.Error("context fact did not grant")
	}
	if e.authorize(t, "User:carol", "read", "Repository:anvil") {
		t.Error("context fact leaked into the next request")
	}
	if n := e.numFacts(t); n != before {
		t.Errorf("context fact was stored: %d facts, want %d", n, before)
	}

	var list map[string]any
	e.must(t, http.StatusOK, "POST", "/api/list", map[string]any{"actor_type": "User", "actor_id": "alice", "action": "read", "resource_type": "Repository"}).json(t, &list)
	if diff := cmp.Diff(map[string]any{"results": []any{"anvil", "forge"}}, list); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}
	// Paginated: next_page_token appears only when asked for pages.
	var page1, page2 map[string]any
	e.must(t, http.StatusOK, "POST", "/api/list", map[string]any{"actor_type": "User", "actor_id": "alice", "action": "read", "resource_type": "Repository", "page_size": 1}).json(t, &page1)
	tok, _ := page1["next_page_token"].(string)
	if tok == "" || len(page1["results"].([]any)) != 1 {
		t.Fatalf("first page = %v, want one result and a token", page1)
	}
	e.must(t, http.StatusOK, "POST", "/api/list", map[string]any{"actor_type": "User", "actor_id": "alice", "action": "read", "resource_type": "Repository", "page_size": 1, "page_token": tok}).json(t, &page2)
	if diff := cmp.Diff(map[string]any{"results": []any{"forge"}, "next_page_token": nil}, page2); diff != "" {
		t.Errorf("second page (-want +got):\n%s", diff)
	}

	var acts map[string]any
	e.must(t, http.StatusOK, "POST", "/api/actions", map[string]any{"actor_type": "User", "actor_id": "bob", "resource_type": "Repository", "resource_id": "solo"}).json(t, &acts)
	if diff := cmp.Diff(map[string]any{"results": []any{"push", "read"}}, acts); diff != "" {
		t.Errorf("actions (-want +got):\n%s", diff)
	}

	var bulk []map[string]any
	e.must(t, http.StatusOK, "POST", "/api/bulk_actions", []any{
		map[string]any{"actor_type": "User", "actor_id": "bob", "resource_type": "Repository", "resource_id": "solo"},
		map[string]any{"actor_type": "User", "actor_id": "bob", "resource_type": "Repository", "resource_id": "anvil"},
	}).json(t, &bulk)
	if diff := cmp.Diff([]map[string]any{{"results": []any{"push", "read"}}, {"results": []any{}}}, bulk); diff != "" {
		t.Errorf("bulk_actions (-want +got):\n%s", diff)
	}

	var ar map[string]any
	e.must(t, http.StatusOK, "POST", "/api/authorize_resources", map[string]any{"actor_type": "User", "actor_id": "alice", "action": "read",
		"resources": []any{map[string]any{"type": "Repository", "id": "forge"}, map[string]any{"type": "Repository", "id": "solo"}, map[string]any{"type": "Repository", "id": "anvil"}}}).json(t, &ar)
	if diff := cmp.Diff(map[string]any{"results": []any{map[string]any{"type": "Repository", "id": "forge"}, map[string]any{"type": "Repository", "id": "anvil"}}}, ar); diff != "" {
		t.Errorf("authorize_resources (-want +got):\n%s", diff)
	}

	var eq map[string]any
	e.must(t, http.StatusOK, "POST", "/api/evaluate_query", map[string]any{
		"predicate": []any{"allow", []any{"u", "a", "r"}},
		"calls":     []any{},
		"constraints": map[string]any{
			"u": map[string]any{"type": "User", "ids": []any{"alice"}},
			"a": map[string]any{"type": "String", "ids": []any{"read"}},
			"r": map[string]any{"type": "Repository", "ids": nil},
		},
	}).json(t, &eq)
	want := map[string]any{"results": []any{
		map[string]any{"u": "alice", "a": "read", "r": "anvil"},
		map[string]any{"u": "alice", "a": "read", "r": "forge"},
	}}
	if diff := cmp.Diff(want, eq); diff != "" {
		t.Errorf("evaluate_query (-want +got):\n%s", diff)
	}

	var q1 map[string]any
	e.must(t, http.StatusOK, "POST", "/api/query", map[string]any{"fact": map[string]any{"predicate": "has_role", "args": []any{
		map[string]any{"type": "User", "id": nil}, map[string]any{"type": "String", "id": "owner"}, map[string]any{"type": "Organization", "id": "acme"}}}}).json(t, &q1)
	if diff := cmp.Diff(normJSON(map[string]any{"results": []any{fact("has_role", "User:alice", "owner", "Organization:acme")}}), normJSON(q1)); diff != "" {
		t.Errorf("query v1 (-want +got):\n%s", diff)
	}

	// GET /api/facts with omitted trailing arguments.
	var got []map[string]any
	q := url.Values{"predicate": {"has_relation"}, "args.2.type": {"Organization"}, "args.2.id": {"acme"}}
	e.must(t, http.StatusOK, "GET", "/api/facts?"+q.Encode(), nil).json(t, &got)
	if len(got) != 2 {
		t.Errorf("GET /api/facts has_relation(_, _, acme) = %v, want 2 facts", got)
	}
	e.must(t, http.StatusOK, "GET", "/api/facts?predicate=has_role&args.0.type=User&args.0.id=bob", nil).json(t, &got)
	if diff := cmp.Diff(normJSON([]map[string]any{fact("has_role", "User:bob", "maintainer", "Repository:solo")}), normJSON(got)); diff != "" {
		t.Errorf("GET /api/facts (-want +got):\n%s", diff)
	}

	var stats map[string]any
	e.must(t, http.StatusOK, "GET", "/api/stats", nil).json(t, &stats)
	if diff := cmp.Diff(map[string]any{"num_roles": 2.0, "num_relations": 2.0, "num_facts": 4.0}, stats); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}

	// Deletes with wildcards, then clear.
	e.must(t, http.StatusOK, "POST", "/api/batch", []any{map[string]any{"deletes": []any{map[string]any{"predicate": "has_relation",
		"args": []any{map[string]any{"type": "Repository", "id": nil}, map[string]any{"type": nil, "id": nil}, map[string]any{"type": "Organization", "id": "acme"}}}}}})
	if e.authorize(t, "User:alice", "read", "Repository:anvil") {
		t.Error("wildcard delete left the relation")
	}
	e.must(t, http.StatusOK, "POST", "/api/clear_data", nil)
	if n := e.numFacts(t); n != 0 {
		t.Errorf("after clear_data: %d facts", n)
	}
}

// normJSON round-trips a value through JSON so typed and untyped maps
// compare equal.
func normJSON(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

func TestLegacyWrites(t *testing.T) {
	e := newTestEnv(t, nil)
	e.uploadPolicy(t, testPolicy)
	f := fact("has_role", "User:alice", "owner", "Organization:acme")
	var echoed map[string]any
	e.must(t, http.StatusOK, "POST", "/api/facts", f).json(t, &echoed)
	if diff := cmp.Diff(normJSON(f), normJSON(echoed)); diff != "" {
		t.Errorf("POST /api/facts echo (-want +got):\n%s", diff)
	}
	e.must(t, http.StatusOK, "POST", "/api/bulk_load", []any{fact("has_role", "User:bob", "member", "Organization:acme"), fact("has_role", "User:carol", "member", "Organization:acme")})
	if n := e.numFacts(t); n != 3 {
		t.Fatalf("after bulk_load: %d facts, want 3", n)
	}
	e.must(t, http.StatusOK, "DELETE", "/api/facts", f)
	e.must(t, http.StatusOK, "POST", "/api/bulk_delete", []any{fact("has_role", "User:bob", "member", "Organization:acme")})
	if n := e.numFacts(t); n != 1 {
		t.Fatalf("after deletes: %d facts, want 1", n)
	}
	// bulk: deletes before tells, atomically.
	e.must(t, http.StatusOK, "POST", "/api/bulk", map[string]any{
		"delete": []any{map[string]any{"predicate": "has_role", "args": []any{map[string]any{"type": "User", "id": nil}, map[string]any{"type": nil, "id": nil}, map[string]any{"type": "Organization", "id": "acme"}}}},
		"tell":   []any{fact("has_role", "User:dan", "owner", "Organization:acme")},
	})
	if !e.authorize(t, "User:dan", "admin", "Organization:acme") || e.authorize(t, "User:carol", "read", "Organization:acme") {
		t.Error("bulk did not delete then tell")
	}
}

func TestBatchOrderAndAtomicity(t *testing.T) {
	e := newTestEnv(t, nil)
	e.uploadPolicy(t, testPolicy)
	alice := fact("has_role", "User:alice", "owner", "Organization:acme")
	// insert, delete, insert again: the fact ends up stored.
	e.must(t, http.StatusOK, "POST", "/api/batch", []any{
		map[string]any{"inserts": []any{alice}},
		map[string]any{"deletes": []any{alice}},
		map[string]any{"inserts": []any{alice}},
	})
	if !e.authorize(t, "User:alice", "admin", "Organization:acme") {
		t.Error("ordered changesets: fact missing")
	}
	// One bad fact: nothing of the batch is written.
	r := e.must(t, http.StatusBadRequest, "POST", "/api/batch", []any{
		map[string]any{"deletes": []any{alice}},
		map[string]any{"inserts": []any{fact("has_role", "User:bob", "owner", "Organization:acme"), fact("no_such_predicate", "User:bob")}},
	})
	if msg := r.envelope(t).Message; !strings.Contains(msg, "no_such_predicate") {
		t.Errorf("message %q does not name the bad fact", msg)
	}
	if !e.authorize(t, "User:alice", "admin", "Organization:acme") || e.authorize(t, "User:bob", "admin", "Organization:acme") {
		t.Error("a rejected batch was partly applied")
	}
}

// TestExplain checks that explanations come only when asked for.
func TestExplain(t *testing.T) {
	e := newTestEnv(t, nil)
	e.uploadPolicy(t, testPolicy)
	e.insert(t, fact("has_role", "User:alice", "owner", "Organization:acme"),
		fact("has_relation", "Repository:anvil", "parent", "Organization:acme"))
	authz := map[string]any{"actor_type": "User", "actor_id": "alice", "action": "read", "resource_type": "Repository", "resource_id": "anvil"}
	tests := []struct {
		path string
		body map[string]any
		keys []string // explanation keys, for list and actions
	}{
		{"/api/authorize", authz, nil},
		{"/api/list", map[string]any{"actor_type": "User", "actor_id": "alice", "action": "read", "resource_type": "Repository"}, []string{"anvil"}},
		{"/api/actions", map[string]any{"actor_type": "User", "actor_id": "alice", "resource_type": "Repository", "resource_id": "anvil"}, []string{"read"}},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			var plain, explained map[string]any
			e.must(t, http.StatusOK, "POST", tc.path, tc.body).json(t, &plain)
			if _, ok := plain["explanation"]; ok {
				t.Errorf("explanation without ?explain=true: %v", plain)
			}
			e.must(t, http.StatusOK, "POST", tc.path+"?explain=true", tc.body).json(t, &explained)
			ex, ok := explained["explanation"].(map[string]any)
			if !ok {
				t.Fatalf("no explanation with ?explain=true: %v", explained)
			}
			if tc.keys == nil {
				if ex["holds"] != true || ex["goal"] == "" {
					t.Errorf("explanation %v", ex)
				}
				return
			}
			for _, k := range tc.keys {
				if sub, ok := ex[k].(map[string]any); !ok || sub["holds"] != true {
					t.Errorf("explanation[%q] = %v", k, ex[k])
				}
			}
		})
	}
}

func TestPolicyMetadataGlobalBlock(t *testing.T) {
	// A global block's own metadata is answered, not replaced by the empty
	// entry listed for policies without one.
	e := newTestEnv(t, nil)
	src := "actor User {}\nglobal { roles = [\"admin\"]; permissions = [\"create\"]; \"create\" if \"admin\"; }\n"
	e.must(t, http.StatusOK, "POST", "/api/policy", map[string]any{"filename": nil, "src": src})
	var md map[string]any
	e.must(t, http.StatusOK, "GET", "/api/policy_metadata", nil).json(t, &md)
	want := map[string]any{"metadata": map[string]any{"resources": map[string]any{
		"User":   map[string]any{"roles": []any{}, "permissions": []any{}, "relations": map[string]any{}},
		"global": map[string]any{"roles": []any{"admin"}, "permissions": []any{"create"}, "relations": map[string]any{}},
	}}}
	if diff := cmp.Diff(want, md); diff != "" {
		t.Errorf("policy_metadata (-want +got):\n%s", diff)
	}
}
