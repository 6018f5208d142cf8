package server

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

const localTestPolicy = `
actor User {}
resource Organization { roles = ["member"]; permissions = ["read"]; "read" if "member"; }
resource Repository {
  roles = ["reader"]; permissions = ["read"]; relations = { parent: Organization };
  "reader" if "member" on "parent"; "read" if "reader";
}
resource Issue {
  permissions = ["read", "close"]; relations = { repository: Repository, creator: User };
  "read" if "read" on "repository"; "close" if "creator"; "read" if is_public(resource);
}
has_permission(_u: User, "read", d: Document) if not is_public(d);
`

const localTestBindings = `facts:
  has_relation(Issue:_, String:repository, Repository:_):
    query: SELECT id, repository_id FROM issues
  has_relation(Issue:_, creator, User:_):
    query: SELECT id, creator_id FROM issues
  is_public(Issue:_):
    query: SELECT id FROM issues WHERE public
  is_public(Document:_):
    query: SELECT id FROM documents WHERE public
sql_types:
  Issue: integer
`

func localEnv(t *testing.T) *testEnv {
	e := newTestEnv(t, nil)
	e.uploadPolicy(t, localTestPolicy)
	e.insert(t, fact("has_role", "User:alice", "member", "Organization:acme"),
		fact("has_relation", "Repository:anvil", "parent", "Organization:acme"))
	return e
}

func (e *testEnv) sql(t *testing.T, path string, body map[string]any) string {
	t.Helper()
	if _, ok := body["data_bindings"]; !ok {
		body["data_bindings"] = localTestBindings
	}
	r := e.must(t, http.StatusOK, "POST", path, body)
	var out map[string]any
	r.json(t, &out)
	if len(out) != 1 {
		t.Fatalf("%s: response %s has keys other than sql", path, r.body)
	}
	s, ok := out["sql"].(string)
	if !ok {
		t.Fatalf("%s: response %s has no sql string", path, r.body)
	}
	if r.header.Get("X-Request-ID") == "" {
		t.Errorf("%s: no X-Request-ID", path)
	}
	return s
}

func authorizeBody(actor, action, resource string, ctx ...map[string]any) map[string]any {
	at, aid, _ := strings.Cut(actor, ":")
	rt, rid, _ := strings.Cut(resource, ":")
	q := map[string]any{"actor_type": at, "actor_id": aid, "action": action, "resource_type": rt, "resource_id": rid}
	if ctx != nil {
		q["context_facts"] = ctx
	}
	return map[string]any{"query": q}
}

