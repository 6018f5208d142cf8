package server

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestBadInput sends malformed and refused requests and checks the status,
// the message and that nothing changed: no fact stored, the live policy
// the same.
func TestBadInput(t *testing.T) {
	cfg := DefaultConfig()
	cfg.AdminKey = "admin-secret-0123456789"
	cfg.MaxBodyBytes = 64 << 10
	cfg.MaxContextFacts = 2
	cfg.MaxBatchFacts = 3
	cfg.MaxPageSize = 50
	e := newTestEnv(t, &cfg)
	e.key = cfg.AdminKey
	e.uploadPolicy(t, testPolicy)
	e.insert(t, fact("has_role", "User:alice", "owner", "Organization:acme"))

	var created struct {
		Key string `json:"key"`
	}
	e.must(t, http.StatusCreated, "POST", "/admin/v1/keys", map[string]any{"name": "reader", "scope": "read"}).json(t, &created)
	readKey := created.Key
	e.must(t, http.StatusCreated, "POST", "/admin/v1/keys", map[string]any{"name": "writer", "scope": "write"}).json(t, &created)
	writeKey := created.Key

	good := fact("has_role", "User:bob", "member", "Organization:acme")
	batch := func(facts ...any) []any { return []any{map[string]any{"inserts": facts}} }
	authz := func(extra map[string]any) map[string]any {
		m := map[string]any{"actor_type": "User", "actor_id": "alice", "action": "read", "resource_type": "Organization", "resource_id": "acme"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	huge := `[{"inserts": [` + strings.Repeat(`{"predicate": "has_role", "args": []},`, 3000) + `]}]`

	tests := []struct {
		name         string
		method, path string
		body         any
		key          string // "" = admin key; "-" = no key
		status       int
		code         string
		msg          string // substring of the message
	}{
		{name: "malformed JSON", method: "POST", path: "/api/batch", body: `[{"inserts": [}]`, status: 400, code: codeInvalidJSON, msg: "offset"},
		{name: "empty body", method: "POST", path: "/api/authorize", body: ``, status: 400, code: codeInvalidJSON, msg: "empty"},
		{name: "trailing data", method: "POST", path: "/api/batch", body: `[] []`, status: 400, code: codeInvalidJSON, msg: "after the JSON value"},
		{name: "wrong JSON type", method: "POST", path: "/api/authorize", body: `{"actor_type": 3}`, status: 400, code: codeInvalidJSON, msg: "actor_type must be a string"},
		{name: "unknown field", method: "POST", path: "/api/authorize", body: authz(map[string]any{"bogus": 1}), status: 400, code: codeInvalidJSON, msg: `unknown field "bogus"`},
		{name: "missing actor id", method: "POST", path: "/api/authorize", body: authz(map[string]any{"actor_id": nil}), status: 400, code: codeInvalidRequest, msg: "actor: id is required"},
		{name: "bad integer", method: "POST", path: "/api/batch", body: batch(fact("has_role", "Integer:x1", "owner", "Organization:acme")), status: 400, msg: "not a 64-bit integer"},
		{name: "unknown predicate", method: "POST", path: "/api/batch", body: batch(good, fact("does_not_exist", "User:bob")), status: 400, code: codeInvalidFact, msg: "does_not_exist"},
		{name: "wrong arity", method: "POST", path: "/api/batch", body: batch(fact("has_role", "User:bob", "owner")), status: 400, code: codeInvalidFact, msg: "has_role"},
		{name: "wrong type", method: "POST", path: "/api/batch", body: batch(fact("has_relation", "Repository:r", "parent", "User:bob")), status: 400, code: codeInvalidFact, msg: "has_relation"},
		{name: "fact without args", method: "POST", path: "/api/facts", body: map[string]any{"predicate": "has_role", "args": []any{}}, status: 400, msg: "at least one argument"},
		{name: "arg too long", method: "POST", path: "/api/batch", body: batch(fact("has_role", "User:"+strings.Repeat("x", 400), "owner", "Organization:acme")), status: 400, msg: "384"},
		{name: "batch limit", method: "POST", path: "/api/batch", body: batch(good, good, good, good), status: 400, code: codeLimitExceeded, msg: "4 facts exceed the limit of 3 (--max-batch-facts)"},
		{name: "context facts limit", method: "POST", path: "/api/authorize", body: authz(map[string]any{"context_facts": []any{good, good, good}}), status: 400, code: codeLimitExceeded, msg: "context_facts: 3 facts exceed the limit of 2 (--max-context-facts)"},
		{name: "malformed context fact", method: "POST", path: "/api/authorize", body: authz(map[string]any{"context_facts": []any{map[string]any{"predicate": "has_role", "args": []any{map[string]any{"type": "User"}}}}}), status: 400, msg: "context_facts[0]"},
		{name: "page size limit", method: "POST", path: "/api/list", body: map[string]any{"actor_type": "User", "actor_id": "alice", "action": "read", "resource_type": "Repository", "page_size": 51}, status: 400, code: codeLimitExceeded, msg: "--max-page-size"},
		{name: "bad page token", method: "POST", path: "/api/list", body: map[string]any{"actor_type": "User", "actor_id": "alice", "action": "read", "resource_type": "Repository", "page_size": 5, "page_token": "!!"}, status: 400, msg: "token"},
		{name: "huge body", method: "POST", path: "/api/batch", body: huge, status: 413, code: codeTooLarge, msg: "--max-body-bytes"},
		{name: "unknown endpoint", method: "GET", path: "/api/nope", status: 404, code: codeNotFound, msg: "no such endpoint"},
		{name: "wrong method", method: "GET", path: "/api/batch", status: 405, code: codeMethodNotAllowed},
		{name: "no key", method: "POST", path: "/api/authorize", body: authz(nil), key: "-", status: 401, code: codeUnauthenticated, msg: "missing API key"},
		{name: "wrong key", method: "POST", path: "/api/authorize", body: authz(nil), key: "cst_0123456789abcdef_nope", status: 401, code: codeUnauthenticated},
		{name: "dev token outside dev mode", method: "POST", path: "/api/authorize", body: authz(nil), key: DevToken, status: 401},
		{name: "read key writes", method: "POST", path: "/api/batch", body: batch(good), key: readKey, status: 403, code: codeForbidden, msg: `needs scope "write"`},
		{name: "write key uploads policy", method: "POST", path: "/api/policy", body: map[string]any{"src": "actor User {}"}, key: writeKey, status: 403, code: codeForbidden},
		{name: "read key creates key", method: "POST", path: "/admin/v1/keys", body: map[string]any{"name": "x", "scope": "admin"}, key: readKey, status: 403},
		{name: "bad scope", method: "POST", path: "/admin/v1/keys", body: map[string]any{"name": "x", "scope": "root"}, status: 400, msg: "not a scope"},
		{name: "invalid policy", method: "POST", path: "/api/policy", body: map[string]any{"filename": "bad.polar", "src": "actor User {}\nresource Repo { permissions = [\"read\"]; \"read\" if \"nope\"; }\n"}, status: 422, code: codeInvalidPolicy, msg: "bad.polar:2:"},
		{name: "invalid policy message carries the hint", method: "POST", path: "/api/policy", body: map[string]any{"filename": "hint.polar", "src": "actor User {}\nresource Repo { roles = [\"member\"]; permissions = [\"read\"]; \"read\" if \"membr\"; }\n"}, status: 422, code: codeInvalidPolicy, msg: "(hint: did you mean `member`?"},
		{name: "query abstract type", method: "POST", path: "/api/evaluate_query", body: map[string]any{"predicate": []any{"allow", []any{"a", "b", "c"}}, "constraints": map[string]any{"a": map[string]any{"type": "User", "ids": []string{"bob"}}, "b": map[string]any{"type": "String", "ids": nil}, "c": map[string]any{"type": "Resource", "ids": nil}}}, status: 400, msg: "type Resource is abstract"},
		{name: "syntax error", method: "POST", path: "/api/policy", body: map[string]any{"filename": "syn.polar", "src": "actor User {\n"}, status: 422, code: codeInvalidPolicy, msg: "syn.polar:"},
		{name: "failing policy test", method: "POST", path: "/api/policy", body: map[string]any{"filename": "t.polar", "src": testPolicy + "\ntest \"wrong\" {\n  assert allow(User{\"bob\"}, \"read\", Organization{\"acme\"});\n}\n"}, status: 422, code: codeTestsFailed, msg: `test "wrong" failed`},
		{name: "policy without src", method: "POST", path: "/api/policy", body: map[string]any{"filename": "x.polar"}, status: 400, msg: "src is required"},
		{name: "query unconstrained variable", method: "POST", path: "/api/evaluate_query", body: map[string]any{"predicate": []any{"allow", []any{"a", "b", "c"}}, "constraints": map[string]any{}}, status: 400, msg: `variable "a" has no constraint`},
		{name: "query call shape", method: "POST", path: "/api/evaluate_query", body: map[string]any{"predicate": "allow"}, status: 400, msg: "a call must be"},
		{name: "bad OsoOffset", method: "POST", path: "/api/authorize", body: authz(nil), status: 400, msg: "OsoOffset"},
		{name: "unknown facts parameter", method: "GET", path: "/api/facts?pred=x", status: 400, msg: "unknown query parameter"},
		{name: "missing version", method: "GET", path: "/admin/v1/policies/99", status: 404, code: codeNotFound},
		{name: "delete missing key", method: "DELETE", path: "/admin/v1/keys/0123456789abcdef", status: 404},

		// Invalid UTF-8 (issue 11 item 4): encoding/json would turn it into
		// U+FFFD, so "\xffroot" and "\xc0root" would be one identity.
		{name: "invalid UTF-8 actor id (fast path)", method: "POST", path: "/api/authorize", body: `{"actor_type":"User","actor_id":"` + "\xffroot" + `","action":"read","resource_type":"Organization","resource_id":"acme"}`, status: 400, code: codeInvalidJSON, msg: "actor_id is not valid UTF-8"},
		{name: "invalid UTF-8 resource type", method: "POST", path: "/api/authorize", body: `{"actor_type":"User","actor_id":"alice","action":"read","resource_type":"Organ` + "\xe9" + `","resource_id":"acme","context_facts":[]}`, status: 400, code: codeInvalidJSON, msg: "resource_type is not valid UTF-8"},
		{name: "lone surrogate escape", method: "POST", path: "/api/authorize", body: `{"actor_type":"User","actor_id":"\ud800root","action":"read","resource_type":"Organization","resource_id":"acme"}`, status: 400, code: codeInvalidJSON, msg: "actor_id is not valid UTF-8"},
		{name: "invalid UTF-8 context fact id", method: "POST", path: "/api/authorize", body: `{"actor_type":"User","actor_id":"alice","action":"read","resource_type":"Organization","resource_id":"acme","context_facts":[{"predicate":"has_role","args":[{"type":"User","id":"` + "\xc0root" + `"}]}]}`, status: 400, code: codeInvalidJSON, msg: "context_facts[0].args[0].id is not valid UTF-8"},
		{name: "invalid UTF-8 fact id", method: "POST", path: "/api/batch", body: `[{"inserts":[{"predicate":"has_role","args":[{"type":"User","id":"` + "\xffroot" + `"},{"type":"String","id":"owner"},{"type":"Organization","id":"acme"}]}]}]`, status: 400, code: codeInvalidJSON, msg: "[0].inserts[0].args[0].id is not valid UTF-8"},
		{name: "invalid UTF-8 fact type", method: "POST", path: "/api/facts", body: `{"predicate":"has_role","args":[{"type":"Us` + "\xff" + `er","id":"bob"},{"type":"String","id":"owner"},{"type":"Organization","id":"acme"}]}`, status: 400, code: codeInvalidJSON, msg: "args[0].type is not valid UTF-8"},
		{name: "invalid UTF-8 predicate", method: "POST", path: "/api/bulk", body: `{"delete":[],"tell":[{"predicate":"has_` + "\xff" + `role","args":[{"type":"User","id":"bob"}]}]}`, status: 400, code: codeInvalidJSON, msg: "tell[0].predicate is not valid UTF-8"},
		{name: "invalid UTF-8 policy text", method: "POST", path: "/api/policy", body: `{"filename":"p.polar","src":"actor User {} # ` + "\xff" + `"}`, status: 400, code: codeInvalidJSON, msg: "src is not valid UTF-8"},
		{name: "invalid UTF-8 policy file", method: "POST", path: "/api/policy", body: `{"files":[{"filename":"p.polar","src":"actor ` + "\xfe" + ` {}"}]}`, status: 400, code: codeInvalidJSON, msg: "files[0].src is not valid UTF-8"},
		{name: "invalid UTF-8 query constraint", method: "POST", path: "/api/evaluate_query", body: `{"predicate":["allow",["a","b","c"]],"constraints":{"a":{"type":"User","ids":["` + "\xff" + `"]},"b":{"type":"String","ids":null},"c":{"type":"Organization","ids":null}}}`, status: 400, code: codeInvalidJSON, msg: "constraints.a.ids[0] is not valid UTF-8"},
		{name: "invalid UTF-8 AuthZEN subject", method: "POST", path: "/access/v1/evaluation", body: `{"subject":{"type":"User","id":"` + "\xffroot" + `"},"action":{"name":"read"},"resource":{"type":"Organization","id":"acme"}}`, status: 400, code: codeInvalidJSON, msg: "subject.id is not valid UTF-8"},
		{name: "invalid UTF-8 in a key", method: "POST", path: "/api/authorize", body: `{"actor_type":"User","actor_` + "\xff" + `":"alice"}`, status: 400, code: codeInvalidJSON, msg: "a key in the request body is not valid UTF-8"},
		{name: "invalid UTF-8 key name", method: "POST", path: "/admin/v1/keys", body: `{"name":"` + "\xff" + `","scope":"read"}`, status: 400, code: codeInvalidJSON, msg: "name is not valid UTF-8"},
		{name: "invalid UTF-8 facts parameter", method: "GET", path: "/api/facts?predicate=has_role&args.0.type=User&args.0.id=%FFroot", status: 400, msg: `query parameter "args.0.id" is not valid UTF-8`},
		{name: "invalid UTF-8 API key id", method: "POST", path: "/api/authorize", body: authz(nil), key: "cst_\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff_secret", status: 401, code: codeUnauthenticated, msg: "invalid API key"},

		// Duplicate keys (issue 11 item 5): encoding/json keeps the last, a
		// gateway may read the first.
		{name: "duplicate key (fast path)", method: "POST", path: "/api/authorize", body: `{"actor_type":"User","actor_id":"alice","actor_id":"root","action":"read","resource_type":"Organization","resource_id":"acme"}`, status: 400, code: codeInvalidJSON, msg: `duplicate key "actor_id" in the request body`},
		{name: "duplicate key in another case", method: "POST", path: "/api/authorize", body: `{"actor_type":"User","actor_id":"alice","ACTOR_ID":"root","action":"read","resource_type":"Organization","resource_id":"acme"}`, status: 400, code: codeInvalidJSON, msg: `duplicate key "ACTOR_ID" in the request body`},
		{name: "duplicate key spelled with an escape", method: "POST", path: "/api/authorize", body: `{"actor_type":"User","actor_id":"alice","actor\u005fid":"root","action":"read","resource_type":"Organization","resource_id":"acme"}`, status: 400, code: codeInvalidJSON, msg: `duplicate key "actor_id" in the request body`},
		{name: "duplicate key with context facts", method: "POST", path: "/api/authorize", body: `{"actor_type":"User","actor_id":"alice","action":"read","resource_type":"Organization","resource_id":"acme","context_facts":[],"context_facts":[]}`, status: 400, code: codeInvalidJSON, msg: `duplicate key "context_facts" in the request body`},
		{name: "duplicate nested key", method: "POST", path: "/api/batch", body: `[{"inserts":[{"predicate":"has_role","args":[{"type":"User","id":"bob","id":"root"},{"type":"String","id":"owner"},{"type":"Organization","id":"acme"}]}]}]`, status: 400, code: codeInvalidJSON, msg: `duplicate key "id" at [0].inserts[0].args[0]`},
		{name: "duplicate key in a fact", method: "POST", path: "/api/facts", body: `{"predicate":"has_role","predicate":"has_relation","args":[{"type":"User","id":"bob"},{"type":"String","id":"owner"},{"type":"Organization","id":"acme"}]}`, status: 400, code: codeInvalidJSON, msg: `duplicate key "predicate" in the request body`},
		{name: "duplicate policy src", method: "POST", path: "/api/policy", body: `{"src":"actor User {}","src":"actor Team {}"}`, status: 400, code: codeInvalidJSON, msg: `duplicate key "src" in the request body`},
		{name: "duplicate AuthZEN subject id", method: "POST", path: "/access/v1/evaluation", body: `{"subject":{"type":"User","id":"alice","id":"root"},"action":{"name":"read"},"resource":{"type":"Organization","id":"acme"}}`, status: 400, code: codeInvalidJSON, msg: `duplicate key "id" at subject`},
		{name: "duplicate AuthZEN context key", method: "POST", path: "/access/v1/evaluation", body: `{"subject":{"type":"User","id":"alice"},"action":{"name":"read"},"resource":{"type":"Organization","id":"acme"},"context":{"context_facts":[],"context_facts":[]}}`, status: 400, code: codeInvalidJSON, msg: `duplicate key "context_facts" at context`},
		{name: "duplicate query constraint", method: "POST", path: "/api/evaluate_query", body: `{"predicate":["allow",["a","b","c"]],"constraints":{"a":{"type":"User","ids":["alice"]},"a":{"type":"User","ids":["root"]},"b":{"type":"String","ids":null},"c":{"type":"Organization","ids":null}}}`, status: 400, code: codeInvalidJSON, msg: `duplicate key "a" at constraints`},
		{name: "duplicate key scope", method: "POST", path: "/admin/v1/keys", body: `{"name":"x","scope":"read","scope":"admin"}`, status: 400, code: codeInvalidJSON, msg: `duplicate key "scope" in the request body`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			factsBefore, versionBefore := e.numFacts(t), e.liveVersion()
			var headers []string
			switch tc.key {
			case "":
			case "-":
				headers = []string{"Authorization", ""}
			default:
				headers = []string{"Authorization", "Bearer " + tc.key}
			}
			if tc.name == "bad OsoOffset" {
				headers = append(headers, "OsoOffset", "yesterday")
			}
			r := e.do(t, tc.method, tc.path, tc.body, headers...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tc.status, r.body)
			}
			env := r.envelope(t)
			if tc.code != "" && env.Code != tc.code {
				t.Errorf("code %q, want %q (message %q)", env.Code, tc.code, env.Message)
			}
			if !strings.Contains(env.Message, tc.msg) {
				t.Errorf("message %q does not contain %q", env.Message, tc.msg)
			}
			if r.header.Get("X-Request-ID") == "" {
				t.Error("no X-Request-ID on an error response")
			}
			if n := e.numFacts(t); n != factsBefore {
				t.Errorf("facts: %d after the request, %d before", n, factsBefore)
			}
			if v := e.liveVersion(); v != versionBefore {
				t.Errorf("live policy: version %d after the request, %d before", v, versionBefore)
			}
		})
	}
}

