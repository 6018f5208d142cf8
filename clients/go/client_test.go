package castellan

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// recorded is one request as the fake server saw it.
type recorded struct {
	Method string
	Path   string
	Query  string
	Body   any // decoded JSON, nil when empty
	Header http.Header
}

// reply is what the fake server answers.
type reply struct {
	status int
	body   string
	header map[string]string
}

// fakeServer answers each request with the next reply and records it.
type fakeServer struct {
	t       testing.TB
	mu      sync.Mutex
	replies []reply
	got     []recorded
}

func newFake(tb testing.TB, replies ...reply) (*fakeServer, *httptest.Server) {
	tb.Helper()
	f := &fakeServer{t: tb, replies: replies}
	ts := httptest.NewServer(f)
	tb.Cleanup(ts.Close)
	return f, ts
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	rec := recorded{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone()}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &rec.Body); err != nil {
			f.t.Errorf("request body is not JSON: %v: %s", err, raw)
		}
	}
	f.mu.Lock()
	f.got = append(f.got, rec)
	rep := reply{status: 200, body: `{"message":"ok"}`}
	if len(f.replies) > 0 {
		if f.replies[0].status != 0 {
			rep = f.replies[0]
		}
		f.replies = f.replies[1:]
	}
	f.mu.Unlock()
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rep.status)
	io.WriteString(w, rep.body)
}

func (f *fakeServer) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.got...)
}

// mustJSON decodes s for comparison with a recorded body.
func mustJSON(tb testing.TB, s string) any {
	tb.Helper()
	if s == "" {
		return nil
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		tb.Fatalf("bad JSON in test: %v: %s", err, s)
	}
	return v
}

var (
	bob   = Entity("User", "bob")
	anvil = Entity("Repository", "anvil")
	run1  = Entity("Action", "1")
	tsRFC = time.Date(2026, 11, 23, 1, 2, 3, 0, time.UTC)
)