func TestLocalEndpoints(t *testing.T) {
	e := localEnv(t)
	mustMatch := func(t *testing.T, got, re string) {
		t.Helper()
		if !regexp.MustCompile("(?s)" + re).MatchString(got) {
			t.Errorf("sql\n%s\ndoes not match %s", got, re)
		}
	}
	t.Run("authorize decided by stored facts", func(t *testing.T) {
		if got := e.sql(t, "/api/authorize_query", authorizeBody("User:alice", "read", "Repository:anvil")); got != "SELECT true AS allowed" {
			t.Errorf("got %q", got)
		}
		if got := e.sql(t, "/api/authorize_query", authorizeBody("User:bob", "read", "Repository:anvil")); got != "SELECT false AS allowed" {
			t.Errorf("got %q", got)
		}
	})
	t.Run("authorize over local data", func(t *testing.T) {
		got := e.sql(t, "/api/authorize_query", authorizeBody("User:alice", "read", "Issue:7"))
		mustMatch(t, got, `^WITH RECURSIVE c0\(arg0, arg2\) AS NOT MATERIALIZED \(\nSELECT id, repository_id FROM issues\n\).* SELECT EXISTS \(.*f\d+\.arg0 = 7.*f\d+\.arg2 = 'anvil'.*\) AS allowed$`)
	})
	t.Run("context facts are inlined", func(t *testing.T) {
		got := e.sql(t, "/api/authorize_query", authorizeBody("User:carol", "read", "Issue:7",
			fact("has_role", "User:carol", "member", "Organization:acme")))
		mustMatch(t, got, `'anvil'`)
	})
	t.Run("list", func(t *testing.T) {
		got := e.sql(t, "/api/list_query", map[string]any{"column": "issues.id",
			"query": map[string]any{"actor_type": "User", "actor_id": "alice", "action": "read", "resource_type": "Issue"}})
		mustMatch(t, got, `^issues\.id = ANY \(ARRAY\(WITH RECURSIVE .*SELECT f\d+\.arg0 FROM c\d+ AS f\d+ WHERE f\d+\.arg2 = 'anvil'.*\)\)$`)
		got = e.sql(t, "/api/list_query", map[string]any{"column": "issues.id",
			"query": map[string]any{"actor_type": "User", "actor_id": "alice", "action": "fly", "resource_type": "Issue"}})
		if got != "false" {
			t.Errorf("unknown action: %q, want false", got)
		}
	})
	t.Run("actions", func(t *testing.T) {
		got := e.sql(t, "/api/actions_query", map[string]any{
			"query": map[string]any{"actor_type": "User", "actor_id": "alice", "resource_type": "Issue", "resource_id": "7"}})
		mustMatch(t, got, `SELECT DISTINCT x\.actions::text AS actions FROM \(.*'close'.*'read'|'read'.*'close'`)
	})
	t.Run("evaluate select and filter", func(t *testing.T) {
		q := map[string]any{
			"predicate":   []any{"allow", []string{"u", "a", "i"}},
			"constraints": map[string]any{"u": map[string]any{"type": "User", "ids": []string{"alice"}}, "a": map[string]any{"type": "String", "ids": []string{"read"}}, "i": map[string]any{"type": "Issue", "ids": nil}},
		}
		got := e.sql(t, "/api/evaluate_query_local", map[string]any{"query": q, "mode": map[string]any{"mode": "select", "query_vars_to_output_column_names": map[string]string{"i": "issue id"}}})
		mustMatch(t, got, `SELECT DISTINCT \* FROM \(.*\) AS x\("issue id"\)$`)
		got = e.sql(t, "/api/evaluate_query_local", map[string]any{"query": q, "mode": map[string]any{"mode": "select", "query_vars_to_output_column_names": map[string]string{}}})
		mustMatch(t, got, `AS result$`)
		got = e.sql(t, "/api/evaluate_query_local", map[string]any{"query": q, "mode": map[string]any{"mode": "filter", "output_column_name": "issues.id", "query_var": "i"}})
		mustMatch(t, got, `^issues\.id = ANY \(ARRAY\(`)
	})
	t.Run("user-controlled ids are inert literals", func(t *testing.T) {
		for _, id := range []string{`1; drop table x`, `' or 1=1 --`, `\'`, `$$`, "é\u2028"} {
			got := e.sql(t, "/api/authorize_query", authorizeBody("User:"+id, "close", "Document:"+id,
				fact("has_role", "User:"+id, "member", "Organization:"+id)))
			if got != "SELECT false AS allowed" {
				t.Errorf("%q: %q", id, got)
			}
			got = e.sql(t, "/api/list_query", map[string]any{"column": "issues.id",
				"query": map[string]any{"actor_type": "User", "actor_id": id, "action": "close", "resource_type": "Issue"}})
			mustMatch(t, got, `f\d+\.arg2 = `+regexp.QuoteMeta(sqlQuoted(id))+`\)\)$`)
		}
	})
}

// sqlQuoted is how a text literal must appear in the SQL.
func sqlQuoted(s string) string {
	if strings.ContainsAny(s, `'\`) {
		return "E'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(s) + "'"
	}
	return "'" + s + "'"
}

func TestLocalErrors(t *testing.T) {
	e := localEnv(t)
	q := authorizeBody("User:alice", "read", "Issue:1")["query"]
	for _, tc := range []struct {
		name string
		path string
		body any
		want string
	}{
		{"blank bindings", "/api/authorize_query", map[string]any{"query": q, "data_bindings": ""}, `data_bindings: the data bindings are empty`},
		{"null bindings", "/api/authorize_query", map[string]any{"query": q, "data_bindings": nil}, `data_bindings is required`},
		{"malformed bindings", "/api/authorize_query", map[string]any{"query": q, "data_bindings": "facts: ["}, `not valid YAML`},
		{"unknown predicate", "/api/authorize_query", map[string]any{"query": q, "data_bindings": "facts:\n  is_secret(Issue:_):\n    query: SELECT 1\n"}, `binding "is_secret\(Issue:_\)": unknown predicate`},
		{"unknown type", "/api/authorize_query", map[string]any{"query": q, "data_bindings": "facts:\n  is_public(Ticket:_):\n    query: SELECT 1\n"}, `unknown type Ticket`},
		{"unsupported negation", "/api/authorize_query", map[string]any{"query": authorizeBody("User:alice", "read", "Document:d")["query"], "data_bindings": localTestBindings}, `policy.polar:12: rule has_permission\(_u: User, "read", d: Document\) if not is_public\(d\): a negation`},
		{"no column", "/api/list_query", map[string]any{"query": map[string]any{"actor_type": "User", "actor_id": "a", "action": "read", "resource_type": "Issue"}, "data_bindings": localTestBindings}, `column is required`},
		{"bad column", "/api/list_query", map[string]any{"column": "id); drop table x; --", "query": map[string]any{"actor_type": "User", "actor_id": "a", "action": "read", "resource_type": "Issue"}, "data_bindings": localTestBindings}, `not a column name`},
		{"no mode", "/api/evaluate_query_local", map[string]any{"query": map[string]any{"predicate": []any{"allow", []string{"u", "a", "i"}}}, "data_bindings": localTestBindings}, `constraint|mode is required`},
		{"bad mode", "/api/evaluate_query_local", map[string]any{"query": map[string]any{"predicate": []any{"is_public", []string{"i"}}, "constraints": map[string]any{"i": map[string]any{"type": "Issue"}}}, "mode": map[string]any{"mode": "count"}, "data_bindings": localTestBindings}, `mode.mode must be`},
		{"unknown field", "/api/authorize_query", map[string]any{"query": q, "data_bindings": localTestBindings, "dialect": "mysql"}, `unknown field "dialect"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.must(t, http.StatusBadRequest, "POST", tc.path, tc.body)
			if msg := r.envelope(t).Message; !regexp.MustCompile(tc.want).MatchString(msg) {
				t.Errorf("message %q does not match %q", msg, tc.want)
			}
		})
	}
}

