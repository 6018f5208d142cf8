package server

import (
	"net/http"
	"strings"
	"testing"
)

// ctxPolicy reads context facts of its own: a Boolean attribute and a
// relation the callers send with each question.
const ctxPolicy = testPolicy + `
declare is_archived(Repository, Boolean);
has_permission(_: User, "read", repo: Repository) if is_archived(repo, true);
`

// TestContextFactsChecked sends, on every endpoint that takes context
// facts, a fact the policy cannot use: each is a 400 invalid_fact naming
// the fact, its index and what was probably meant; the same facts spelled
// right are answered.
func TestContextFactsChecked(t *testing.T) {
	e := authzenEnv(t)
	e.uploadPolicy(t, ctxPolicy)
	good := fact("has_relation", "Repository:new", "parent", "Organization:acme")
	cases := []struct {
		name string
		fact map[string]any
		want []string // substrings of the message
	}{
		{"typo in the predicate", fact("has_relaton", "Repository:new", "parent", "Organization:acme"),
			[]string{`context_facts[1] has_relaton(Repository{"new"}, "parent", Organization{"acme"})`, "unknown predicate has_relaton/3", "did you mean has_relation?"}},
		{"wrong arity", fact("is_archived", "Repository:new"),
			[]string{"context_facts[1]", "is_archived facts take 2 arguments, not 1"}},
		{"a String where a Boolean is expected", fact("is_archived", "Repository:new", "true"),
			[]string{"context_facts[1]", `argument 2 is "true" (a String); the policy expects Boolean there: did you mean Boolean{true}?`}},
		{"a type one typo away", fact("has_relation", "Repository:new", "parent", "Organisation:acme"),
			[]string{"argument 3 is Organisation{\"acme\"}", "did you mean Organization{\"acme\"}?"}},
		{"a verified predicate", fact("request_caller", "Service:x"),
			[]string{"verified facts"}},
	}
	type endpoint struct {
		method, path string
		body         func(facts []any) any
		facts        string // how the message names the facts
	}
	endpoints := []endpoint{
		{"POST", "/api/authorize", func(fs []any) any {
			return map[string]any{"actor_type": "User", "actor_id": "bob", "action": "read", "resource_type": "Repository", "resource_id": "new", "context_facts": fs}
		}, "context_facts"},
		{"POST", "/api/authorize_resources", func(fs []any) any {
			return map[string]any{"actor_type": "User", "actor_id": "bob", "action": "read", "resources": []any{entity("Repository", "new")}, "context_facts": fs}
		}, "context_facts"},
		{"POST", "/api/list", func(fs []any) any {
			return map[string]any{"actor_type": "User", "actor_id": "bob", "action": "read", "resource_type": "Repository", "context_facts": fs}
		}, "context_facts"},
		{"POST", "/api/actions", func(fs []any) any {
			return map[string]any{"actor_type": "User", "actor_id": "bob", "resource_type": "Repository", "resource_id": "new", "context_facts": fs}
		}, "context_facts"},
		{"POST", "/api/bulk_actions", func(fs []any) any {
			return []any{map[string]any{"actor_type": "User", "actor_id": "bob", "resource_type": "Repository", "resource_id": "new", "context_facts": fs}}
		}, "context_facts"},
		{"POST", "/api/query", func(fs []any) any {
			return map[string]any{"fact": fact("allow", "User:bob", "read", "Repository:new"), "context_facts": fs}
		}, "context_facts"},
		{"POST", "/api/evaluate_query", func(fs []any) any {
			return map[string]any{"predicate": []any{"allow", []any{"u", "a", "r"}}, "constraints": map[string]any{
				"u": map[string]any{"type": "User", "ids": []any{"bob"}}, "a": map[string]any{"type": "String", "ids": []any{"read"}},
				"r": map[string]any{"type": "Repository", "ids": []any{"new"}}}, "context_facts": fs}
		}, "context_facts"},
		{"POST", "/access/v1/evaluation", func(fs []any) any {
			return map[string]any{"subject": entity("User", "bob"), "action": map[string]any{"name": "read"}, "resource": entity("Repository", "new"),
				"context": map[string]any{"context_facts": fs}}
		}, "context.context_facts"},
		{"POST", "/access/v1/search/resource", func(fs []any) any {
			return map[string]any{"subject": entity("User", "bob"), "action": map[string]any{"name": "read"}, "resource": map[string]any{"type": "Repository"},
				"context": map[string]any{"context_facts": fs}}
		}, "context.context_facts"},
	}
	for _, ep := range endpoints {
		t.Run(ep.path, func(t *testing.T) {
			e.must(t, http.StatusOK, ep.method, ep.path, ep.body([]any{good, fact("is_archived", "Repository:new", "Boolean:true")}))
			for _, tc := range cases {
				env := e.must(t, http.StatusBadRequest, ep.method, ep.path, ep.body([]any{good, tc.fact})).envelope(t)
				for _, w := range tc.want {
					w = strings.Replace(w, "context_facts[", ep.facts+"[", 1)
					if !strings.Contains(env.Message, w) {
						t.Errorf("%s: message %q does not contain %q", tc.name, env.Message, w)
					}
				}
				if env.Code != codeInvalidFact && !strings.Contains(tc.name, "verified") {
					t.Errorf("%s: code %q, want %q", tc.name, env.Code, codeInvalidFact)
				}
			}
		})
	}

	// In a batch of evaluations, a bad item is a deny carrying its error.
	var got struct {
		Evaluations []map[string]any `json:"evaluations"`
	}
	e.must(t, http.StatusOK, "POST", "/access/v1/evaluations", map[string]any{
		"subject": entity("User", "bob"), "action": map[string]any{"name": "read"},
		"evaluations": []any{
			map[string]any{"resource": entity("Repository", "new"), "context": map[string]any{"context_facts": []any{good}}},
			map[string]any{"resource": entity("Repository", "new"), "context": map[string]any{"context_facts": []any{cases[0].fact}}},
		}}).json(t, &got)
	if len(got.Evaluations) != 2 || got.Evaluations[0]["decision"] != true || got.Evaluations[1]["decision"] != false {
		t.Fatalf("evaluations = %v", got.Evaluations)
	}
	if msg, _ := got.Evaluations[1]["context"].(map[string]any)["error"].(map[string]any)["message"].(string); !strings.Contains(msg, "did you mean has_relation?") {
		t.Errorf("the bad item's error = %q", msg)
	}
}

