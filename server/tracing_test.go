package server

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/memory"
)

// TestTracingSpans checks the spans of authorize requests with tracing on
// (the SDK, every request sampled unless its caller's traceparent says
// not): a request span named by its route with the decision's attributes
// and decode and evaluate children; a store.wait child only when the
// request names a revision (OsoOffset) the server has not seen, here one
// written to the store behind its back as another replica would; the
// caller's trace joined; nothing for a caller's unsampled trace.
func TestTracingSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	cfg := DefaultConfig()
	cfg.Dev = true
	st := memory.New()
	srv, err := New(t.Context(), cfg, st, WithTracing(tp))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(validateResponses(t, srv))
	defer ts.Close()
	e := &testEnv{srv: srv, ts: ts, store: st}
	e.uploadPolicy(t, testPolicy)
	e.insert(t, fact("has_role", "User:alice", "member", "Organization:acme"),
		fact("has_relation", "Repository:anvil", "parent", "Organization:acme"))
	authz := map[string]any{"actor_type": "User", "actor_id": "alice", "action": "read", "resource_type": "Repository", "resource_id": "anvil"}

	// ask sends an authorize with headers and returns the request's span
	// (nil when none) and the names of its children.
	ask := func(t *testing.T, headers ...string) (sdktrace.ReadOnlySpan, map[string]sdktrace.ReadOnlySpan) {
		t.Helper()
		rec.Reset()
		e.must(t, http.StatusOK, "POST", "/api/authorize", authz, headers...)
		var root sdktrace.ReadOnlySpan
		for _, s := range rec.Ended() {
			if s.Name() == "POST /api/authorize" {
				root = s
			}
		}
		children := map[string]sdktrace.ReadOnlySpan{}
		for _, s := range rec.Ended() {
			if root != nil && s.Parent().SpanID() == root.SpanContext().SpanID() {
				children[s.Name()] = s
			}
		}
		if root == nil && len(rec.Ended()) > 0 {
			t.Errorf("%d spans and none named POST /api/authorize", len(rec.Ended()))
		}
		return root, children
	}
	attrs := func(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
		m := map[attribute.Key]attribute.Value{}
		for _, a := range s.Attributes() {
			m[a.Key] = a.Value
		}
		return m
	}

	t.Run("plain", func(t *testing.T) {
		root, children := ask(t)
		if root == nil {
			t.Fatal("no request span")
		}
		a := attrs(root)
		if root.SpanKind() != trace.SpanKindServer || a["http.route"].AsString() != "/api/authorize" || a["http.request.method"].AsString() != "POST" ||
			a["http.response.status_code"].AsInt64() != 200 || a["castellan.decision"].AsString() != "allowed" ||
			a["castellan.policy_version"].AsInt64() != e.liveVersion() || a["castellan.revision"].AsInt64() == 0 || a["castellan.caller"].AsString() != callerDev {
			t.Errorf("request span %v: %v", root.SpanKind(), a)
		}
		if n := srv.spanNames[routeKey{"POST", "/api/authorize"}]; n != "POST /api/authorize" {
			t.Errorf("the route's span name, made once: %q", n)
		}
		if _, ok := a["url.path"]; ok {
			t.Errorf("url.path on a static route's span: %v", a)
		}
		if len(children) != 2 || children["decode"] == nil || children["evaluate"] == nil {
			t.Errorf("children %v, want decode and evaluate (no store.wait without OsoOffset)", children)
		}
	})

	t.Run("route with parameters", func(t *testing.T) {
		rec.Reset()
		e.do(t, "GET", "/admin/v1/policies/1", nil)
		var found bool
		for _, s := range rec.Ended() {
			if s.Name() == "GET /admin/v1/policies/{version}" {
				found = true
				if a := attrs(s); a["url.path"].AsString() != "/admin/v1/policies/1" || a["http.route"].AsString() != "/admin/v1/policies/{version}" {
					t.Errorf("attributes %v, want the path beside the route", a)
				}
			}
		}
		if !found {
			t.Errorf("no GET /admin/v1/policies/{version} span among %d", len(rec.Ended()))
		}
	})

	t.Run("store wait", func(t *testing.T) {
		// Another replica's write: the store has it, this server has not
		// seen it.
		rev, err := st.Write(t.Context(), []store.Op{{Insert: []term.Fact{{Predicate: "has_role",
			Args: []term.Value{term.Entity("User", "bob"), term.String("member"), term.Entity("Organization", "acme")}}}}})
		if err != nil {
			t.Fatal(err)
		}
		if rev <= srv.revision.Load() {
			t.Fatalf("the server has seen revision %d already", rev)
		}
		root, children := ask(t, "OsoOffset", strconv.FormatUint(rev, 10))
		if root == nil {
			t.Fatal("no request span")
		}
		w := children["store.wait"]
		if w == nil || children["decode"] == nil || children["evaluate"] == nil {
			t.Fatalf("children %v, want decode, store.wait and evaluate", children)
		}
		if a := attrs(w); a["castellan.offset"].AsInt64() != int64(rev) || a["castellan.revision"].AsInt64() < int64(rev) {
			t.Errorf("store.wait attributes %v, want offset %d and the revision read", a, rev)
		}
		// Now seen: the same offset waits for nothing.
		if _, children := ask(t, "OsoOffset", strconv.FormatUint(rev, 10)); children["store.wait"] != nil {
			t.Errorf("store.wait for a revision already seen: %v", children)
		}
	})

	t.Run("caller's trace", func(t *testing.T) {
		const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
		root, children := ask(t, "traceparent", "00-"+traceID+"-"+parentID+"-01")
		if root == nil {
			t.Fatal("no request span")
		}
		if root.SpanContext().TraceID().String() != traceID || root.Parent().SpanID().String() != parentID || !root.Parent().IsRemote() {
			t.Errorf("request span in trace %s under %s, want the caller's %s under %s", root.SpanContext().TraceID(), root.Parent().SpanID(), traceID, parentID)
		}
		for name, c := range children {
			if c.SpanContext().TraceID().String() != traceID {
				t.Errorf("%s in trace %s", name, c.SpanContext().TraceID())
			}
		}
		// The caller did not sample its trace: neither does Castellan.
		if root, _ := ask(t, "traceparent", "00-"+traceID+"-"+parentID+"-00"); root != nil || len(rec.Ended()) != 0 {
			t.Errorf("%d spans for an unsampled caller's trace", len(rec.Ended()))
		}
	})
}
