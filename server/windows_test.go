package server

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/castellan-authz/castellan/store/memory"
)

// clock is an injectable clock for tests: it reads what was set.
type clock struct{ ns atomic.Int64 }

func (c *clock) set(t time.Time)  { c.ns.Store(t.UnixNano()) }
func (c *clock) now() time.Time   { return time.Unix(0, c.ns.Load()).UTC() }
func newClock(t time.Time) *clock { c := &clock{}; c.set(t); return c }
func windowedFact(f map[string]any, from, until string) map[string]any {
	if from != "" {
		f["valid_from"] = from
	}
	if until != "" {
		f["valid_until"] = until
	}
	return f
}

// windowsEnv is a server whose clock the test sets, with "grant read
// until Friday": alice reads anvil until Friday 17:00, bob maintains it
// from then on, and carol has no window.
func windowsEnv(t *testing.T) (*testEnv, *clock) {
	t.Helper()
	thursday := time.Date(2027, 1, 7, 12, 0, 0, 0, time.UTC)
	clk := newClock(thursday)
	cfg := DefaultConfig()
	cfg.Dev = true
	st := memory.New()
	srv, err := New(t.Context(), cfg, st, WithClock(clk.now))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(validateResponses(t, srv))
	t.Cleanup(ts.Close)
	e := &testEnv{srv: srv, ts: ts, store: st}
	e.uploadPolicy(t, testPolicy)
	e.insert(t,
		windowedFact(fact("has_role", "User:alice", "reader", "Repository:anvil"), "", "2027-01-08T17:00:00Z"),
		windowedFact(fact("has_role", "User:bob", "maintainer", "Repository:anvil"), "2027-01-08T17:00:00Z", ""),
		fact("has_role", "User:carol", "reader", "Repository:anvil"))
	return e, clk
}