// TestContextFactsOsoCompatible: what Oso Cloud accepts still works. A
// predicate only a rule body reads (not declared) is usable at the types
// the body allows, and a has_permission fact at any types (the built-in
// allow rule reads it).
func TestContextFactsOsoCompatible(t *testing.T) {
	e := newTestEnv(t, nil)
	e.uploadPolicy(t, testPolicy+`
has_permission(u: User, "rerun", a: Action) if has_relation(a, "repository", r) and has_permission(u, "push", r);
`)
	e.insert(t, fact("has_role", "User:carol", "maintainer", "Repository:anvil"))
	if !e.authorize(t, "User:carol", "rerun", "Action:1", fact("has_relation", "Action:1", "repository", "Repository:anvil")) {
		t.Error("a context fact of a predicate the policy only reads in a rule body was not used")
	}
	if !e.authorize(t, "User:zed", "read", "Repo:x", fact("has_permission", "User:zed", "read", "Repo:x")) {
		t.Error("a has_permission context fact of a type the policy does not know was refused or not used")
	}
	// Without a policy, any well-formed fact is accepted (as tell accepts it).
	e2 := newTestEnv(t, nil)
	e2.authorize(t, "User:a", "read", "Thing:x", fact("anything", "Thing:x"))
}

// TestExplanationNotes: a question naming a type or an action the policy
// does not know is denied, and its explanation says so with the nearest
// name.
func TestExplanationNotes(t *testing.T) {
	e := authzenEnv(t)
	var got struct {
		Allowed     bool `json:"allowed"`
		Explanation struct {
			Notes []string `json:"notes"`
		} `json:"explanation"`
	}
	e.must(t, http.StatusOK, "POST", "/api/authorize?explain=true", map[string]any{"actor_type": "User", "actor_id": "bob",
		"action": "raed", "resource_type": "Repositry", "resource_id": "anvil"}).json(t, &got)
	want := []string{"the policy knows no type Repositry: did you mean Repository?", `the policy grants no action "raed": did you mean "read"?`}
	if got.Allowed || strings.Join(got.Explanation.Notes, "\n") != strings.Join(want, "\n") {
		t.Errorf("allowed %v, notes %q, want denied with %q", got.Allowed, got.Explanation.Notes, want)
	}
	var az struct {
		Decision bool `json:"decision"`
		Context  struct {
			Explanation struct {
				Notes []string `json:"notes"`
			} `json:"explanation"`
		} `json:"context"`
	}
	e.must(t, http.StatusOK, "POST", "/access/v1/evaluation?explain=true", map[string]any{"subject": entity("Usr", "bob"),
		"action": map[string]any{"name": "read"}, "resource": entity("Repository", "anvil")}).json(t, &az)
	if az.Decision || len(az.Context.Explanation.Notes) != 1 || az.Context.Explanation.Notes[0] != "the policy knows no type Usr: did you mean User?" {
		t.Errorf("AuthZEN: decision %v, notes %q", az.Decision, az.Context.Explanation.Notes)
	}
	// A question the policy knows carries no notes.
	got.Explanation.Notes = nil
	e.must(t, http.StatusOK, "POST", "/api/authorize?explain=true", map[string]any{"actor_type": "User", "actor_id": "nobody",
		"action": "read", "resource_type": "Repository", "resource_id": "anvil"}).json(t, &got)
	if len(got.Explanation.Notes) != 0 {
		t.Errorf("notes %q for a question the policy knows", got.Explanation.Notes)
	}
}

