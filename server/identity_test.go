package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/castellan-authz/castellan/identity"
	"github.com/castellan-authz/castellan/identity/idptest"
	"github.com/castellan-authz/castellan/store/memory"
)

// identityPolicy lets a user read a review only through employee-service
// acting for them, and only when they are hr.
const identityPolicy = `actor User {}
actor Service {}
resource Review { permissions = ["read"]; }

allow(user: User, "read", _review: Review) if
  request_caller(Service{"employee-service"}) and
  request_on_behalf_of(user) and
  has_claim(user, "role", "hr");
`

// identityEnv is a server that trusts a caller issuer and a user issuer,
// both real JWKS servers, with the identity policy loaded.
type identityEnv struct {
	*testEnv
	callers, users *idptest.Issuer
}

func newIdentityEnv(t *testing.T) *identityEnv {
	t.Helper()
	callers, users := idptest.New(), idptest.New()
	t.Cleanup(callers.Close)
	t.Cleanup(users.Close)
	e := newAdminEnv(t, func(c *Config) {
		c.Identity = identity.Config{Issuers: []identity.Issuer{
			{Issuer: callers.URL, JWKSURL: callers.JWKSURL(), Audience: "castellan", Algorithms: []string{"ES256"}, Use: identity.UseCaller},
			{Issuer: users.URL, JWKSURL: users.JWKSURL(), Audience: "castellan", Algorithms: []string{"ES256"}, Use: identity.UseUser, Claims: []string{"role"}},
		}}
	})
	e.uploadPolicy(t, identityPolicy)
	return &identityEnv{testEnv: e, callers: callers, users: users}
}

func (e *identityEnv) service(name, scope string) string {
	return e.callers.Mint(idptest.Claims{"sub": name, "aud": "castellan", "scope": scope})
}

func (e *identityEnv) user(name, role string) string {
	return e.users.Mint(idptest.Claims{"sub": name, "aud": "castellan", "role": role})
}

var readReview = map[string]any{"actor_type": "User", "actor_id": "alice", "action": "read", "resource_type": "Review", "resource_id": "1"}