func TestLocalAuthorizationNeedsAKey(t *testing.T) {
	cfg := DefaultConfig()
	cfg.AdminKey = "admin-secret-0123456789"
	e := newTestEnv(t, &cfg)
	e.must(t, http.StatusUnauthorized, "POST", "/api/authorize_query", `{}`)
}

// TestBindingsCache: the same file is parsed once per policy; a new
// policy checks it again (a binding valid before may not be now); the
// cache stays bounded.
func TestBindingsCache(t *testing.T) {
	e := localEnv(t)
	body := func() map[string]any { return authorizeBody("User:alice", "read", "Issue:1") }
	e.sql(t, "/api/authorize_query", body())
	e.sql(t, "/api/authorize_query", body())
	if n := len(e.srv.bindings.m); n != 1 {
		t.Errorf("%d cached bindings after two calls with one file, want 1", n)
	}
	// Without is_public in the policy, the same file no longer checks.
	e.uploadPolicy(t, strings.ReplaceAll(localTestPolicy, `"read" if is_public(resource);`, ""))
	r := e.must(t, http.StatusBadRequest, "POST", "/api/authorize_query", func() map[string]any {
		b := body()
		b["data_bindings"] = localTestBindings
		return b
	}())
	if msg := r.envelope(t).Message; !strings.Contains(msg, "is_public") {
		t.Errorf("after the policy change: %q, want the is_public binding refused", msg)
	}
	for i := range 2 * maxCachedBindings {
		b := body()
		b["data_bindings"] = "facts:\n  has_relation(Issue:_, creator, User:_):\n    query: SELECT id, creator_id FROM issues -- " + strings.Repeat("x", i) + "\n"
		e.sql(t, "/api/authorize_query", b)
	}
	if n := len(e.srv.bindings.m); n > maxCachedBindings {
		t.Errorf("%d cached bindings, the bound is %d", n, maxCachedBindings)
	}
}

// TestLocalParity: /api/expect after /api/authorize_query compares with
// Castellan's decision when stored and context facts decide alone, and
// says the decision was the database's otherwise.
func TestLocalParity(t *testing.T) {
	e := localEnv(t)
	ask := func(action string) string {
		b := authorizeBody("User:alice", action, "Issue:1")
		b["data_bindings"] = localTestBindings
		return e.must(t, http.StatusOK, "POST", "/api/authorize_query", b).header.Get("X-Request-ID")
	}
	expect := func(id string, expected bool) string {
		var out struct{ Message string }
		e.must(t, http.StatusOK, "POST", "/api/expect", map[string]any{"request_id": id, "expected": expected}).json(t, &out)
		return out.Message
	}
	denied := ask("fly") // no rule: SELECT false AS allowed
	for _, tc := range []struct {
		id       string
		expected bool
		want     string
	}{
		{denied, false, "matches the decision"},
		{denied, true, "does not match"},
		{ask("read"), true, "left to the application's database"},
		{"never-asked", true, "unknown request id"},
	} {
		if got := expect(tc.id, tc.expected); !strings.Contains(got, tc.want) {
			t.Errorf("expect(%s, %t) = %q, want %q", tc.id, tc.expected, got, tc.want)
		}
	}
}
