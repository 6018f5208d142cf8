package server

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/castellan-authz/castellan/audit"
	"github.com/castellan-authz/castellan/internal/cputime"
	"github.com/castellan-authz/castellan/store/memory"
)

// newAuditEnv starts a server (dev mode) whose decision log is the file it
// returns; closing the returned recorder flushes it.
func newAuditEnv(t *testing.T, o DecisionLog) (*testEnv, *audit.Recorder, string) {
	t.Helper()
	rec, path := newFileRecorder(t)
	cfg := DefaultConfig()
	cfg.Dev = true
	st := memory.New()
	srv, err := New(t.Context(), cfg, st, WithDecisionLog(rec, o))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	t.Cleanup(func() { rec.Close() })
	return &testEnv{srv: srv, ts: ts, store: st}, rec, path
}

// newFileRecorder returns a recorder on a decision log file in a
// temporary directory, and the file's path.
func newFileRecorder(t *testing.T) (*audit.Recorder, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "decisions.log")
	sink, err := audit.OpenFile(path, audit.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := audit.NewRecorder(sink, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rec, path
}

// readRecords verifies the log at path and returns its records.
func readRecords(t *testing.T, path string) []audit.Record {
	t.Helper()
	if _, err := audit.Verify([]string{path}, audit.VerifyOptions{}); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []audit.Record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r audit.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// TestDecisionLog asks every kind of question once and checks that each
// is on the record, in order, with what was asked and answered.
func TestDecisionLog(t *testing.T) {
	e, rec, path := newAuditEnv(t, DecisionLog{ContextFacts: audit.ContextHashed, Results: true})
	e.uploadPolicy(t, testPolicy)
	e.insert(t, fact("has_role", "User:alice", "member", "Organization:acme"),
		fact("has_relation", "Repository:anvil", "parent", "Organization:acme"))
	ctxFact := fact("has_role", "User:bob", "reader", "Repository:anvil")
	authz := map[string]any{"actor_type": "User", "actor_id": "alice", "action": "read", "resource_type": "Repository", "resource_id": "anvil"}
	asks := []struct {
		path string
		body any
		want string // the endpoint recorded
	}{
		{"/api/authorize", authz, "authorize"},
		{"/api/authorize?explain=true", authz, "authorize"},
		{"/api/authorize", map[string]any{"actor_type": "User", "actor_id": "bob", "action": "read", "resource_type": "Repository", "resource_id": "anvil",
			"context_facts": []any{ctxFact}}, "authorize"},
		{"/api/authorize_resources", map[string]any{"actor_type": "User", "actor_id": "alice", "action": "read",
			"resources": []any{map[string]any{"type": "Repository", "id": "anvil"}, map[string]any{"type": "Repository", "id": "other"}}}, "authorize_resources"},
		{"/api/list", map[string]any{"actor_type": "User", "actor_id": "alice", "action": "read", "resource_type": "Repository"}, "list"},
		{"/api/actions", map[string]any{"actor_type": "User", "actor_id": "alice", "resource_type": "Repository", "resource_id": "anvil"}, "actions"},
		{"/api/bulk_actions", []any{map[string]any{"actor_type": "User", "actor_id": "alice", "resource_type": "Repository", "resource_id": "anvil"}}, "bulk_actions"},
		{"/api/query", map[string]any{"fact": map[string]any{"predicate": "has_role", "args": []any{map[string]any{"type": "User"}, map[string]any{}, map[string]any{}}}}, "query"},
		{"/api/evaluate_query", map[string]any{"predicate": []any{"allow", []string{"a", "b", "c"}}, "calls": []any{},
			"constraints": map[string]any{"a": map[string]any{"type": "User", "ids": []string{"alice"}}, "b": map[string]any{"type": "String", "ids": []string{"read"}}, "c": map[string]any{"type": "Repository"}}}, "evaluate_query"},
		{"/access/v1/evaluation", map[string]any{"subject": map[string]any{"type": "User", "id": "alice"}, "action": map[string]any{"name": "read"}, "resource": map[string]any{"type": "Repository", "id": "anvil"}}, "authzen.evaluation"},
		{"/access/v1/search/resource", map[string]any{"subject": map[string]any{"type": "User", "id": "alice"}, "action": map[string]any{"name": "read"}, "resource": map[string]any{"type": "Repository"}}, "authzen.search.resource"},
	}
	for _, a := range asks {
		e.must(t, http.StatusOK, "POST", a.path, a.body, "X-Request-ID", "req-"+a.want)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	recs := readRecords(t, path)
	if len(recs) != len(asks) {
		t.Fatalf("%d records, want %d", len(recs), len(asks))
	}
	version := e.liveVersion()
	for i, a := range asks {
		r := recs[i]
		if r.Endpoint != a.want || r.RequestID != "req-"+a.want || r.Caller != callerDev || r.PolicyVersion != version || r.Revision == 0 || r.Latency <= 0 {
			t.Errorf("%s: record %+v", a.path, r)
		}
	}
	if r := recs[0]; r.Actor != (audit.Value{Type: "User", ID: "alice"}) || r.Action != "read" || r.Resource != (audit.Value{Type: "Repository", ID: "anvil"}) ||
		r.Allowed == nil || !*r.Allowed || r.Explanation != nil {
		t.Errorf("authorize: %+v", r)
	}
	if recs[1].Explanation == nil {
		t.Error("authorize?explain=true: no explanation recorded")
	}
	if r := recs[2]; r.Allowed == nil || !*r.Allowed || r.ContextFacts != nil || r.ContextFactsSHA256 != audit.HashFacts([]string{`has_role(User{"bob"}, "reader", Repository{"anvil"})`}) {
		t.Errorf("context facts (hashed): %+v", r)
	}
	if r := recs[3]; len(r.Resources) != 2 || r.Count == nil || *r.Count != 1 || strings.Join(r.Results, ",") != "Repository:anvil" {
		t.Errorf("authorize_resources: %+v", r)
	}
	if r := recs[4]; r.ResourceType != "Repository" || r.Count == nil || *r.Count != 1 || strings.Join(r.Results, ",") != "anvil" {
		t.Errorf("list: %+v", r)
	}
	if r := recs[8]; r.Query != "allow(a, b, c) where a: User{alice}, b: String{read}, c: Repository" || r.Count == nil || *r.Count != 1 {
		t.Errorf("evaluate_query: %+v", r)
	}
}

// TestDecisionLogLocal records the SQL of a local authorization question.
func TestDecisionLogLocal(t *testing.T) {
	e, rec, path := newAuditEnv(t, DecisionLog{Results: true})
	e.uploadPolicy(t, localTestPolicy)
	sql := e.sql(t, "/api/authorize_query", authorizeBody("User:alice", "read", "Repository:anvil"))
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	recs := readRecords(t, path)
	if len(recs) != 1 || recs[0].Endpoint != "authorize_query" || recs[0].Query == "" || len(recs[0].Results) != 1 || recs[0].Results[0] != sql {
		t.Errorf("records %+v, want one with the SQL %q", recs, sql)
	}
}

// TestDecisionLogOff checks that a server without a decision log records
// nothing and exports no decision log metrics.
func TestDecisionLogOff(t *testing.T) {
	e := newTestEnv(t, nil)
	if e.srv.recorder != nil {
		t.Fatal("recorder set without WithDecisionLog")
	}
	r := e.must(t, http.StatusOK, "GET", "/metrics", nil)
	if strings.Contains(string(r.body), "castellan_decision_log") {
		t.Error("decision log metrics exported without a decision log")
	}
}

// countingExporter counts the spans it hands on to the exporter it wraps,
// so that a benchmark shows how many were exported rather than dropped.
type countingExporter struct {
	sdktrace.SpanExporter
	n atomic.Int64
}

func (c *countingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	c.n.Add(int64(len(spans)))
	return c.SpanExporter.ExportSpans(ctx, spans)
}

// BenchmarkAuthorizeDecisionLog measures POST /api/authorize through the
// handler stack from parallel clients, without and with the decision log
// to a file (block when full, context facts and signing as by default
// off), and with tracing on (every request sampled, or one in ten,
// exported over OTLP/HTTP to a receiver in the test): the throughput with
// each must stay at least 0.8x of both off. With tracing it reports the
// spans exported per request (spans/op: 3 when every request is sampled
// and none is dropped), the spans still buffered flushed within the
// measurement.
func BenchmarkAuthorizeDecisionLog(b *testing.B) {
	body := `{"actor_type":"User","actor_id":"u7","action":"read","resource_type":"Repository","resource_id":"r17","context_facts":[]}`
	for _, name := range []string{"log=off", "log=file", "trace=on", "trace=ratio0.1", "trace=on,blocking"} {
		b.Run(name, func(b *testing.B) {
			var (
				opts     []Option
				tp       *sdktrace.TracerProvider
				exported *countingExporter
			)
			if strings.HasPrefix(name, "trace=") {
				collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					io.Copy(io.Discard, r.Body)
					w.Header().Set("Content-Type", "application/x-protobuf")
				}))
				b.Cleanup(collector.Close)
				exp, err := otlptracehttp.New(b.Context(), otlptracehttp.WithEndpointURL(collector.URL+"/v1/traces"))
				if err != nil {
					b.Fatal(err)
				}
				exported = &countingExporter{SpanExporter: exp}
				// trace=on samples every request (the SDK's default,
				// parentbased_always_on); trace=ratio0.1 one in ten, as
				// OTEL_TRACES_SAMPLER=parentbased_traceidratio with
				// OTEL_TRACES_SAMPLER_ARG=0.1 does.
				sampler := sdktrace.ParentBased(sdktrace.AlwaysSample())
				if name == "trace=ratio0.1" {
					sampler = sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.1))
				}
				// The batch span processor as `castellan serve` runs it, which
				// drops the spans that find its queue full; trace=on,blocking
				// has it wait instead, so that every span is exported and
				// counts in the CPU per request.
				var bsp []sdktrace.BatchSpanProcessorOption
				if name == "trace=on,blocking" {
					bsp = append(bsp, sdktrace.WithBlocking())
				}
				tp = sdktrace.NewTracerProvider(sdktrace.WithBatcher(exported, bsp...), sdktrace.WithSampler(sampler))
				b.Cleanup(func() { tp.Shutdown(context.Background()) })
				opts = append(opts, WithTracing(tp))
			}
			if name == "log=file" {
				sink, err := audit.OpenFile(filepath.Join(b.TempDir(), "decisions.log"), audit.FileOptions{MaxSize: 64 << 20, Keep: 2})
				if err != nil {
					b.Fatal(err)
				}
				rec, err := audit.NewRecorder(sink, audit.Options{})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { rec.Close() })
				opts = append(opts, WithDecisionLog(rec, DecisionLog{}))
			}
			srv, key := benchServer(b, opts...)
			b.ReportAllocs()
			cpu0, cpuOK := cputime.Process()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest("POST", "/api/authorize", strings.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+key)
					w := httptest.NewRecorder()
					srv.ServeHTTP(w, req)
					if w.Code != http.StatusOK {
						b.Fatalf("status %d: %s", w.Code, w.Body)
					}
				}
			})
			if tp != nil {
				if err := tp.ForceFlush(b.Context()); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(exported.n.Load())/float64(b.N), "spans/op")
			}
			// The process's CPU time per request (all threads: handlers, GC,
			// the log writer, the span exporter), which other work on a
			// shared machine inflates far less than wall time; on a
			// dedicated machine, throughput is the cores over it.
			if cpu1, ok := cputime.Process(); ok && cpuOK {
				b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
			}
		})
	}
}
