package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an OTLP/HTTP trace receiver: it keeps the spans it is
// sent, decoded with the collector's protobuf types.
type otlpReceiver struct {
	mu       sync.Mutex
	spans    []*tracepb.Span
	services []string
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	var req collectortrace.ExportTraceServiceRequest
	if err != nil || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" || proto.Unmarshal(body, &req) != nil {
		http.Error(w, "bad export", http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, a := range rs.Resource.GetAttributes() {
			if a.Key == "service.name" {
				o.services = append(o.services, a.Value.GetStringValue())
			}
		}
		for _, ss := range rs.ScopeSpans {
			o.spans = append(o.spans, ss.Spans...)
		}
	}
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

// TestServeTraces serves with OTEL_EXPORTER_OTLP_ENDPOINT pointing at an
// in-test receiver: an authorize request that carries a traceparent gives a
// server span in the caller's trace, with the route, status and decision,
// and its decode and evaluation children; one that names a revision the
// server has not seen (OsoOffset) a store.wait child too.
func TestServeTraces(t *testing.T) {
	recv := &otlpReceiver{}
	collector := httptest.NewServer(recv)
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL) // the exporter reads the process environment
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_SERVICE_NAME", "")
	policyFile := filepath.Join(t.TempDir(), "p.polar")
	if err := os.WriteFile(policyFile, []byte(servePolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	rs := startServe(t, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL}, "--policy", policyFile)

	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	body, _ := json.Marshal(map[string]any{"actor_type": "User", "actor_id": "a", "action": "read", "resource_type": "Doc", "resource_id": "d",
		"context_facts": []any{map[string]any{"predicate": "has_role", "args": []any{
			map[string]any{"type": "User", "id": "a"}, map[string]any{"type": "String", "id": "reader"}, map[string]any{"type": "Doc", "id": "d"}}}}})
	for _, offset := range []string{"", "999999"} {
		req, _ := http.NewRequest(http.MethodPost, rs.url+"/api/authorize", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
		if offset != "" {
			// A revision this server has not seen: it asks the store
			// (store.wait), which has not reached it either, and answers
			// at the latest.
			req.Header.Set("OsoOffset", offset)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("authorize (OsoOffset %q): %d", offset, resp.StatusCode)
		}
	}
	if err := rs.stop(); err != nil { // flushes the spans
		t.Fatalf("serve: %v\n%s", err, rs.log)
	}

	recv.mu.Lock()
	defer recv.mu.Unlock()
	var roots []*tracepb.Span
	for _, s := range recv.spans {
		if s.Name == "POST /api/authorize" {
			roots = append(roots, s)
		}
	}
	if len(roots) != 2 {
		t.Fatalf("%d POST /api/authorize spans among %d spans, want 2", len(roots), len(recv.spans))
	}
	var got []string // the names of each request span's children
	for _, root := range roots {
		if hex.EncodeToString(root.TraceId) != traceID || hex.EncodeToString(root.ParentSpanId) != parentID || root.Kind != tracepb.Span_SPAN_KIND_SERVER {
			t.Errorf("request span: trace %x parent %x kind %v; want the caller's trace %s and parent %s, kind server",
				root.TraceId, root.ParentSpanId, root.Kind, traceID, parentID)
		}
		attrs := map[string]string{}
		for _, a := range root.Attributes {
			v := a.Value.GetStringValue()
			if v == "" {
				v = a.Value.String()
			}
			attrs[a.Key] = v
		}
		if attrs["http.route"] != "/api/authorize" || attrs["castellan.decision"] != "allowed" || attrs["castellan.policy_version"] == "" ||
			attrs["castellan.revision"] == "" || attrs["http.response.status_code"] == "" || attrs["castellan.caller"] != "dev" {
			t.Errorf("request span attributes: %v", attrs)
		}
		for k, v := range attrs {
			if bytes.Contains([]byte(k+v), []byte("reader")) {
				t.Errorf("a fact payload on the span: %s=%s", k, v)
			}
		}
		children := map[string]bool{}
		for _, s := range recv.spans {
			if bytes.Equal(s.ParentSpanId, root.SpanId) && bytes.Equal(s.TraceId, root.TraceId) {
				children[s.Name] = true
			}
		}
		got = append(got, strings.Join(slices.Sorted(maps.Keys(children)), ","))
	}
	// The request without OsoOffset has decode and evaluate children; the
	// one with store.wait too.
	slices.Sort(got)
	if want := []string{"decode,evaluate", "decode,evaluate,store.wait"}; !slices.Equal(got, want) {
		t.Errorf("children of the request spans %q, want %q", got, want)
	}
	if len(recv.services) == 0 || recv.services[0] != "castellan" {
		t.Errorf("service.name %v, want castellan", recv.services)
	}
}

// TestServeTracesFromConfig configures tracing in the config file's
// tracing section, with no OTEL_* variable: the collector gets the
// request's span under the configured service name; with the always_off
// sampler it gets none.
func TestServeTracesFromConfig(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	t.Setenv("OTEL_TRACES_SAMPLER", "")
	for _, tc := range []struct {
		sampler   string
		wantSpans bool
	}{{"always_on", true}, {"always_off", false}} {
		t.Run(tc.sampler, func(t *testing.T) {
			recv := &otlpReceiver{}
			collector := httptest.NewServer(recv)
			defer collector.Close()
			dir := t.TempDir()
			policyFile := filepath.Join(dir, "p.polar")
			if err := os.WriteFile(policyFile, []byte(servePolicy), 0o600); err != nil {
				t.Fatal(err)
			}
			config := filepath.Join(dir, "castellan.yaml")
			yaml := "tracing:\n  endpoint: " + collector.URL + "\n  service_name: authz-eu\n  sampler: " + tc.sampler + "\n"
			if err := os.WriteFile(config, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			rs := startServe(t, nil, "--config", config, "--policy", policyFile)
			if code := rs.post(t, "/api/authorize", map[string]any{"actor_type": "User", "actor_id": "a", "action": "read",
				"resource_type": "Doc", "resource_id": "d"}, nil); code != 200 {
				t.Fatalf("authorize: %d", code)
			}
			if err := rs.stop(); err != nil { // flushes the spans
				t.Fatalf("serve: %v\n%s", err, rs.log)
			}
			recv.mu.Lock()
			defer recv.mu.Unlock()
			found := false
			for _, s := range recv.spans {
				found = found || s.Name == "POST /api/authorize"
			}
			if found != tc.wantSpans {
				t.Fatalf("request span exported: %v, want %v (%d spans)", found, tc.wantSpans, len(recv.spans))
			}
			if tc.wantSpans && (len(recv.services) == 0 || recv.services[0] != "authz-eu") {
				t.Errorf("service.name %v, want authz-eu", recv.services)
			}
		})
	}
}

// TestTracingConfigErrors: tracing settings the server cannot use are
// usage errors that say which.
func TestTracingConfigErrors(t *testing.T) {
	none := func(string) string { return "" }
	for _, tc := range []struct {
		c    tracingConfig
		want string
	}{
		{tracingConfig{Sampler: "always_on"}, "without a collector"},
		{tracingConfig{Endpoint: "collector:4318"}, "not an http:// or https:// URL"},
		{tracingConfig{Endpoint: "http://c:4318", Protocol: "thrift"}, `"thrift" is not http/protobuf or grpc`},
		{tracingConfig{Endpoint: "http://c:4318", Sampler: "sometimes"}, `"sometimes" is not always_on`},
		{tracingConfig{Endpoint: "http://c:4318", SamplerArg: "1.5"}, "not a ratio from 0 to 1"},
	} {
		tr, err := startTracing(t.Context(), none, tc.c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error with %q", tc.c, err, tc.want)
		}
		if tr != nil {
			tr.shutdown()
		}
	}
	if tr, err := startTracing(t.Context(), none, tracingConfig{}); tr != nil || err != nil {
		t.Errorf("no collector configured: %v, %v; want tracing off", tr, err)
	}
}