// TestWireFormat checks the request each call sends and how it reads the
// answer, against the Oso Cloud wire format and Castellan's additions.
func TestWireFormat(t *testing.T) {
	tests := []struct {
		name      string
		call      func(ctx context.Context, c *Client) (any, error)
		reply     reply
		method    string
		path      string
		query     string
		body      string
		want      any
		wantOsoOf string // the offset remembered after the call
	}{
		{
			name: "insert",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.Insert(ctx, NewFact("has_role", bob, String("owner"), anvil))
			},
			reply:  reply{status: 200, body: `{"message":"ok"}`, header: map[string]string{"OsoOffset": "7"}},
			method: "POST", path: "/api/batch",
			body:      `[{"inserts":[{"predicate":"has_role","args":[{"type":"User","id":"bob"},{"type":"String","id":"owner"},{"type":"Repository","id":"anvil"}]}]}]`,
			wantOsoOf: "7",
		},
		{
			name: "delete with wildcards",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.Delete(ctx, NewFact("has_role", AnyOf("User"), Any(), anvil))
			},
			reply:  reply{status: 200, body: `{"message":"ok"}`, header: map[string]string{"OsoOffset": "8"}},
			method: "POST", path: "/api/batch",
			body:      `[{"deletes":[{"predicate":"has_role","args":[{"type":"User","id":null},{"type":null,"id":null},{"type":"Repository","id":"anvil"}]}]}]`,
			wantOsoOf: "8",
		},
		{
			name: "batch groups consecutive changes in order",
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.Batch(ctx, func(tx *Tx) {
					tx.Delete(NewFact("has_role", bob, Any(), Any()))
					tx.Insert(NewFact("has_role", bob, String("owner"), anvil))
					tx.Insert(NewFact("is_public", anvil))
					tx.Delete(NewFact("is_public", Entity("Repository", "x")))
				})
			},
			method: "POST", path: "/api/batch",
			body: `[
				{"deletes":[{"predicate":"has_role","args":[{"type":"User","id":"bob"},{"type":null,"id":null},{"type":null,"id":null}]}]},
				{"inserts":[{"predicate":"has_role","args":[{"type":"User","id":"bob"},{"type":"String","id":"owner"},{"type":"Repository","id":"anvil"}]},
				            {"predicate":"is_public","args":[{"type":"Repository","id":"anvil"}]}]},
				{"deletes":[{"predicate":"is_public","args":[{"type":"Repository","id":"x"}]}]}]`,
		},
		{
			name: "get",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Get(ctx, NewFact("has_role", bob, Any(), AnyOf("Repository")))
			},
			reply:  reply{status: 200, body: `[{"predicate":"has_role","args":[{"type":"User","id":"bob"},{"type":"String","id":"owner"},{"type":"Repository","id":"anvil"}]}]`},
			method: "GET", path: "/api/facts",
			query: "args.0.id=bob&args.0.type=User&args.2.type=Repository&predicate=has_role",
			want:  []Fact{NewFact("has_role", bob, String("owner"), anvil)},
		},
		{
			name:   "get any predicate",
			call:   func(ctx context.Context, c *Client) (any, error) { return c.Get(ctx, NewFact("", Any(), bob)) },
			reply:  reply{status: 200, body: `[]`},
			method: "GET", path: "/api/facts",
			query: "args.1.id=bob&args.1.type=User",
			want:  []Fact{},
		},
		{
			name:   "clear",
			call:   func(ctx context.Context, c *Client) (any, error) { return nil, c.Clear(ctx) },
			reply:  reply{status: 200, body: `{"message":"cleared"}`, header: map[string]string{"OsoOffset": "9"}},
			method: "POST", path: "/api/clear_data", wantOsoOf: "9",
		},
		{
			name: "authorize with context facts",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Authorize(ctx, bob, "rerun", run1,
					WithContextFacts(NewFact("has_relation", run1, String("repository"), anvil)))
			},
			reply:  reply{status: 200, body: `{"allowed":true}`},
			method: "POST", path: "/api/authorize",
			body: `{"actor_type":"User","actor_id":"bob","action":"rerun","resource_type":"Action","resource_id":"1",
				"context_facts":[{"predicate":"has_relation","args":[{"type":"Action","id":"1"},{"type":"String","id":"repository"},{"type":"Repository","id":"anvil"}]}]}`,
			want: Decision{Allowed: true},
		},
		{
			name: "authorize explained",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Authorize(ctx, bob, "read", anvil, WithExplain())
			},
			reply:  reply{status: 200, body: `{"allowed":false,"explanation":{"goal":"allow(x)","holds":false,"tried":[{"goal":"allow(x)","holds":false,"rule":{"source":"allow(_) if f;"},"failed":"f"}]}}`},
			method: "POST", path: "/api/authorize", query: "explain=true",
			body: `{"actor_type":"User","actor_id":"bob","action":"read","resource_type":"Repository","resource_id":"anvil","context_facts":[]}`,
			want: Decision{Allowed: false, Explanation: &Explanation{Goal: "allow(x)", Tried: []*Explanation{
				{Goal: "allow(x)", Rule: &RuleUse{Source: "allow(_) if f;"}, Failed: "f"},
			}}},
		},
		{
			name:   "actions",
			call:   func(ctx context.Context, c *Client) (any, error) { return c.Actions(ctx, bob, anvil) },
			reply:  reply{status: 200, body: `{"results":["read","write"]}`},
			method: "POST", path: "/api/actions",
			body: `{"actor_type":"User","actor_id":"bob","resource_type":"Repository","resource_id":"anvil","context_facts":[]}`,
			want: []string{"read", "write"},
		},
		{
			name:   "list without pagination",
			call:   func(ctx context.Context, c *Client) (any, error) { return c.List(ctx, bob, "read", "Repository") },
			reply:  reply{status: 200, body: `{"results":["anvil","forge"]}`},
			method: "POST", path: "/api/list",
			body: `{"actor_type":"User","actor_id":"bob","action":"read","resource_type":"Repository","context_facts":[]}`,
			want: []string{"anvil", "forge"},
		},
		{
			name: "list page",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.ListPage(ctx, bob, "read", "Repository", 2, "tok1")
			},
			reply:  reply{status: 200, body: `{"results":["c","d"],"next_page_token":"tok2"}`},
			method: "POST", path: "/api/list",
			body: `{"actor_type":"User","actor_id":"bob","action":"read","resource_type":"Repository","context_facts":[],"page_size":2,"page_token":"tok1"}`,
			want: ListResult{Results: []string{"c", "d"}, NextPageToken: "tok2"},
		},
		{
			name: "evaluate query",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.EvaluateQuery(ctx, Query{
					Predicate: Call{Name: "has_role", Args: []string{"u", "r", "repo"}},
					Constraints: map[string]Constraint{
						"u":    {Type: "User", IDs: nil},
						"r":    {Type: "String", IDs: []string{"maintainer"}},
						"repo": {Type: "Repository", IDs: []string{"anvil"}},
					},
				})
			},
			reply:  reply{status: 200, body: `{"results":[{"u":"bob","r":"maintainer","repo":"anvil"},{"u":null,"r":"maintainer","repo":"anvil"}]}`},
			method: "POST", path: "/api/evaluate_query",
			body: `{"predicate":["has_role",["u","r","repo"]],"calls":[],
				"constraints":{"u":{"type":"User","ids":null},"r":{"type":"String","ids":["maintainer"]},"repo":{"type":"Repository","ids":["anvil"]}},
				"context_facts":[]}`,
			want: []map[string]*string{
				{"u": ptr("bob"), "r": ptr("maintainer"), "repo": ptr("anvil")},
				{"u": nil, "r": ptr("maintainer"), "repo": ptr("anvil")},
			},
		},
		{
			name: "query v1",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Query(ctx, NewFact("has_permission", Any(), String("rerun"), run1),
					WithContextFacts(NewFact("has_relation", run1, String("repository"), anvil)))
			},
			reply:  reply{status: 200, body: `{"results":[{"predicate":"has_permission","args":[{"type":"User","id":"bob"},{"type":"String","id":"rerun"},{"type":"Action","id":"1"}]}]}`},
			method: "POST", path: "/api/query",
			body: `{"fact":{"predicate":"has_permission","args":[{"type":null,"id":null},{"type":"String","id":"rerun"},{"type":"Action","id":"1"}]},
				"context_facts":[{"predicate":"has_relation","args":[{"type":"Action","id":"1"},{"type":"String","id":"repository"},{"type":"Repository","id":"anvil"}]}]}`,
			want: []Fact{NewFact("has_permission", bob, String("rerun"), run1)},
		},
		{
			name:   "ready",
			call:   func(ctx context.Context, c *Client) (any, error) { return nil, c.Ready(ctx) },
			reply:  reply{status: 200, body: `{"message":"ready"}`},
			method: "GET", path: "/readyz",
		},
		{
			name:   "stats",
			call:   func(ctx context.Context, c *Client) (any, error) { return c.Stats(ctx) },
			reply:  reply{status: 200, body: `{"num_roles":2,"num_relations":1,"num_facts":4}`},
			method: "GET", path: "/api/stats",
			want: Stats{NumRoles: 2, NumRelations: 1, NumFacts: 4},
		},
		{
			name:   "policy metadata",
			call:   func(ctx context.Context, c *Client) (any, error) { return c.PolicyMetadata(ctx) },
			reply:  reply{status: 200, body: `{"metadata":{"resources":{"Repository":{"roles":["maintainer"],"permissions":["read"],"relations":{"parent":"Org"}},"global":{"roles":[],"permissions":[],"relations":{}}}}}`},
			method: "GET", path: "/api/policy_metadata",
			want: PolicyMetadata{Resources: map[string]ResourceMetadata{
				"Repository": {Roles: []string{"maintainer"}, Permissions: []string{"read"}, Relations: map[string]string{"parent": "Org"}},
				"global":     {Roles: []string{}, Permissions: []string{}, Relations: map[string]string{}},
			}},
		},
		{
			name: "upload one file in the Oso format",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.UploadPolicy(ctx, PolicyFile{Filename: "a.polar", Src: "actor User {}"})
			},
			reply:  reply{status: 200, body: `{"message":"Policy loaded (version 1)"}`, header: map[string]string{"OsoOffset": "10"}},
			method: "POST", path: "/api/policy",
			body:      `{"filename":"a.polar","src":"actor User {}"}`,
			want:      UploadResult{Message: "Policy loaded (version 1)", Changed: true},
			wantOsoOf: "10",
		},
		{
			name: "upload several files, unchanged",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.UploadPolicy(ctx, PolicyFile{Filename: "a.polar", Src: "a"}, PolicyFile{Filename: "b.polar", Src: "b"})
			},
			reply:  reply{status: 202, body: `{"message":"Policy unchanged"}`},
			method: "POST", path: "/api/policy",
			body: `{"files":[{"filename":"a.polar","src":"a"},{"filename":"b.polar","src":"b"}]}`,
			want: UploadResult{Message: "Policy unchanged", Changed: false},
		},
		{
			name:   "get policy",
			call:   func(ctx context.Context, c *Client) (any, error) { return c.GetPolicy(ctx) },
			reply:  reply{status: 200, body: `{"policy":{"filename":"a.polar","src":"actor User {}"}}`},
			method: "GET", path: "/api/policy",
			want: &PolicyFile{Filename: "a.polar", Src: "actor User {}"},
		},
		{
			name:   "get policy when none",
			call:   func(ctx context.Context, c *Client) (any, error) { return c.GetPolicy(ctx) },
			reply:  reply{status: 200, body: `{"policy":null}`},
			method: "GET", path: "/api/policy",
			want: (*PolicyFile)(nil),
		},
		{
			name:   "policy history",
			call:   func(ctx context.Context, c *Client) (any, error) { return c.PolicyHistory(ctx) },
			reply:  reply{status: 200, body: `{"policies":[{"version":2,"created_at":"2026-11-23T01:02:03Z","created_by":"dev","live":true,"files":["a.polar"],"source":"git","commit":"abc","test_count":3,"status":"live"}]}`},
			method: "GET", path: "/admin/v1/policies", query: "limit=1000",
			want: []PolicyVersionInfo{{Version: 2, CreatedAt: tsRFC, CreatedBy: "dev", Live: true, Files: []string{"a.polar"}, Source: "git", Commit: "abc", TestCount: 3, Status: "live"}},
		},
		{
			name: "list policies",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.ListPolicies(ctx, PolicyQuery{Status: "previous", Since: tsRFC, Limit: 5, PageToken: "7"})
			},
			reply:  reply{status: 200, body: `{"policies":[],"next_page_token":"3"}`},
			method: "GET", path: "/admin/v1/policies", query: "limit=5&page_token=7&since=2026-11-23T01%3A02%3A03Z&status=previous",
			want: PolicyPage{Policies: []PolicyVersionInfo{}, NextPageToken: "3"},
		},
		{
			name:   "get policy version",
			call:   func(ctx context.Context, c *Client) (any, error) { return c.GetPolicyVersion(ctx, 1) },
			reply:  reply{status: 200, body: `{"version":1,"created_at":"2026-11-23T01:02:03Z","created_by":"k1","live":false,"files":[{"filename":"a.polar","src":"x"}]}`},
			method: "GET", path: "/admin/v1/policies/1",
			want: PolicyVersion{Version: 1, CreatedAt: tsRFC, CreatedBy: "k1", Files: []PolicyFile{{Filename: "a.polar", Src: "x"}}},
		},
		{
			name:   "activate policy",
			call:   func(ctx context.Context, c *Client) (any, error) { return c.ActivatePolicy(ctx, 1) },
			reply:  reply{status: 200, body: `{"version":1,"created_at":"2026-11-23T01:02:03Z","created_by":"k1","live":true,"files":[{"filename":"a.polar","src":"x"}]}`, header: map[string]string{"OsoOffset": "11"}},
			method: "POST", path: "/admin/v1/policies/1/activate",
			want:      PolicyVersion{Version: 1, CreatedAt: tsRFC, CreatedBy: "k1", Live: true, Files: []PolicyFile{{Filename: "a.polar", Src: "x"}}},
			wantOsoOf: "11",
		},
		{
			name:   "create key",
			call:   func(ctx context.Context, c *Client) (any, error) { return c.CreateKey(ctx, "svc-a", ScopeWrite) },
			reply:  reply{status: 201, body: `{"id":"k1","name":"svc-a","scope":"write","created_at":"2026-11-23T01:02:03Z","key":"secret"}`},
			method: "POST", path: "/admin/v1/keys",
			body: `{"name":"svc-a","scope":"write"}`,
			want: NewKey{APIKey: APIKey{ID: "k1", Name: "svc-a", Scope: "write", CreatedAt: tsRFC}, Secret: "secret"},
		},
		{
			name:   "list keys",
			call:   func(ctx context.Context, c *Client) (any, error) { return c.ListKeys(ctx) },
			reply:  reply{status: 200, body: `{"keys":[{"id":"k1","name":"svc-a","scope":"write","created_at":"2026-11-23T01:02:03Z"}]}`},
			method: "GET", path: "/admin/v1/keys",
			want: []APIKey{{ID: "k1", Name: "svc-a", Scope: "write", CreatedAt: tsRFC}},
		},
		{
			name:   "delete key",
			call:   func(ctx context.Context, c *Client) (any, error) { return nil, c.DeleteKey(ctx, "k/1") },
			reply:  reply{status: 200, body: `{"message":"deleted"}`},
			method: "DELETE", path: "/admin/v1/keys/k/1",
		},
		{
			name:   "health",
			call:   func(ctx context.Context, c *Client) (any, error) { return nil, c.Health(ctx) },
			reply:  reply{status: 200, body: `{"message":"ok"}`},
			method: "GET", path: "/api/healthcheck",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, ts := newFake(t, tc.reply)
			c := New(ts.URL+"/", "secret-key", WithUserAgent("test-agent"))
			got, err := tc.call(t.Context(), c)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if tc.want != nil {
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("result (-want +got):\n%s", diff)
				}
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("server saw %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			gotReq := recorded{Method: r.Method, Path: r.Path, Query: r.Query, Body: r.Body}
			wantReq := recorded{Method: tc.method, Path: tc.path, Query: tc.query, Body: mustJSON(t, tc.body)}
			if diff := cmp.Diff(wantReq, gotReq); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
			if got := r.Header.Get("Authorization"); got != "Bearer secret-key" {
				t.Errorf("Authorization = %q", got)
			}
			if got := r.Header.Get("User-Agent"); got != "test-agent" {
				t.Errorf("User-Agent = %q", got)
			}
			if got := r.Header.Get("X-Request-ID"); !uuidRE.MatchString(got) {
				t.Errorf("X-Request-ID = %q, want a UUID", got)
			}
			if tc.body != "" && r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type = %q", r.Header.Get("Content-Type"))
			}
			if got := c.Offset(); got != tc.wantOsoOf {
				t.Errorf("Offset() = %q, want %q", got, tc.wantOsoOf)
			}
		})
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func ptr(s string) *string { return &s }