// TestPolicyErrorDetails checks the details of a rejected policy.
func TestPolicyErrorDetails(t *testing.T) {
	e := newTestEnv(t, nil)
	r := e.must(t, http.StatusUnprocessableEntity, "POST", "/api/policy", map[string]any{"files": []any{
		map[string]any{"filename": "a.polar", "src": "actor User {}\n"},
		map[string]any{"filename": "b.polar", "src": "resource Repo {\n  roles = [\"reader\"];\n  permissions = [\"read\"];\n  \"read\" if \"raeder\";\n}\n"},
	}})
	var body struct {
		Message string              `json:"message"`
		Code    string              `json:"code"`
		Details []policyErrorDetail `json:"details"`
	}
	r.json(t, &body)
	if body.Code != codeInvalidPolicy || len(body.Details) == 0 {
		t.Fatalf("got %+v, want invalid_policy with details", body)
	}
	d := body.Details[0]
	if d.File != "b.polar" || d.Line != 4 || d.Column == 0 || d.Message == "" || d.Hint == "" {
		t.Errorf("detail %+v: want b.polar line 4 with a column, a message and a hint", d)
	}
	if e.liveVersion() != 0 {
		t.Error("a rejected policy went live")
	}

	r = e.must(t, http.StatusUnprocessableEntity, "POST", "/api/policy", map[string]any{"src": testPolicy + "\ntest \"wrong\" {\n  assert allow(User{\"bob\"}, \"read\", Organization{\"acme\"});\n}\n"})
	var tf struct {
		Code    string              `json:"code"`
		Details []testFailureDetail `json:"details"`
	}
	r.json(t, &tf)
	if tf.Code != codeTestsFailed || len(tf.Details) != 1 || tf.Details[0].Test != "wrong" || tf.Details[0].Line == 0 {
		t.Errorf("tests_failed answer %+v: want one detail for test \"wrong\" with a position", tf)
	}
}

// TestChunkedBodyLimit: a body of unknown length (chunked, no
// Content-Length) is cut at MaxBodyBytes too, with the 413 envelope, and
// nothing of it is stored.
func TestChunkedBodyLimit(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxBodyBytes = 4 << 10
	cfg.Dev = true
	e := newTestEnv(t, &cfg)
	e.uploadPolicy(t, testPolicy)
	one := `{"predicate":"has_role","args":[{"type":"User","id":"bob"},{"type":"String","id":"member"},{"type":"Organization","id":"acme"}]},`
	body := `[{"inserts":[` + strings.Repeat(one, 100) + one[:len(one)-1] + `]}]`
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte(body)) // unknown length: sent chunked
		pw.Close()
	}()
	req, err := http.NewRequestWithContext(t.Context(), "POST", e.ts.URL+"/api/batch", pr)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(got), "--max-body-bytes") {
		t.Errorf("chunked body past the limit: %d %s", resp.StatusCode, got)
	}
	if n := e.numFacts(t); n != 0 {
		t.Errorf("%d facts stored, want 0", n)
	}
}