// attrPolicy reads attributes by the convention of attributes.go.
const attrPolicy = `actor User {}
resource Document {}
declare has_attribute(User, String, String);
declare has_attribute(Document, String, String);
declare has_attribute(Document, String, Integer);
declare has_attribute(Document, String, Boolean);
declare has_attribute(String, String, String);
declare has_context(String, String);
declare has_context(String, Integer);

has_permission(u: User, "edit", d: Document) if
  has_attribute(u, "email", email) and has_attribute(d, "owner.email", email);
has_permission(_: User, "read", d: Document) if has_attribute(d, "public", true);
has_permission(u: User, "read", d: Document) if has_attribute(d, "tags", "shared") and has_attribute(u, "department", "sales");
has_permission(_: User, "audit", d: Document) if has_attribute(d, "level", level) and has_context("clearance", c) and c >= level;
has_permission(_: User, "fetch", _: Document) if has_attribute("fetch", "method", "GET") and has_context("network", "internal");
`

// TestAttributes: AuthZEN properties and context keys, and the Oso
// endpoints' attributes, become has_attribute/has_context facts.
func TestAttributes(t *testing.T) {
	e := newTestEnv(t, nil)
	e.uploadPolicy(t, attrPolicy)
	eval := func(subjectProps map[string]any, action string, resourceProps, ctx, actionProps map[string]any) bool {
		t.Helper()
		body := map[string]any{
			"subject":  map[string]any{"type": "User", "id": "u", "properties": subjectProps},
			"action":   map[string]any{"name": action, "properties": actionProps},
			"resource": map[string]any{"type": "Document", "id": "d", "properties": resourceProps},
			"context":  ctx,
		}
		var got struct {
			Decision bool `json:"decision"`
		}
		e.must(t, http.StatusOK, "POST", "/access/v1/evaluation", body).json(t, &got)
		return got.Decision
	}
	type m = map[string]any
	tests := []struct {
		name string
		got  bool
		want bool
	}{
		{"nested object: dotted name", eval(m{"email": "a@x"}, "edit", m{"owner": m{"email": "a@x"}}, nil, nil), true},
		{"nested object, other owner", eval(m{"email": "a@x"}, "edit", m{"owner": m{"email": "b@x"}}, nil, nil), false},
		{"boolean", eval(nil, "read", m{"public": true}, nil, nil), true},
		{"boolean false", eval(nil, "read", m{"public": false}, nil, nil), false},
		{"a string is not a boolean", eval(nil, "read", m{"public": "true"}, nil, nil), false},
		{"array: one fact per element", eval(m{"department": "sales"}, "read", m{"tags": []any{"draft", "shared"}}, nil, nil), true},
		{"integers compare", eval(nil, "audit", m{"level": 3}, m{"clearance": 5}, nil), true},
		{"integers compare, too low", eval(nil, "audit", m{"level": 7}, m{"clearance": 5}, nil), false},
		{"a fraction is no fact", eval(nil, "audit", m{"level": 3}, m{"clearance": 5.5}, nil), false},
		{"action properties and context", eval(nil, "fetch", nil, m{"network": "internal"}, m{"method": "GET"}), true},
		{"action properties, other method", eval(nil, "fetch", nil, m{"network": "internal"}, m{"method": "POST"}), false},
		{"unused properties are no error", eval(m{"ip": "10.0.0.1", "x": []any{1, nil, m{"y": true}}}, "read", m{"public": true, "size": 1.5}, m{"anything": m{"deep": 1}}, nil), true},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: decision %v, want %v", tc.name, tc.got, tc.want)
		}
	}

	// The same convention on the Oso endpoints.
	oso := map[string]any{"actor_type": "User", "actor_id": "u", "action": "edit", "resource_type": "Document", "resource_id": "d",
		"attributes": []any{
			m{"entity": entity("User", "u"), "properties": m{"email": "a@x"}},
			m{"entity": entity("Document", "d"), "properties": m{"owner": m{"email": "a@x"}}},
		}}
	var got map[string]any
	e.must(t, http.StatusOK, "POST", "/api/authorize", oso).json(t, &got)
	if got["allowed"] != true {
		t.Errorf("authorize with attributes: %v", got)
	}
	list := m{"actor_type": "User", "actor_id": "u", "action": "audit", "resource_type": "Document",
		"attributes": []any{m{"entity": entity("Document", "d1"), "properties": m{"level": 1}}, m{"entity": entity("Document", "d2"), "properties": m{"level": 9}},
			m{"properties": m{"clearance": 4}}}}
	e.must(t, http.StatusOK, "POST", "/api/list", list).json(t, &got)
	if r, _ := got["results"].([]any); len(r) != 1 || r[0] != "d1" {
		t.Errorf("list with attributes: %v", got)
	}

	// Malformed attributes are 400s naming where.
	bad := []struct {
		path string
		body any
		want string
	}{
		{"/api/authorize", m{"actor_type": "User", "actor_id": "u", "action": "edit", "resource_type": "Document", "resource_id": "d",
			"attributes": []any{m{"entity": entity("Document", "d"), "properties": []any{1}}}}, "attributes[0].properties must be an object"},
		{"/api/authorize", m{"actor_type": "User", "actor_id": "u", "action": "edit", "resource_type": "Document", "resource_id": "d",
			"attributes": []any{m{"entity": m{"type": "Document"}, "properties": m{}}}}, "attributes[0].entity: id is required"},
		{"/access/v1/evaluation", m{"subject": m{"type": "User", "id": "u", "properties": "x"}, "action": m{"name": "read"}, "resource": entity("Document", "d")},
			"subject.properties must be an object"},
		{"/access/v1/evaluation", m{"subject": entity("User", "u"), "action": m{"name": "read"}, "resource": m{"type": "Document", "id": "d", "properties": m{"v": strings.Repeat("x", 400)}}},
			"resource.properties.v: the value is 400 bytes"},
	}
	for _, b := range bad {
		env := e.must(t, http.StatusBadRequest, "POST", b.path, b.body).envelope(t)
		if !strings.Contains(env.Message, b.want) {
			t.Errorf("%s: message %q, want it to contain %q", b.path, env.Message, b.want)
		}
	}
}