// TestOffsetRoundTrip checks read-your-writes: the OsoOffset of a write is
// sent with every later request, and an older offset never replaces a newer.
func TestOffsetRoundTrip(t *testing.T) {
	f, ts := newFake(t,
		reply{status: 200, body: `{"allowed":false}`},
		reply{status: 200, body: `{"message":"ok"}`, header: map[string]string{"OsoOffset": "42"}},
		reply{status: 200, body: `{"allowed":true}`, header: map[string]string{"OsoOffset": "1"}},
		reply{status: 200, body: `{"message":"ok"}`, header: map[string]string{"OsoOffset": "41"}},
		reply{status: 200, body: `[]`},
	)
	ctx := t.Context()
	c := New(ts.URL, "")
	if _, err := c.Authorize(ctx, bob, "read", anvil); err != nil {
		t.Fatal(err)
	}
	if err := c.Insert(ctx, NewFact("is_public", anvil)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Authorize(ctx, bob, "read", anvil); err != nil { // a read's offset is not taken
		t.Fatal(err)
	}
	if err := c.Delete(ctx, NewFact("is_public", anvil)); err != nil { // an older write's is not either
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, NewFact("is_public")); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range f.requests() {
		got = append(got, r.Header.Get("OsoOffset"))
		if _, ok := r.Header["Authorization"]; ok {
			t.Errorf("%s %s: Authorization sent without an API key", r.Method, r.Path)
		}
	}
	if diff := cmp.Diff([]string{"", "", "42", "42", "42"}, got); diff != "" {
		t.Errorf("OsoOffset sent (-want +got):\n%s", diff)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name  string
		reply reply
		want  *Error
		text  string
	}{
		{
			name: "policy error envelope",
			reply: reply{status: 422, header: map[string]string{"X-Request-ID": "req-1"}, body: `{"message":"a.polar:3:5: unknown role \"mantainer\"","code":"invalid_policy",
				"details":[{"file":"a.polar","line":3,"column":5,"message":"unknown role \"mantainer\"","hint":"did you mean \"maintainer\"?"}]}`},
			want: &Error{StatusCode: 422, Message: `a.polar:3:5: unknown role "mantainer"`, Code: "invalid_policy", RequestID: "req-1",
				Details: []ErrorDetail{{File: "a.polar", Line: 3, Column: 5, Message: `unknown role "mantainer"`, Hint: `did you mean "maintainer"?`}}},
			text: `castellan: a.polar:3:5: unknown role "mantainer" (status 422, code invalid_policy, request id req-1)`,
		},
		{
			name:  "failed tests",
			reply: reply{status: 422, header: map[string]string{"X-Request-ID": "req-2"}, body: `{"message":"1 test failed","code":"tests_failed","details":[{"test":"owners","file":"a.polar","line":9,"column":3,"message":"assertion failed"}]}`},
			want: &Error{StatusCode: 422, Message: "1 test failed", Code: "tests_failed", RequestID: "req-2",
				Details: []ErrorDetail{{Test: "owners", File: "a.polar", Line: 9, Column: 3, Message: "assertion failed"}}},
		},
		{
			name:  "plain Oso message",
			reply: reply{status: 403, header: map[string]string{"X-Request-ID": "req-3"}, body: `{"message":"key lacks scope write"}`},
			want:  &Error{StatusCode: 403, Message: "key lacks scope write", RequestID: "req-3"},
			text:  "castellan: key lacks scope write (status 403, request id req-3)",
		},
		{
			name:  "not JSON",
			reply: reply{status: 502, header: map[string]string{"X-Request-ID": "req-4"}, body: "bad gateway\n"},
			want:  &Error{StatusCode: 502, Message: "bad gateway", RequestID: "req-4"},
		},
		{
			name:  "empty body",
			reply: reply{status: 500, header: map[string]string{"X-Request-ID": "req-5"}},
			want:  &Error{StatusCode: 500, Message: "Internal Server Error", RequestID: "req-5"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ts := newFake(t, tc.reply)
			err := New(ts.URL, "k").Insert(t.Context(), NewFact("is_public", anvil))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			if diff := cmp.Diff(tc.want, ce, cmp.AllowUnexported(Error{}), cmp.FilterPath(func(p cmp.Path) bool {
				return p.Last().String() == ".retryAfter"
			}, cmp.Ignore())); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if tc.text != "" && err.Error() != tc.text {
				t.Errorf("Error() = %q, want %q", err.Error(), tc.text)
			}
		})
	}
}

func TestRequestIDFallsBackToSent(t *testing.T) {
	f, ts := newFake(t, reply{status: 400, body: `{"message":"bad"}`})
	_, err := New(ts.URL, "").Stats(t.Context())
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("got %v", err)
	}
	if sent := f.requests()[0].Header.Get("X-Request-ID"); ce.RequestID != sent {
		t.Errorf("RequestID = %q, want the sent %q", ce.RequestID, sent)
	}
}

