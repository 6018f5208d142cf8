package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/castellan-authz/castellan/store/memory"
)

func TestRequestID(t *testing.T) {
	e := newTestEnv(t, nil)
	tests := []struct {
		name, sent string
		echoed     bool
	}{
		{"echoed", "abc-123", true},
		{"generated when missing", "", false},
		{"generated when it has spaces", "bad id", false},
		{"generated when too long", strings.Repeat("x", 200), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/api/stats", "/api/nope"} {
				r := e.do(t, "GET", path, nil, "X-Request-ID", tc.sent)
				got := r.header.Get("X-Request-ID")
				if tc.echoed && got != tc.sent {
					t.Errorf("%s: X-Request-ID %q, want %q", path, got, tc.sent)
				}
				if !tc.echoed && (got == "" || got == tc.sent) {
					t.Errorf("%s: X-Request-ID %q, want a generated one", path, got)
				}
			}
		})
	}
}

func TestOsoOffset(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Dev = true
	cfg.ConsistencyTimeout = 50 * time.Millisecond
	e := newTestEnv(t, &cfg)
	e.uploadPolicy(t, testPolicy)
	var last uint64
	for i := range 3 {
		r := e.insert(t, fact("has_role", fmt.Sprintf("User:u%d", i), "member", "Organization:acme"))
		rev, err := strconv.ParseUint(r.header.Get("OsoOffset"), 10, 64)
		if err != nil || rev <= last {
			t.Fatalf("write %d: OsoOffset %q after %d: want a growing revision", i, r.header.Get("OsoOffset"), last)
		}
		last = rev
	}
	// A read at the last revision sees the write.
	var got []any
	e.must(t, http.StatusOK, "GET", "/api/facts?predicate=has_role", nil, "OsoOffset", strconv.FormatUint(last, 10)).json(t, &got)
	if len(got) != 3 {
		t.Errorf("read at OsoOffset %d: %d facts, want 3", last, len(got))
	}
	// A revision the store never had (an offset from before a restart of
	// an in-memory server) is answered at the latest revision, at once.
	var st map[string]int
	e.must(t, http.StatusOK, "GET", "/api/stats", nil, "OsoOffset", strconv.FormatUint(last+100, 10)).json(t, &st)
	if st["num_facts"] != 3 {
		t.Errorf("stats at a future offset: %v", st)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	cfg := DefaultConfig()
	cfg.AdminKey = "an-admin-key-for-tests"
	e := newTestEnv(t, &cfg)
	// Probes and metrics need no key.
	e.must(t, http.StatusOK, "GET", "/healthz", nil)
	e.must(t, http.StatusOK, "GET", "/readyz", nil)
	e.must(t, http.StatusOK, "GET", "/api/healthcheck", nil)
	e.must(t, http.StatusOK, "HEAD", "/healthz", nil)
	e.must(t, http.StatusOK, "HEAD", "/readyz", nil)
	var ready struct {
		Message  string  `json:"message"`
		Writes   bool    `json:"writes"`
		Revision *uint64 `json:"revision"`
	}
	e.must(t, http.StatusOK, "GET", "/readyz?writes=1", nil).json(t, &ready)
	if ready.Message != "ready" || !ready.Writes || ready.Revision == nil {
		t.Errorf("/readyz?writes=1 on a memory store: %+v, want ready, writes, a revision", ready)
	}
	e.key = cfg.AdminKey
	e.uploadPolicy(t, testPolicy)
	e.insert(t, fact("has_role", "User:alice", "owner", "Organization:acme"))
	e.authorize(t, "User:alice", "read", "Organization:acme")
	e.authorize(t, "User:bob", "read", "Organization:acme")
	e.key = ""
	body := string(e.must(t, http.StatusOK, "GET", "/metrics", nil).body)
	for _, want := range []string{
		`castellan_http_requests_total{code="200",method="POST",route="/api/authorize"} 2`,
		`castellan_http_requests_total{code="200",method="POST",route="/api/batch"} 1`,
		`castellan_http_request_duration_seconds_bucket{method="POST",route="/api/authorize"`,
		`castellan_decisions_total{api="oso",result="allow"} 1`,
		"\ncastellan_store_writable 1\n",
		`castellan_decisions_total{api="oso",result="deny"} 1`,
		`castellan_store_revision 1`,
		`castellan_policy_version 1`,
		`castellan_policy_loads_total{result="loaded"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, cfg.AdminKey) {
		t.Error("/metrics shows the admin key")
	}
}

func TestAccessLogHasNoSecrets(t *testing.T) {
	var buf syncBuffer
	cfg := DefaultConfig()
	cfg.AdminKey = "super-secret-admin-key"
	srv, err := New(t.Context(), cfg, memory.New(), WithLogger(zerolog.New(&buf)))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	e := &testEnv{srv: srv, ts: ts, key: cfg.AdminKey}
	e.uploadPolicy(t, testPolicy)
	e.insert(t, fact("has_role", "User:alice", "owner", "Organization:acme"))
	e.do(t, "GET", "/api/nope", nil, "X-Request-ID", "req-42")

	var lines []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	logs := buf.String()
	for _, secret := range []string{cfg.AdminKey, "alice", "Organization"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains %q:\n%s", secret, logs)
		}
	}
	var found bool
	for _, m := range lines {
		if m["request_id"] == "req-42" {
			found = true
			want := map[string]any{"level": "info", "message": "request", "request_id": "req-42", "method": "GET", "route": "unmatched", "path": "/api/nope", "status": 404.0}
			for k, v := range want {
				if diff := cmp.Diff(v, m[k]); diff != "" {
					t.Errorf("access log %s (-want +got):\n%s", k, diff)
				}
			}
		}
	}
	if !found {
		t.Errorf("no access log line for request req-42:\n%s", logs)
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a server.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

func (b *syncBuffer) String() string { return string(b.Bytes()) }

func TestRecoverer(t *testing.T) {
	srv := &Server{log: zerolog.Nop()}
	h := srv.requestContext(recoverer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), "GET", "/", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", rec.Code)
	}
	var env envelope
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
		t.Fatal(err)
	}
	if env.Message != "internal error" || strings.Contains(rec.Body.String(), "boom") {
		t.Errorf("panic answered %s: want the internal error envelope without the cause", rec.Body)
	}
}

func TestInFlightLimit(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Dev = true
	cfg.MaxInFlight = 1
	e := newTestEnv(t, &cfg)
	e.srv.inflight <- struct{}{} // one request is being served
	r := e.must(t, http.StatusTooManyRequests, "GET", "/api/stats", nil)
	if r.header.Get("Retry-After") == "" || !strings.Contains(r.envelope(t).Message, "--max-in-flight") {
		t.Errorf("429 answer: %v %s", r.header, r.body)
	}
	for _, probe := range []string{"/healthz", "/readyz", "/api/healthcheck", "/metrics"} {
		e.must(t, http.StatusOK, "GET", probe, nil) // never shed
	}
	<-e.srv.inflight
	e.must(t, http.StatusOK, "GET", "/api/stats", nil)
}

// TestPolicySwapIsAtomic uploads two policies in turn while clients ask
// about four documents at once: every answer must be wholly one policy's.
func TestPolicySwapIsAtomic(t *testing.T) {
	e := newTestEnv(t, nil)
	policy := func(docs ...string) string {
		var b strings.Builder
		b.WriteString("actor User {}\nresource Doc { permissions = [\"read\"]; }\n")
		for _, d := range docs {
			fmt.Fprintf(&b, "has_permission(_: User, \"read\", Doc{%q});\n", d)
		}
		return b.String()
	}
	pa, pb := policy("d1", "d2"), policy("d3", "d4")
	e.uploadPolicy(t, pa)
	wantA := `{"results":[{"type":"Doc","id":"d1"},{"type":"Doc","id":"d2"}]}`
	wantB := `{"results":[{"type":"Doc","id":"d3"},{"type":"Doc","id":"d4"}]}`
	req := map[string]any{"actor_type": "User", "actor_id": "u", "action": "read", "resources": []any{
		entity("Doc", "d1"), entity("Doc", "d2"), entity("Doc", "d3"), entity("Doc", "d4")}}

	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				r := e.do(t, "POST", "/api/authorize_resources", req)
				if got := strings.TrimSpace(string(r.body)); r.status != 200 || (got != wantA && got != wantB) {
					select {
					case errs <- fmt.Sprintf("status %d body %s", r.status, got):
					default:
					}
					return
				}
			}
		})
	}
	for i := range 20 {
		if i%2 == 0 {
			e.uploadPolicy(t, pb)
		} else {
			e.uploadPolicy(t, pa)
		}
	}
	cancel()
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Errorf("a request saw a mix of policies: %s", msg)
	}
	if v := e.liveVersion(); v != 21 {
		t.Errorf("live version %d, want 21", v)
	}
}

func TestStoreUnavailable(t *testing.T) {
	e := newTestEnv(t, nil)
	e.uploadPolicy(t, testPolicy)
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	r := e.must(t, http.StatusServiceUnavailable, "POST", "/api/batch", []any{map[string]any{"inserts": []any{fact("has_role", "User:a", "owner", "Organization:o")}}})
	if env := r.envelope(t); env.Code != codeUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("closed store: %v %s", r.header, r.body)
	}
	e.must(t, http.StatusServiceUnavailable, "GET", "/readyz", nil)
	e.must(t, http.StatusOK, "GET", "/healthz", nil)
}

func TestQueryTimeout(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Dev = true
	cfg.QueryTimeout = time.Nanosecond
	e := newTestEnv(t, &cfg)
	e.uploadPolicy(t, testPolicy)
	r := e.must(t, http.StatusServiceUnavailable, "POST", "/api/authorize", map[string]any{"actor_type": "User", "actor_id": "a", "action": "read", "resource_type": "Organization", "resource_id": "o"})
	if env := r.envelope(t); env.Code != codeTimeout || !strings.Contains(env.Message, "--query-timeout") {
		t.Errorf("timeout answer: %s", r.body)
	}
}

func TestMetricsAuth(t *testing.T) {
	e := newAdminEnv(t, func(c *Config) { c.MetricsAuth = true })
	e.must(t, http.StatusUnauthorized, "GET", "/metrics", nil, "Authorization", "")
	r := e.must(t, http.StatusOK, "GET", "/metrics", nil)
	if !strings.Contains(string(r.body), "castellan_policy_version") {
		t.Errorf("/metrics with a key: %s", r.body)
	}
}

func TestMetricsSeparate(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Dev = true
	cfg.MetricsSeparate = true
	e := newTestEnv(t, &cfg)
	e.must(t, http.StatusNotFound, "GET", "/metrics", nil)
	ms := httptest.NewServer(e.srv.MetricsHandler())
	t.Cleanup(ms.Close)
	resp, err := ms.Client().Get(ms.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "castellan_http_requests_total") {
		t.Errorf("metrics listener: %d %s", resp.StatusCode, b)
	}
}

func TestAuthzenConfigurationHost(t *testing.T) {
	get := func(t *testing.T, cfg Config, headers ...string) string {
		t.Helper()
		e := newTestEnv(t, &cfg)
		req, err := http.NewRequestWithContext(t.Context(), "GET", e.ts.URL+"/.well-known/authzen-configuration", nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(headers); i += 2 {
			if headers[i] == "Host" {
				req.Host = headers[i+1] // sent as the Host header
				continue
			}
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := e.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var got authzenConfig
		if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d, %v", resp.StatusCode, err)
		}
		if !strings.HasSuffix(got.AccessEvaluationEndpoint, "/access/v1/evaluation") || !strings.HasPrefix(got.AccessEvaluationEndpoint, got.PolicyDecisionPoint) {
			t.Errorf("endpoints not under the decision point: %+v", got)
		}
		return got.PolicyDecisionPoint
	}
	evil := []string{"Host", "evil.example", "X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https"}
	cfg := DefaultConfig()
	cfg.Dev = true
	t.Run("untrusted peer: the listener's address", func(t *testing.T) {
		if got := get(t, cfg, evil...); strings.Contains(got, "evil") || !strings.HasPrefix(got, "http://127.0.0.1:") {
			t.Errorf("decision point %q: want the listener's address, not the caller's Host", got)
		}
	})
	t.Run("trusted proxy: its Host and X-Forwarded-Proto", func(t *testing.T) {
		c := cfg
		c.TrustedProxies = []string{"127.0.0.0/8", "::1"}
		if got := get(t, c, "Host", "authz.example.com", "X-Forwarded-Proto", "https"); got != "https://authz.example.com" {
			t.Errorf("decision point %q", got)
		}
		if got := get(t, c, "X-Forwarded-Host", "pdp.example.com"); got != "http://pdp.example.com" {
			t.Errorf("decision point %q", got)
		}
	})
	t.Run("public URL wins", func(t *testing.T) {
		c := cfg
		c.PublicURL = "https://pdp.example.com/"
		c.TrustedProxies = []string{"127.0.0.0/8", "::1"}
		if got := get(t, c, evil...); got != "https://pdp.example.com" {
			t.Errorf("decision point %q", got)
		}
	})
}

func TestPolicyUploadNeedsForce(t *testing.T) {
	e := newAdminEnv(t, nil)
	e.uploadPolicy(t, testPolicy)
	e.insert(t, fact("has_role", "User:alice", "member", "Organization:acme"))

	// No allow rule over stored facts: 422, the old policy stays live.
	r := e.must(t, http.StatusUnprocessableEntity, "POST", "/api/policy", map[string]any{"filename": "empty.polar", "src": "actor User {}\n"})
	if env := r.envelope(t); env.Code != codePolicyNeedsForce ||
		!strings.HasPrefix(env.Message, "the policy has no allow rule: every authorize would be denied") ||
		!strings.HasSuffix(env.Message, `upload again with "force": true (castellan policy --force) to make it live anyway`) {
		t.Errorf("envelope %+v", env)
	}
	if !e.authorize(t, "User:alice", "read", "Organization:acme") {
		t.Fatal("the refused policy went live")
	}
	// One that orphans every stored fact: refused outside dev mode.
	orphaning := "actor User {}\nresource Doc { permissions = [\"view\"]; }\nhas_permission(_: User, \"view\", _: Doc);\n"
	r = e.must(t, http.StatusUnprocessableEntity, "POST", "/api/policy", map[string]any{"files": []any{map[string]any{"filename": "a.polar", "src": orphaning}}})
	if msg := r.envelope(t).Message; !strings.HasPrefix(msg, "1 stored facts (predicates has_role/3) would not be usable by this policy") {
		t.Errorf("message %q", msg)
	}
	// "force": true makes it live and says what it does.
	var ok message
	e.must(t, http.StatusOK, "POST", "/api/policy", map[string]any{"filename": "empty.polar", "src": "actor User {}\n", "force": true}).json(t, &ok)
	if !strings.Contains(ok.Message, "; warning: the policy has no allow rule") {
		t.Errorf("forced upload: %q", ok.Message)
	}
	if e.authorize(t, "User:alice", "read", "Organization:acme") {
		t.Error("the forced policy is not live")
	}
}

func TestPolicyUploadDevModeAllowsOrphans(t *testing.T) {
	// Oso's SDK suites load policies over facts earlier tests left on one
	// dev server; only a policy with no allow rule is refused there.
	e := newTestEnv(t, nil)
	e.uploadPolicy(t, testPolicy)
	e.insert(t, fact("has_role", "User:alice", "member", "Organization:acme"))
	var ok message
	e.must(t, http.StatusOK, "POST", "/api/policy", map[string]any{"src": "actor User {}\nresource Doc { permissions = [\"view\"]; }\nhas_permission(_: User, \"view\", _: Doc);\n"}).json(t, &ok)
	if !strings.Contains(ok.Message, "warning: 1 stored facts") {
		t.Errorf("message %q", ok.Message)
	}
	e.must(t, http.StatusUnprocessableEntity, "POST", "/api/policy", map[string]any{"src": ""})
}