func TestFactWindows(t *testing.T) {
	e, clk := windowsEnv(t)
	friday := time.Date(2027, 1, 8, 17, 0, 0, 0, time.UTC)
	list := func(t *testing.T, actor, action string) []any {
		var out map[string]any
		e.must(t, http.StatusOK, "POST", "/api/list", map[string]any{"actor_type": "User", "actor_id": actor, "action": action, "resource_type": "Repository"}).json(t, &out)
		return out["results"].([]any)
	}
	actions := func(t *testing.T, actor string) []any {
		var out map[string]any
		e.must(t, http.StatusOK, "POST", "/api/actions", map[string]any{"actor_type": "User", "actor_id": actor, "resource_type": "Repository", "resource_id": "anvil"}).json(t, &out)
		return out["results"].([]any)
	}
	query := func(t *testing.T) int {
		var out map[string]any
		e.must(t, http.StatusOK, "POST", "/api/query", map[string]any{"fact": map[string]any{"predicate": "has_role",
			"args": []any{map[string]any{"type": "User"}, map[string]any{"type": "String"}, entity("Repository", "anvil")}}}).json(t, &out)
		return len(out["results"].([]any))
	}
	evaluation := func(t *testing.T, actor, action string) bool {
		var out map[string]any
		e.must(t, http.StatusOK, "POST", "/access/v1/evaluation", map[string]any{"subject": entity("User", actor),
			"action": map[string]any{"name": action}, "resource": entity("Repository", "anvil")}).json(t, &out)
		return out["decision"].(bool)
	}
	evaluations := func(t *testing.T) []bool {
		var out struct {
			Evaluations []struct {
				Decision bool `json:"decision"`
			} `json:"evaluations"`
		}
		e.must(t, http.StatusOK, "POST", "/access/v1/evaluations", map[string]any{"resource": entity("Repository", "anvil"), "action": map[string]any{"name": "read"},
			"evaluations": []any{map[string]any{"subject": entity("User", "alice")}, map[string]any{"subject": entity("User", "bob")}}}).json(t, &out)
		var got []bool
		for _, ev := range out.Evaluations {
			got = append(got, ev.Decision)
		}
		return got
	}
	localSQL := func(t *testing.T, actor string) string {
		body := authorizeBody("User:"+actor, "read", "Repository:anvil")
		body["data_bindings"] = "facts:\n  has_relation(Repository:_, parent, Organization:_):\n    query: SELECT id, org_id FROM repositories\n"
		return e.sql(t, "/api/authorize_query", body)
	}

	t.Run("until Friday alice reads, bob does not push yet", func(t *testing.T) {
		if !e.authorize(t, "User:alice", "read", "Repository:anvil") || e.authorize(t, "User:bob", "push", "Repository:anvil") {
			t.Error("authorize: want alice read, not bob push")
		}
		if got := list(t, "alice", "read"); len(got) != 1 {
			t.Errorf("list alice read = %v, want [anvil]", got)
		}
		if got := actions(t, "bob"); len(got) != 0 {
			t.Errorf("actions bob = %v, want none yet", got)
		}
		if got := query(t); got != 2 {
			t.Errorf("query has_role(_, _, anvil) = %d results, want 2 (alice, carol)", got)
		}
		if !evaluation(t, "alice", "read") || evaluation(t, "bob", "push") {
			t.Error("AuthZEN evaluation: want alice read, not bob push")
		}
		if diff := cmp.Diff([]bool{true, false}, evaluations(t)); diff != "" {
			t.Errorf("AuthZEN evaluations (-want +got):\n%s", diff)
		}
		if got := localSQL(t, "alice"); got != "SELECT true AS allowed" {
			t.Errorf("local authorize SQL for alice = %q", got)
		}
		var facts []map[string]any
		e.must(t, http.StatusOK, "GET", "/api/facts?predicate=has_role", nil).json(t, &facts)
		want := []map[string]any{
			{"predicate": "has_role", "args": []any{entity("User", "alice"), entity("String", "reader"), entity("Repository", "anvil")}, "valid_until": "2027-01-08T17:00:00Z"},
			{"predicate": "has_role", "args": []any{entity("User", "carol"), entity("String", "reader"), entity("Repository", "anvil")}},
		}
		if diff := cmp.Diff(want, facts); diff != "" {
			t.Errorf("GET /api/facts: the facts that hold now, with their windows (-want +got):\n%s", diff)
		}
	})

	clk.set(friday) // the window's end is excluded

	t.Run("from Friday 17:00 alice does not read, bob pushes", func(t *testing.T) {
		if e.authorize(t, "User:alice", "read", "Repository:anvil") || !e.authorize(t, "User:bob", "push", "Repository:anvil") {
			t.Error("authorize: want bob push, not alice read")
		}
		if got := list(t, "alice", "read"); len(got) != 0 {
			t.Errorf("list alice read = %v, want none", got)
		}
		if got := actions(t, "bob"); len(got) != 2 {
			t.Errorf("actions bob = %v, want push and read", got)
		}
		if got := query(t); got != 3 {
			t.Errorf("query has_role(_, _, anvil) = %d results, want 3 (bob maintainer and so reader, carol)", got)
		}
		if evaluation(t, "alice", "read") || !evaluation(t, "bob", "push") {
			t.Error("AuthZEN evaluation: want bob push, not alice read")
		}
		if diff := cmp.Diff([]bool{false, true}, evaluations(t)); diff != "" {
			t.Errorf("AuthZEN evaluations (-want +got):\n%s", diff)
		}
		if got := localSQL(t, "alice"); got != "SELECT false AS allowed" {
			t.Errorf("local authorize SQL for alice = %q", got)
		}
		if !e.authorize(t, "User:carol", "read", "Repository:anvil") {
			t.Error("carol, without a window, lost read")
		}
	})

	t.Run("an earlier revision does not bring the fact back", func(t *testing.T) {
		body := map[string]any{"actor_type": "User", "actor_id": "alice", "action": "read", "resource_type": "Repository", "resource_id": "anvil"}
		var out map[string]bool
		e.must(t, http.StatusOK, "POST", "/api/authorize", body, "OsoOffset", "1").json(t, &out)
		if out["allowed"] {
			t.Error("at revision 1 alice reads after her window ended")
		}
	})

	t.Run("the export keeps every stored fact with its window", func(t *testing.T) {
		r := e.must(t, http.StatusOK, "GET", "/admin/v1/facts/export?predicate=has_role", nil)
		body := string(r.body)
		for _, want := range []string{`"valid_until":"2027-01-08T17:00:00Z"`, `"valid_from":"2027-01-08T17:00:00Z"`, `"carol"`} {
			if !strings.Contains(body, want) {
				t.Errorf("export lacks %s:\n%s", want, body)
			}
		}
	})

	t.Run("expiry removes the ended fact", func(t *testing.T) {
		before := e.numFacts(t)
		n, err := e.srv.ExpireFacts(t.Context())
		if err != nil || n != 1 {
			t.Fatalf("ExpireFacts = %d, %v; want 1", n, err)
		}
		if after := e.numFacts(t); after != before-1 {
			t.Errorf("stored facts %d -> %d, want one fewer", before, after)
		}
	})

	t.Run("an imported line keeps its window", func(t *testing.T) {
		line := `{"predicate":"has_role","args":[{"type":"User","id":"dan"},{"type":"String","id":"reader"},{"type":"Repository","id":"anvil"}],"valid_until":"2027-01-09T00:00:00Z"}` + "\n"
		r := e.must(t, http.StatusOK, "POST", routeImport, line)
		if !strings.Contains(string(r.body), `"done":true`) {
			t.Fatalf("import: %s", r.body)
		}
		if !e.authorize(t, "User:dan", "read", "Repository:anvil") {
			t.Error("dan does not read before his imported window ends")
		}
		clk.set(time.Date(2027, 1, 9, 0, 0, 0, 0, time.UTC))
		if e.authorize(t, "User:dan", "read", "Repository:anvil") {
			t.Error("dan reads after his imported window ended")
		}
		clk.set(friday)
	})

	t.Run("telling the fact again with a later end extends it", func(t *testing.T) {
		e.insert(t, windowedFact(fact("has_role", "User:alice", "reader", "Repository:anvil"), "", "2027-01-15T17:00:00Z"))
		if !e.authorize(t, "User:alice", "read", "Repository:anvil") {
			t.Error("alice does not read after her grant was extended")
		}
	})
}