func TestConnectionErrorIsDistinct(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	addr := ts.URL
	ts.Close() // nothing listens there any more
	_, err := New(addr, "").Authorize(t.Context(), bob, "read", anvil)
	if err == nil {
		t.Fatal("no error from a closed server")
	}
	var ce *Error
	if errors.As(err, &ce) {
		t.Errorf("connection error %v is an *Error", err)
	}
	var ue *url.Error
	if !errors.As(err, &ue) {
		t.Errorf("connection error %v (%T) does not wrap a *url.Error", err, err)
	}
}

func TestListAllFollowsPages(t *testing.T) {
	f, ts := newFake(t,
		reply{status: 200, body: `{"results":["a","b"],"next_page_token":"t1"}`},
		reply{status: 409, body: `{"message":"page not ready"}`, header: map[string]string{"Retry-After": "0"}},
		reply{status: 200, body: `{"results":["c","d"],"next_page_token":"t2"}`},
		reply{status: 200, body: `{"results":["e"],"next_page_token":null}`},
	)
	got, err := New(ts.URL, "").ListAll(t.Context(), bob, "read", "Repository", 2,
		WithContextFacts(NewFact("is_public", anvil)))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "b", "c", "d", "e"}, got); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
	var tokens []any
	for _, r := range f.requests() {
		body := r.Body.(map[string]any)
		tokens = append(tokens, body["page_token"])
		if body["page_size"] != float64(2) {
			t.Errorf("page_size = %v", body["page_size"])
		}
		if cf := body["context_facts"].([]any); len(cf) != 1 {
			t.Errorf("context facts not sent on every page: %v", cf)
		}
	}
	if diff := cmp.Diff([]any{nil, "t1", "t1", "t2"}, tokens); diff != "" {
		t.Errorf("page tokens sent (-want +got):\n%s", diff)
	}
}

