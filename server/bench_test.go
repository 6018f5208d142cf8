package server

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/policy"
	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/memory"
)

// benchSink keeps results alive.
var benchSink int

// BenchmarkAuthorizeHandler measures one POST /api/authorize through the
// whole handler stack (request id, access log to io.Discard, metrics,
// auth, decode, evaluate, encode), without the network.
func BenchmarkAuthorizeHandler(b *testing.B) {
	srv, key := benchServer(b)
	for _, tc := range []struct {
		name, body string
	}{
		{"allowed", `{"actor_type":"User","actor_id":"u7","action":"read","resource_type":"Repository","resource_id":"r17","context_facts":[]}`},
		{"denied", `{"actor_type":"User","actor_id":"u7","action":"push","resource_type":"Repository","resource_id":"r18","context_facts":[]}`},
		// One context fact, checked against the policy before it is used.
		{"context_fact", `{"actor_type":"User","actor_id":"u7","action":"read","resource_type":"Repository","resource_id":"new","context_facts":[{"predicate":"has_relation","args":[{"type":"Repository","id":"new"},{"type":"String","id":"parent"},{"type":"Organization","id":"o7"}]}]}`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("POST", "/api/authorize", strings.NewReader(tc.body))
				req.Header.Set("Authorization", "Bearer "+key)
				rec := httptest.NewRecorder()
				srv.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
				benchSink += rec.Body.Len()
			}
		})
	}
}

// benchServer is a server with opts on a memory store of 2,000 facts
// under testPolicy, and its admin key.
func benchServer(b *testing.B, opts ...Option) (*Server, string) {
	b.Helper()
	return benchServerWith(b, DefaultConfig(), opts...)
}

// benchServerWith is benchServer with cfg (its admin key set here).
func benchServerWith(b *testing.B, cfg Config, opts ...Option) (*Server, string) {
	b.Helper()
	st := memory.New()
	facts := make([]term.Fact, 0, 2000)
	for i := range 1000 {
		facts = append(facts,
			term.Fact{Predicate: "has_role", Args: []term.Value{term.Entity("User", fmt.Sprintf("u%d", i)), term.String("member"), term.Entity("Organization", fmt.Sprintf("o%d", i%10))}},
			term.Fact{Predicate: "has_relation", Args: []term.Value{term.Entity("Repository", fmt.Sprintf("r%d", i)), term.String("parent"), term.Entity("Organization", fmt.Sprintf("o%d", i%10))}},
		)
	}
	cfg.AdminKey = "bench-admin-key-0123456789"
	srv, err := New(b.Context(), cfg, st, append([]Option{WithLogger(zerolog.New(io.Discard))}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := srv.Policies().Load(b.Context(), []policy.File{{Filename: "p.polar", Src: testPolicy}}, "bench"); err != nil {
		b.Fatal(err)
	}
	if _, err := st.Write(b.Context(), []store.Op{{Insert: facts}}); err != nil {
		b.Fatal(err)
	}
	return srv, cfg.AdminKey
}

// BenchmarkAuthorizeWindows is BenchmarkAuthorizeHandler/allowed on a
// store where the memberships carry validity windows: the snapshot is
// then read At the request's instant (one more allocation) and every
// match checks the window.
func BenchmarkAuthorizeWindows(b *testing.B) {
	srv, key := benchServer(b)
	var facts []term.Fact
	for i := range 1000 {
		facts = append(facts, term.Fact{Predicate: "has_role",
			Args:  []term.Value{term.Entity("User", fmt.Sprintf("u%d", i)), term.String("member"), term.Entity("Organization", fmt.Sprintf("o%d", i%10))},
			Valid: term.Window{Until: time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)}})
	}
	if _, err := srv.store.Write(b.Context(), []store.Op{{Insert: facts}}); err != nil {
		b.Fatal(err)
	}
	body := `{"actor_type":"User","actor_id":"u7","action":"read","resource_type":"Repository","resource_id":"r17","context_facts":[]}`
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/api/authorize", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "true") {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		benchSink += rec.Body.Len()
	}
}
