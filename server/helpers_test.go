package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/memory"
)

// testPolicy is a small GitHub-like policy with one test block.
const testPolicy = `actor User {}

resource Organization {
  roles = ["member", "owner"];
  permissions = ["read", "admin"];
  "read" if "member";
  "admin" if "owner";
  "member" if "owner";
}

resource Repository {
  roles = ["reader", "maintainer"];
  permissions = ["read", "push"];
  relations = { parent: Organization };
  "read" if "reader";
  "push" if "maintainer";
  "reader" if "maintainer";
  "reader" if "member" on "parent";
}

test "owners read their organization" {
  setup {
    has_role(User{"alice"}, "owner", Organization{"acme"});
  }
  assert allow(User{"alice"}, "read", Organization{"acme"});
  assert_not allow(User{"bob"}, "read", Organization{"acme"});
}
`

// testEnv is a server on a fresh memory store behind an httptest server.
type testEnv struct {
	srv   *Server
	ts    *httptest.Server
	store store.Backend
	key   string // sent as the bearer token when not empty
}

// newTestEnv starts a server with cfg (DefaultConfig with Dev when nil).
func newTestEnv(t testing.TB, cfg *Config) *testEnv {
	t.Helper()
	c := DefaultConfig()
	c.Dev = true
	if cfg != nil {
		c = *cfg
	}
	return newTestEnvOn(t, c, memory.New())
}

// testAdminKey is the --admin-key of newAdminEnv.
const testAdminKey = "bootstrap-admin-secret"

// newAdminEnv starts a server that needs keys (not dev mode), with
// DefaultConfig changed by tune (when not nil); the env authenticates with
// the admin key.
func newAdminEnv(t testing.TB, tune func(*Config)) *testEnv {
	t.Helper()
	cfg := DefaultConfig()
	cfg.AdminKey = testAdminKey
	if tune != nil {
		tune(&cfg)
	}
	e := newTestEnv(t, &cfg)
	e.key = cfg.AdminKey
	return e
}

// newTestEnvOn starts a server with cfg on st.
func newTestEnvOn(t testing.TB, cfg Config, st store.Backend) *testEnv {
	t.Helper()
	srv, err := New(t.Context(), cfg, st)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(validateResponses(t, srv)) // openapi_test.go
	t.Cleanup(ts.Close)
	return &testEnv{srv: srv, ts: ts, store: st}
}

// response is what a test request got back.
type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into v.
func (r response) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// envelope decodes an error body.
func (r response) envelope(t testing.TB) envelope {
	t.Helper()
	var e envelope
	r.json(t, &e)
	return e
}

// do sends a request; body is sent as is when a string, else as JSON.
// Extra headers come in name, value pairs.
func (e *testEnv) do(t testing.TB, method, path string, body any, headers ...string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, e.ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if e.key != "" {
		req.Header.Set("Authorization", "Bearer "+e.key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// must sends a request and fails the test unless it answers want.
func (e *testEnv) must(t testing.TB, want int, method, path string, body any, headers ...string) response {
	t.Helper()
	r := e.do(t, method, path, body, headers...)
	if r.status != want {
		t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.status, want, r.body)
	}
	return r
}

// uploadPolicy loads src as the live policy.
func (e *testEnv) uploadPolicy(t testing.TB, src string) {
	t.Helper()
	e.must(t, http.StatusOK, "POST", "/api/policy", map[string]any{"filename": "policy.polar", "src": src})
}

// fact builds a wire fact from "Type:id" arguments (bare words are Strings).
func fact(pred string, args ...string) map[string]any {
	out := make([]map[string]any, len(args))
	for i, a := range args {
		typ, id, ok := strings.Cut(a, ":")
		if !ok {
			typ, id = "String", a
		}
		out[i] = map[string]any{"type": typ, "id": id}
	}
	return map[string]any{"predicate": pred, "args": out}
}

// insert stores facts through /api/batch.
func (e *testEnv) insert(t testing.TB, facts ...map[string]any) response {
	t.Helper()
	return e.must(t, http.StatusOK, "POST", "/api/batch", []any{map[string]any{"inserts": facts}})
}

// numFacts returns the number of stored facts.
func (e *testEnv) numFacts(t testing.TB) int {
	t.Helper()
	var st struct {
		NumFacts int `json:"num_facts"`
	}
	e.must(t, http.StatusOK, "GET", "/api/stats", nil).json(t, &st)
	return st.NumFacts
}

// liveVersion returns the live policy version.
func (e *testEnv) liveVersion() int64 { return e.srv.Policies().Live().Version() }

// authorize asks /api/authorize and returns allowed.
func (e *testEnv) authorize(t testing.TB, actor, action, resource string, ctxFacts ...map[string]any) bool {
	t.Helper()
	at, aid, _ := strings.Cut(actor, ":")
	rt, rid, _ := strings.Cut(resource, ":")
	body := map[string]any{"actor_type": at, "actor_id": aid, "action": action, "resource_type": rt, "resource_id": rid}
	if ctxFacts != nil {
		body["context_facts"] = ctxFacts
	}
	var out map[string]any
	e.must(t, http.StatusOK, "POST", "/api/authorize", body).json(t, &out)
	allowed, ok := out["allowed"].(bool)
	if !ok || len(out) != 1 {
		t.Fatalf("authorize answered %v, want exactly {allowed}", out)
	}
	return allowed
}
