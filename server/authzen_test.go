package server

import (
	"net/http"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// authzenEnv is a server with the test policy and a small organisation.
func authzenEnv(t *testing.T) *testEnv {
	t.Helper()
	e := newTestEnv(t, nil)
	e.uploadPolicy(t, testPolicy)
	e.insert(t,
		fact("has_role", "User:alice", "owner", "Organization:acme"),
		fact("has_role", "User:bob", "member", "Organization:acme"),
		fact("has_role", "User:carol", "maintainer", "Repository:solo"),
		fact("has_relation", "Repository:anvil", "parent", "Organization:acme"),
		fact("has_relation", "Repository:forge", "parent", "Organization:acme"),
		fact("has_relation", "Repository:gear", "parent", "Organization:acme"),
	)
	return e
}

func entity(typ, id string) map[string]any { return map[string]any{"type": typ, "id": id} }

func TestAuthzenEvaluation(t *testing.T) {
	e := authzenEnv(t)
	tests := []struct {
		name string
		body map[string]any
		want map[string]any
	}{
		{"allowed", map[string]any{"subject": entity("User", "bob"), "action": map[string]any{"name": "read"}, "resource": entity("Repository", "anvil")},
			map[string]any{"decision": true}},
		{"denied is 200 false", map[string]any{"subject": entity("User", "bob"), "action": map[string]any{"name": "push"}, "resource": entity("Repository", "anvil")},
			map[string]any{"decision": false}},
		{"properties and unknown context keys are ignored", map[string]any{
			"subject": map[string]any{"type": "User", "id": "bob", "properties": map[string]any{"ip_address": "10.0.0.1"}},
			"action":  map[string]any{"name": "read"}, "resource": entity("Repository", "anvil"),
			"context": map[string]any{"time": "now"}},
			map[string]any{"decision": true}},
		{"context facts grant", map[string]any{"subject": entity("User", "dan"), "action": map[string]any{"name": "read"}, "resource": entity("Repository", "anvil"),
			"context": map[string]any{"context_facts": []any{fact("has_role", "User:dan", "member", "Organization:acme")}}},
			map[string]any{"decision": true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got map[string]any
			e.must(t, http.StatusOK, "POST", "/access/v1/evaluation", tc.body, "X-Request-ID", "trace-123").json(t, &got)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	r := e.must(t, http.StatusOK, "POST", "/access/v1/evaluation", tests[0].body, "X-Request-ID", "trace-123")
	if got := r.header.Get("X-Request-ID"); got != "trace-123" {
		t.Errorf("X-Request-ID = %q, want it echoed", got)
	}
	e.must(t, http.StatusBadRequest, "POST", "/access/v1/evaluation", map[string]any{"subject": entity("User", "bob"), "resource": entity("Repository", "anvil")})
}

func TestAuthzenEvaluations(t *testing.T) {
	e := authzenEnv(t)
	items := []any{
		map[string]any{"resource": entity("Repository", "anvil")},                                        // allow
		map[string]any{"action": map[string]any{"name": "push"}},                                         // deny
		map[string]any{"resource": entity("Repository", "forge")},                                        // allow
		map[string]any{"subject": map[string]any{"type": "User"}, "resource": entity("Repository", "x")}, // error: no id
	}
	base := map[string]any{"subject": entity("User", "bob"), "action": map[string]any{"name": "read"}, "resource": entity("Repository", "gear"), "evaluations": items}
	errItem := map[string]any{"decision": false, "context": map[string]any{"error": map[string]any{"status": 400.0, "message": "subject: id is required"}}}
	tests := []struct {
		semantic string
		want     []any
	}{
		{"", []any{map[string]any{"decision": true}, map[string]any{"decision": false}, map[string]any{"decision": true}, errItem}},
		{"execute_all", []any{map[string]any{"decision": true}, map[string]any{"decision": false}, map[string]any{"decision": true}, errItem}},
		{"deny_on_first_deny", []any{map[string]any{"decision": true}, map[string]any{"decision": false}}},
		{"permit_on_first_permit", []any{map[string]any{"decision": true}}},
	}
	for _, tc := range tests {
		t.Run("semantic="+tc.semantic, func(t *testing.T) {
			body := map[string]any{}
			for k, v := range base {
				body[k] = v
			}
			if tc.semantic != "" {
				body["options"] = map[string]any{"evaluations_semantic": tc.semantic}
			}
			var got map[string]any
			e.must(t, http.StatusOK, "POST", "/access/v1/evaluations", body).json(t, &got)
			if diff := cmp.Diff(map[string]any{"evaluations": tc.want}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	// Without evaluations the request is one evaluation.
	var single map[string]any
	e.must(t, http.StatusOK, "POST", "/access/v1/evaluations", map[string]any{"subject": entity("User", "bob"), "action": map[string]any{"name": "read"}, "resource": entity("Repository", "gear")}).json(t, &single)
	if diff := cmp.Diff(map[string]any{"decision": true}, single); diff != "" {
		t.Errorf("single (-want +got):\n%s", diff)
	}
	e.must(t, http.StatusBadRequest, "POST", "/access/v1/evaluations", map[string]any{"options": map[string]any{"evaluations_semantic": "sometimes"}, "evaluations": items})
}

func TestAuthzenSearch(t *testing.T) {
	e := authzenEnv(t)
	t.Run("resource", func(t *testing.T) {
		body := map[string]any{"subject": entity("User", "bob"), "action": map[string]any{"name": "read"}, "resource": map[string]any{"type": "Repository"}, "page": map[string]any{"limit": 2}}
		var p1 struct {
			Page    azPageOut     `json:"page"`
			Results []azEntityOut `json:"results"`
		}
		e.must(t, http.StatusOK, "POST", "/access/v1/search/resource", body).json(t, &p1)
		if len(p1.Results) != 2 || p1.Page.NextToken == "" {
			t.Fatalf("first page %+v: want 2 results and a token", p1)
		}
		body["page"] = map[string]any{"limit": 2, "token": p1.Page.NextToken}
		var p2 struct {
			Page    azPageOut     `json:"page"`
			Results []azEntityOut `json:"results"`
		}
		e.must(t, http.StatusOK, "POST", "/access/v1/search/resource", body).json(t, &p2)
		all := append(p1.Results, p2.Results...)
		want := []azEntityOut{{"Repository", "anvil"}, {"Repository", "forge"}, {"Repository", "gear"}}
		if diff := cmp.Diff(want, all); diff != "" || p2.Page.NextToken != "" {
			t.Errorf("pages (-want +got):\n%s\nlast token %q", diff, p2.Page.NextToken)
		}
	})
	t.Run("subject", func(t *testing.T) {
		var got map[string]any
		e.must(t, http.StatusOK, "POST", "/access/v1/search/subject", map[string]any{"subject": map[string]any{"type": "User"}, "action": map[string]any{"name": "read"}, "resource": entity("Repository", "anvil")}).json(t, &got)
		want := map[string]any{"page": map[string]any{"next_token": ""}, "results": []any{entity("User", "alice"), entity("User", "bob")}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		var p1 map[string]any
		e.must(t, http.StatusOK, "POST", "/access/v1/search/subject", map[string]any{"subject": map[string]any{"type": "User"}, "action": map[string]any{"name": "read"}, "resource": entity("Repository", "anvil"), "page": map[string]any{"limit": 1}}).json(t, &p1)
		tok := p1["page"].(map[string]any)["next_token"].(string)
		var p2 map[string]any
		e.must(t, http.StatusOK, "POST", "/access/v1/search/subject", map[string]any{"subject": map[string]any{"type": "User"}, "action": map[string]any{"name": "read"}, "resource": entity("Repository", "anvil"), "page": map[string]any{"limit": 1, "token": tok}}).json(t, &p2)
		if diff := cmp.Diff([]any{entity("User", "bob")}, p2["results"]); diff != "" || tok == "" {
			t.Errorf("second page (-want +got):\n%s", diff)
		}
	})
	t.Run("action", func(t *testing.T) {
		var got map[string]any
		e.must(t, http.StatusOK, "POST", "/access/v1/search/action", map[string]any{"subject": entity("User", "carol"), "resource": entity("Repository", "solo")}).json(t, &got)
		want := map[string]any{"page": map[string]any{"next_token": ""}, "results": []any{map[string]any{"name": "push"}, map[string]any{"name": "read"}}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}

func TestAuthzenConfiguration(t *testing.T) {
	e := newTestEnv(t, nil)
	var got authzenConfig
	e.must(t, http.StatusOK, "GET", "/.well-known/authzen-configuration", nil, "Authorization", "").json(t, &got)
	base := e.ts.URL
	want := authzenConfig{
		PolicyDecisionPoint:       base,
		AccessEvaluationEndpoint:  base + "/access/v1/evaluation",
		AccessEvaluationsEndpoint: base + "/access/v1/evaluations",
		SearchSubjectEndpoint:     base + "/access/v1/search/subject",
		SearchResourceEndpoint:    base + "/access/v1/search/resource",
		SearchActionEndpoint:      base + "/access/v1/search/action",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestAuthzenEvaluationsGrouped checks that a batch whose items share
// subjects and actions (answered together, a group at a time) answers
// each item as the single evaluation of it does, in request order.
func TestAuthzenEvaluationsGrouped(t *testing.T) {
	e := authzenEnv(t)
	ctx := map[string]any{"context_facts": []any{fact("has_role", "User:dan", "member", "Organization:acme")}}
	var items []any
	for _, u := range []string{"alice", "bob", "carol", "dan"} {
		for _, a := range []string{"read", "push", "delete"} {
			for _, r := range []string{"anvil", "forge", "solo", "gear", "nowhere"} {
				items = append(items, map[string]any{"subject": entity("User", u), "action": map[string]any{"name": a}, "resource": entity("Repository", r)})
			}
		}
	}
	// Their own context, properties, an error and defaults in between.
	items = append(items[:7:7], append([]any{
		map[string]any{"subject": entity("User", "eve"), "resource": entity("Repository", "anvil"), "context": map[string]any{"context_facts": []any{fact("has_role", "User:eve", "owner", "Organization:acme")}}},
		map[string]any{"subject": map[string]any{"type": "User", "id": "bob", "properties": map[string]any{"ip": "10.0.0.1"}}, "resource": entity("Repository", "forge")},
		map[string]any{"subject": map[string]any{"type": "User"}},
		map[string]any{"resource": entity("Repository", "forge")},
		map[string]any{"resource": entity("Repository", "anvil")},
	}, items[7:]...)...)
	top := map[string]any{"subject": entity("User", "dan"), "action": map[string]any{"name": "read"}, "context": ctx}
	var got struct {
		Evaluations []map[string]any `json:"evaluations"`
	}
	body := map[string]any{"evaluations": items}
	for k, v := range top {
		body[k] = v
	}
	e.must(t, http.StatusOK, "POST", "/access/v1/evaluations", body).json(t, &got)
	if len(got.Evaluations) != len(items) {
		t.Fatalf("%d answers for %d evaluations", len(got.Evaluations), len(items))
	}
	for i, item := range items {
		one := map[string]any{}
		for k, v := range top {
			one[k] = v
		}
		for k, v := range item.(map[string]any) {
			one[k] = v
		}
		var want map[string]any
		r := e.do(t, "POST", "/access/v1/evaluation", one)
		if r.status == http.StatusOK {
			r.json(t, &want)
		} else {
			var msg struct{ Message string }
			r.json(t, &msg)
			want = map[string]any{"decision": false, "context": map[string]any{"error": map[string]any{"status": float64(r.status), "message": msg.Message}}}
		}
		if diff := cmp.Diff(want, got.Evaluations[i]); diff != "" {
			t.Errorf("evaluation %d %v (-single +batch):\n%s", i, item, diff)
		}
	}
	// The other semantics answer the same items up to the first deny
	// (permit), included, though the batch evaluates them all.
	for _, sem := range []string{"deny_on_first_deny", "permit_on_first_permit"} {
		stop := slices.IndexFunc(got.Evaluations, func(d map[string]any) bool { return d["decision"] == (sem == "permit_on_first_permit") })
		body["options"] = map[string]any{"evaluations_semantic": sem}
		var short struct {
			Evaluations []map[string]any `json:"evaluations"`
		}
		e.must(t, http.StatusOK, "POST", "/access/v1/evaluations", body).json(t, &short)
		if stop < 0 || len(short.Evaluations) != stop+1 {
			t.Fatalf("%s: %d answers, want %d", sem, len(short.Evaluations), stop+1)
		}
		if diff := cmp.Diff(got.Evaluations[:stop+1], short.Evaluations); diff != "" {
			t.Errorf("%s (-execute_all +%s):\n%s", sem, sem, diff)
		}
	}
}