func TestFactWindowsBadInput(t *testing.T) {
	e, _ := windowsEnv(t)
	alice := func() map[string]any { return fact("has_role", "User:alice", "reader", "Repository:anvil") }
	tests := []struct {
		name, method, path string
		body               any
		want               string
	}{
		{"not RFC 3339", "POST", "/api/facts", windowedFact(alice(), "", "next friday"), `fact: valid_until "next friday" is not an RFC 3339 timestamp`},
		{"empty window", "POST", "/api/bulk_load", []any{windowedFact(alice(), "2027-01-08T00:00:00Z", "2027-01-08T00:00:00Z")}, `facts[0]: valid_until 2027-01-08T00:00:00Z is not after valid_from`},
		{"beyond 2262", "POST", "/api/batch", []any{map[string]any{"inserts": []any{windowedFact(alice(), "", "2999-01-01T00:00:00Z")}}}, `valid_until 2999-01-01T00:00:00Z is outside`},
		{"on a delete pattern", "DELETE", "/api/facts", windowedFact(alice(), "", "2027-01-08T00:00:00Z"), `a fact pattern has no validity window`},
		{"on a context fact", "POST", "/api/authorize", map[string]any{"actor_type": "User", "actor_id": "dan", "action": "read", "resource_type": "Repository", "resource_id": "anvil",
			"context_facts": []any{windowedFact(fact("has_role", "User:dan", "reader", "Repository:anvil"), "", "2027-01-08T00:00:00Z")}}, `context_facts[0]: a context fact has no validity window`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.numFacts(t)
			r := e.must(t, http.StatusBadRequest, tc.method, tc.path, tc.body)
			if msg := r.envelope(t).Message; !strings.Contains(msg, tc.want) {
				t.Errorf("message %q, want it to contain %q", msg, tc.want)
			}
			if after := e.numFacts(t); after != before {
				t.Errorf("a rejected write changed the facts: %d -> %d", before, after)
			}
		})
	}
}

// TestCurrentUnixTimeIsTheRequestInstant checks that @current_unix_time
// reads the instant the request's facts are read at: the server's clock.
func TestCurrentUnixTimeIsTheRequestInstant(t *testing.T) {
	e, clk := windowsEnv(t)
	e.uploadPolicy(t, `actor User {}
resource Doc { permissions = ["read"]; }
has_permission(_: User, "read", d: Doc) if open_until(d, t) and @current_unix_time < t;
`)
	until := clk.now().Add(time.Minute).Unix()
	e.insert(t, fact("open_until", "Doc:a", "Integer:"+strconv.FormatInt(until, 10)))
	if !e.authorize(t, "User:x", "read", "Doc:a") {
		t.Error("denied a minute before the document closes")
	}
	clk.set(time.Unix(until, 0))
	if e.authorize(t, "User:x", "read", "Doc:a") {
		t.Error("allowed when the document closed (the evaluator did not read the server's clock)")
	}
}