func TestCallerTokens(t *testing.T) {
	e := newIdentityEnv(t)
	hr := e.user("alice", "hr")
	tests := []struct {
		name    string
		headers []string
		body    any
		status  int
		want    string // in the body
	}{
		{"service for an hr user", []string{"Authorization", "Bearer " + e.service("employee-service", "castellan:read"), onBehalfOfHeader, hr}, readReview, 200, `{"allowed":true}`},
		{"service for an engineer", []string{"Authorization", "Bearer " + e.service("employee-service", "castellan:read"), onBehalfOfHeader, e.user("alice", "engineer")}, readReview, 200, `{"allowed":false}`},
		{"service for another user", []string{"Authorization", "Bearer " + e.service("employee-service", "castellan:read"), onBehalfOfHeader, e.user("bob", "hr")}, readReview, 200, `{"allowed":false}`},
		{"another service", []string{"Authorization", "Bearer " + e.service("ai-reporting-agent", "castellan:read"), onBehalfOfHeader, hr}, readReview, 200, `{"allowed":false}`},
		{"on behalf of nobody", []string{"Authorization", "Bearer " + e.service("employee-service", "castellan:read")}, readReview, 200, `{"allowed":false}`},
		{"an API key caller has no verified identity", []string{onBehalfOfHeader, hr}, readReview, 200, `{"allowed":false}`},
		{"forged request_caller context fact", []string{"Authorization", "Bearer " + e.service("ai-reporting-agent", "castellan:read")},
			withContext(readReview, fact("request_caller", "Service:employee-service")), 400, "request_caller facts are verified facts"},
		{"forged has_claim context fact", []string{"Authorization", "Bearer " + e.service("employee-service", "castellan:read"), onBehalfOfHeader, e.user("alice", "engineer")},
			withContext(readReview, fact("has_claim", "User:alice", "role", "hr")), 400, "has_claim facts are verified facts"},
		{"expired caller token", []string{"Authorization", "Bearer " + e.callers.Mint(idptest.Claims{"sub": "employee-service", "aud": "castellan", "scope": "castellan:read", "exp": time.Now().Add(-time.Hour)})},
			readReview, 401, "invalid caller token: the token has expired (exp)"},
		{"caller token not yet valid", []string{"Authorization", "Bearer " + e.callers.Mint(idptest.Claims{"sub": "employee-service", "aud": "castellan", "scope": "castellan:read", "nbf": time.Now().Add(time.Hour)})},
			readReview, 401, "(nbf)"},
		{"wrong audience", []string{"Authorization", "Bearer " + e.callers.Mint(idptest.Claims{"sub": "employee-service", "aud": "billing", "scope": "castellan:read"})}, readReview, 401, "audience (aud)"},
		{"alg none", []string{"Authorization", "Bearer " + e.callers.MintNone(idptest.Claims{"sub": "employee-service", "aud": "castellan", "scope": "castellan:admin"})}, readReview, 401, "algorithm none is not allowed"},
		{"HMAC with the public key", []string{"Authorization", "Bearer " + e.callers.MintHMACWithPublicKey(idptest.Claims{"sub": "employee-service", "aud": "castellan", "scope": "castellan:admin"})}, readReview, 401, "algorithm HS256 is not allowed"},
		{"tampered payload", []string{"Authorization", "Bearer " + idptest.Tamper(e.service("ai-reporting-agent", "castellan:read"), idptest.Claims{"sub": "employee-service"})}, readReview, 401, "signature is invalid"},
		{"a user token as the caller token", []string{"Authorization", "Bearer " + hr}, readReview, 401, "is a user token"},
		{"a caller token on behalf of", []string{"Authorization", "Bearer " + e.service("employee-service", "castellan:read"), onBehalfOfHeader, e.service("employee-service", "castellan:read")}, readReview, 401, "Castellan-On-Behalf-Of: invalid user token: the on-behalf-of token is a caller token"},
		{"an expired user token", []string{"Authorization", "Bearer " + e.service("employee-service", "castellan:read"), onBehalfOfHeader, e.users.Mint(idptest.Claims{"sub": "alice", "aud": "castellan", "role": "hr", "exp": time.Now().Add(-time.Hour)})}, readReview, 401, "invalid user token: the token has expired"},
		{"a read token cannot write", []string{"Authorization", "Bearer " + e.service("employee-service", "castellan:read")}, nil, 403, `this caller token has scope \"read\"`},
		{"a token with no castellan scope", []string{"Authorization", "Bearer " + e.service("employee-service", "openid")}, readReview, 403, `this caller token has scope \"\"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method, path := "POST", "/api/authorize"
			if tc.body == nil {
				path = "/api/batch"
				tc.body = []any{map[string]any{"inserts": []any{fact("has_role", "User:alice", "reader", "Review:1")}}}
			}
			r := e.do(t, method, path, tc.body, tc.headers...)
			if r.status != tc.status || !strings.Contains(string(r.body), tc.want) {
				t.Fatalf("status %d, body %s; want %d with %q", r.status, r.body, tc.status, tc.want)
			}
			if tok := strings.TrimPrefix(headerOf(tc.headers, "Authorization"), "Bearer "); len(tok) > 40 && strings.Contains(string(r.body), tok[len(tok)-30:]) {
				t.Errorf("the answer echoes the token: %s", r.body)
			}
		})
	}
	// The server is still up and answers its API-key callers.
	e.must(t, http.StatusOK, "GET", "/api/stats", nil)
}

func headerOf(headers []string, name string) string {
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == name {
			return headers[i+1]
		}
	}
	return ""
}

func withContext(body map[string]any, facts ...map[string]any) map[string]any {
	out := make(map[string]any, len(body)+1)
	for k, v := range body {
		out[k] = v
	}
	out["context_facts"] = facts
	return out
}

func TestVerifiedFactsAreNeverStored(t *testing.T) {
	e := newIdentityEnv(t)
	for _, pred := range []string{"request_caller", "request_on_behalf_of", "has_claim"} {
		r := e.do(t, "POST", "/api/batch", []any{map[string]any{"inserts": []any{fact(pred, "Service:employee-service", "role", "hr")}}})
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), pred+" facts are verified facts") {
			t.Errorf("storing %s: status %d, %s; want 400", pred, r.status, r.body)
		}
	}
	if n := e.numFacts(t); n != 0 {
		t.Errorf("%d facts stored; want none", n)
	}
}

func TestAuthZENOnBehalfOf(t *testing.T) {
	e := newIdentityEnv(t)
	auth := []string{"Authorization", "Bearer " + e.service("employee-service", "castellan:read")}
	eval := func(token string) map[string]any {
		return map[string]any{"subject": map[string]any{"type": "User", "id": "alice"}, "action": map[string]any{"name": "read"},
			"resource": map[string]any{"type": "Review", "id": "1"}, "context": map[string]any{"on_behalf_of": token}}
	}
	r := e.must(t, http.StatusOK, "POST", "/access/v1/evaluation", eval(e.user("alice", "hr")), auth...)
	if !strings.Contains(string(r.body), `"decision":true`) {
		t.Errorf("on behalf of an hr user: %s; want true", r.body)
	}
	r = e.must(t, http.StatusOK, "POST", "/access/v1/evaluation", eval(e.user("alice", "engineer")), auth...)
	if !strings.Contains(string(r.body), `"decision":false`) {
		t.Errorf("on behalf of an engineer: %s; want false", r.body)
	}
	r = e.do(t, "POST", "/access/v1/evaluation", eval(e.service("x", "castellan:read")), auth...)
	if r.status != http.StatusUnauthorized || !strings.Contains(string(r.body), "context.on_behalf_of: invalid user token") {
		t.Errorf("a caller token on behalf of: %d %s; want 401", r.status, r.body)
	}
	// A search takes context.on_behalf_of too: who may read review 1
	// through employee-service is the verified user, when they are hr.
	search := func(token string) map[string]any {
		return map[string]any{"subject": map[string]any{"type": "User"}, "action": map[string]any{"name": "read"},
			"resource": map[string]any{"type": "Review", "id": "1"}, "context": map[string]any{"on_behalf_of": token}}
	}
	r = e.must(t, http.StatusOK, "POST", "/access/v1/search/subject", search(e.user("alice", "hr")), auth...)
	if !strings.Contains(string(r.body), `{"type":"User","id":"alice"}`) {
		t.Errorf("search on behalf of an hr user: %s; want alice", r.body)
	}
	r = e.must(t, http.StatusOK, "POST", "/access/v1/search/subject", search(e.user("alice", "engineer")), auth...)
	if strings.Contains(string(r.body), `"alice"`) {
		t.Errorf("search on behalf of an engineer: %s; want nobody", r.body)
	}
	r = e.do(t, "POST", "/access/v1/search/subject", search(e.service("x", "castellan:read")), auth...)
	if r.status != http.StatusUnauthorized {
		t.Errorf("search with a caller token on behalf of: %d %s; want 401", r.status, r.body)
	}
}

func TestOnBehalfOfNeedsAUserIssuer(t *testing.T) {
	e := newAdminEnv(t, nil)
	r := e.do(t, "POST", "/api/authorize", readReview, onBehalfOfHeader, "x.y.z")
	if r.status != http.StatusUnauthorized || !strings.Contains(string(r.body), "no user issuer is configured") {
		t.Errorf("status %d, %s; want 401", r.status, r.body)
	}
}

func TestKeysBoundToACaller(t *testing.T) {
	e := newIdentityEnv(t)
	var k struct {
		Key    string `json:"key"`
		Caller string `json:"caller"`
	}
	e.must(t, http.StatusCreated, "POST", "/admin/v1/keys", map[string]any{"name": "hr app", "scope": "read", "caller": "Service:employee-service"}).json(t, &k)
	if k.Caller != "Service:employee-service" {
		t.Errorf("caller = %q; want Service:employee-service", k.Caller)
	}
	r := e.must(t, http.StatusOK, "POST", "/api/authorize", readReview, "Authorization", "Bearer "+k.Key, onBehalfOfHeader, e.user("alice", "hr"))
	if strings.TrimSpace(string(r.body)) != `{"allowed":true}` {
		t.Errorf("bound key for an hr user: %s; want allowed", r.body)
	}
	r = e.do(t, "POST", "/api/authorize", withContext(readReview, fact("request_caller", "Service:other")), "Authorization", "Bearer "+k.Key)
	if r.status != http.StatusBadRequest {
		t.Errorf("bound key with a forged request_caller: %d; want 400", r.status)
	}
	for _, bad := range []string{"billing", "String:billing", "Service:"} {
		if r := e.do(t, "POST", "/admin/v1/keys", map[string]any{"scope": "read", "caller": bad}); r.status != http.StatusBadRequest {
			t.Errorf("caller %q: %d %s; want 400", bad, r.status, r.body)
		}
	}
}

// TestDecisionLogNamesVerifiedCallers checks that a decision asked by a
// token-authenticated service for a verified user is on the record with
// both: the caller as its actor (Service:employee-service) and the user.
func TestDecisionLogNamesVerifiedCallers(t *testing.T) {
	callers, users := idptest.New(), idptest.New()
	t.Cleanup(callers.Close)
	t.Cleanup(users.Close)
	cfg := DefaultConfig()
	cfg.AdminKey = testAdminKey
	cfg.Identity = identity.Config{Issuers: []identity.Issuer{
		{Issuer: callers.URL, JWKSURL: callers.JWKSURL(), Audience: "castellan", Algorithms: []string{"ES256"}, Use: identity.UseCaller},
		{Issuer: users.URL, JWKSURL: users.JWKSURL(), Audience: "castellan", Algorithms: []string{"ES256"}, Use: identity.UseUser, Claims: []string{"role"}},
	}}
	rec, path := newFileRecorder(t)
	srv, err := New(t.Context(), cfg, memory.New(), WithDecisionLog(rec, DecisionLog{}))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	e := &testEnv{srv: srv, ts: ts, key: testAdminKey}
	e.uploadPolicy(t, identityPolicy)

	service := callers.Mint(idptest.Claims{"sub": "employee-service", "aud": "castellan", "scope": "castellan:read"})
	hr := users.Mint(idptest.Claims{"sub": "alice", "aud": "castellan", "role": "hr"})
	if r := e.do(t, "POST", "/api/authorize", readReview, "Authorization", "Bearer "+service, onBehalfOfHeader, hr); r.status != 200 || strings.TrimSpace(string(r.body)) != `{"allowed":true}` {
		t.Fatalf("authorize: %d %s", r.status, r.body)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	recs := readRecords(t, path)
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1: %+v", len(recs), recs)
	}
	if got := recs[0]; got.Caller != "Service:employee-service" || got.OnBehalfOf != "User:alice" {
		t.Errorf("caller %q, on behalf of %q; want Service:employee-service, User:alice", got.Caller, got.OnBehalfOf)
	}
}

// BenchmarkAuthorizeCaller measures POST /api/authorize through the
// handler with each kind of caller, in one run: a stored read key, one
// bound to a caller identity (so its requests carry request_caller like a
// token's), a caller token (JWT, ES256, of a real JWKS issuer), and one with
// the end user's token in Castellan-On-Behalf-Of. Each client reuses its
// tokens, as a workload does until they expire, so the verified-token
// cache answers after the first request; docs/benchmarks.md compares them.
func BenchmarkAuthorizeCaller(b *testing.B) {
	callers, users := idptest.New(), idptest.New()
	b.Cleanup(callers.Close)
	b.Cleanup(users.Close)
	cfg := DefaultConfig()
	cfg.Identity = identity.Config{Issuers: []identity.Issuer{
		{Issuer: callers.URL, JWKSURL: callers.JWKSURL(), Audience: "castellan", Algorithms: []string{"ES256"}, Use: identity.UseCaller},
		{Issuer: users.URL, JWKSURL: users.JWKSURL(), Audience: "castellan", Algorithms: []string{"ES256"}, Use: identity.UseUser, Claims: []string{"role"}},
	}}
	srv, admin := benchServerWith(b, cfg)

	createKey := func(body string) string {
		req := httptest.NewRequest("POST", "/admin/v1/keys", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin)
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		var created struct{ Key string }
		if err := json.Unmarshal(w.Body.Bytes(), &created); w.Code != http.StatusCreated || err != nil || created.Key == "" {
			b.Fatalf("creating a key: status %d: %s", w.Code, w.Body)
		}
		return created.Key
	}
	key := createKey(`{"name":"bench","scope":"read"}`)
	boundKey := createKey(`{"name":"bench-bound","scope":"read","caller":"Service:employee-service"}`)
	token := callers.Mint(idptest.Claims{"sub": "employee-service", "aud": "castellan", "scope": "castellan:read"})
	user := users.Mint(idptest.Claims{"sub": "u7", "aud": "castellan", "role": "hr"})

	body := `{"actor_type":"User","actor_id":"u7","action":"read","resource_type":"Repository","resource_id":"r17","context_facts":[]}`
	for _, tc := range []struct{ name, bearer, onBehalfOf string }{
		{"caller=api-key", key, ""},
		{"caller=api-key-bound", boundKey, ""},
		{"caller=jwt", token, ""},
		{"caller=jwt+on-behalf-of", token, user},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest("POST", "/api/authorize", strings.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+tc.bearer)
					if tc.onBehalfOf != "" {
						req.Header.Set(onBehalfOfHeader, tc.onBehalfOf)
					}
					w := httptest.NewRecorder()
					srv.ServeHTTP(w, req)
					if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"allowed":true`) {
						b.Fatalf("status %d: %s", w.Code, w.Body)
					}
				}
			})
		})
	}
}