// TestAttributesCountTowardTheLimit: attribute facts count toward
// --max-context-facts.
func TestAttributesCountTowardTheLimit(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Dev = true
	cfg.MaxContextFacts = 3
	e := newTestEnv(t, &cfg)
	e.uploadPolicy(t, attrPolicy)
	env := e.must(t, http.StatusBadRequest, "POST", "/access/v1/evaluation", map[string]any{"subject": entity("User", "u"), "action": map[string]any{"name": "read"},
		"resource": map[string]any{"type": "Document", "id": "d", "properties": map[string]any{"tags": []any{"a", "b", "c", "d"}}}}).envelope(t)
	if env.Code != codeLimitExceeded || !strings.Contains(env.Message, "4 facts exceed the limit of 3") {
		t.Errorf("got %+v", env)
	}
}

// TestAttributesTypeCheck: a policy reads attributes at the types it
// declares; reading one at a type no declaration allows is a policy error.
func TestAttributesTypeCheck(t *testing.T) {
	e := newTestEnv(t, nil)
	env := e.must(t, http.StatusUnprocessableEntity, "POST", "/api/policy", map[string]any{"filename": "policy.polar", "src": `actor User {}
resource Document {}
declare has_attribute(Document, String, Boolean);
has_permission(_: User, "read", d: Document) if has_attribute(d, "public", "yes");
`}).envelope(t)
	if env.Code != codeInvalidPolicy || !strings.Contains(env.Message, "has_attribute") {
		t.Errorf("got %+v, want an invalid_policy naming has_attribute", env)
	}
}