func TestListAllStopsOnRepeatedToken(t *testing.T) {
	_, ts := newFake(t,
		reply{status: 200, body: `{"results":["a"],"next_page_token":"t1"}`},
		reply{status: 200, body: `{"results":["b"],"next_page_token":"t1"}`},
	)
	_, err := New(ts.URL, "").ListAll(t.Context(), bob, "read", "Repository", 1)
	if err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("err = %v, want a repeated-token error", err)
	}
}

func TestClientSideValidation(t *testing.T) {
	f, ts := newFake(t)
	c := New(ts.URL, "")
	ctx := t.Context()
	tests := []struct {
		name string
		err  error
	}{
		{"insert wildcard", c.Insert(ctx, NewFact("has_role", AnyOf("User"), String("x"), anvil))},
		{"insert no args", c.Insert(ctx, NewFact("p"))},
		{"delete no predicate", c.Delete(ctx, NewFact("", bob))},
		{"wildcard context fact", func() error {
			_, err := c.Authorize(ctx, bob, "read", anvil, WithContextFacts(NewFact("p", Any())))
			return err
		}()},
		{"wildcard actor", func() error { _, err := c.Actions(ctx, AnyOf("User"), anvil); return err }()},
		{"no resource type", func() error { _, err := c.List(ctx, bob, "read", ""); return err }()},
		{"no files", func() error { _, err := c.UploadPolicy(ctx); return err }()},
		{"bad page size", func() error { _, err := c.ListPage(ctx, bob, "read", "Repository", 0, ""); return err }()},
	}
	for _, tc := range tests {
		if tc.err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests sent for invalid calls", n)
	}
	if err := c.Batch(ctx, func(*Tx) {}); err != nil || len(f.requests()) != 0 {
		t.Errorf("empty batch: err %v, %d requests", err, len(f.requests()))
	}
}

func TestValueString(t *testing.T) {
	tests := []struct {
		in   Fact
		want string
	}{
		{NewFact("has_role", bob, String("owner"), Entity("Organization", "acme")), `has_role(User{"bob"}, "owner", Organization{"acme"})`},
		{NewFact("limits", Integer(-3), Bool(true), String(`say "hi"`)), `limits(-3, true, "say \"hi\"")`},
		{NewFact("", Any(), AnyOf("User")), `_(_, User{_})`},
	}
	for _, tc := range tests {
		if got := tc.in.String(); got != tc.want {
			t.Errorf("String() = %s, want %s", got, tc.want)
		}
	}
}
