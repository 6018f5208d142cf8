package server

import (
	"context"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/castellan-authz/castellan/audit"
)

// tracerName is the instrumentation scope of Castellan's spans.
const tracerName = "github.com/castellan-authz/castellan/server"

// WithTracing traces every request with tp: a server span per request,
// a child of the caller's W3C traceparent when it sends one, named by its
// route and carrying its status and, for decisions, the result, policy
// version and store revision (never facts); with children for decoding
// the body ("decode"), evaluating ("evaluate") and, when a read names a
// revision (OsoOffset) this server has not seen yet, waiting for the
// store ("store.wait"). Without it the server starts no span.
func WithTracing(tp trace.TracerProvider) Option {
	return func(s *Server) { s.tracer = tp.Tracer(tracerName) }
}

// traceContext reads the caller's traceparent and tracestate.
var traceContext = propagation.TraceContext{}

// noSpan is what childSpan returns when the request is not traced.
var noSpan = trace.SpanFromContext(context.Background())

// serverSpan is the start option of a request's span, made once (making
// it allocates).
var serverSpan = trace.WithSpanKind(trace.SpanKindServer)

// maxSpanAttrs is the most attributes a request's span gets: the
// decision's three, caller, on-behalf-of, method, route, path, status.
const maxSpanAttrs = 9

// reqTrace is the tracing state of a request whose span records (is
// sampled); a request that is not sampled has none.
type reqTrace struct {
	span   trace.Span
	tracer trace.Tracer // for the children
	// attrs holds the span's attributes until it ends, when it gets them
	// all in one call; the first nDecision are the decision's.
	attrs     [maxSpanAttrs]attribute.KeyValue
	nDecision int
}

// tracedState is a sampled request's state and tracing state, allocated
// together.
type tracedState struct {
	reqState
	trace reqTrace
}

// routeKey names a route by method and pattern.
type routeKey struct{ method, pattern string }

// spanNames names the spans of the routes of h ("POST /api/authorize"),
// built once so that naming a request's span allocates nothing.
func spanNames(h chi.Routes) map[routeKey]string {
	names := map[routeKey]string{}
	_ = chi.Walk(h, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		names[routeKey{method, route}] = method + " " + route
		return nil
	})
	return names
}

// spanName is the name of the span of a request to route.
func (s *Server) spanName(method, route string) string {
	if n, ok := s.spanNames[routeKey{method, route}]; ok {
		return n
	}
	return method + " " + route
}

// startRequestSpan starts the span of r (tracing is on), a child of the
// caller's traceparent, and returns the request's state (with its
// tracing state when the span records) and ctx with the span.
func (s *Server) startRequestSpan(ctx context.Context, r *http.Request) (context.Context, *reqState) {
	if _, ok := r.Header["Traceparent"]; ok {
		// Only then: reading the header by its lower-case name, as the
		// propagator does, allocates its canonical name.
		ctx = traceContext.Extract(ctx, propagation.HeaderCarrier(r.Header))
	}
	ctx, span := s.tracer.Start(ctx, r.Method, serverSpan)
	if !span.IsRecording() {
		return ctx, &reqState{}
	}
	ts := &tracedState{trace: reqTrace{span: span, tracer: s.tracer}}
	ts.reqState.trace = &ts.trace
	return ctx, &ts.reqState
}

// endRequestSpan names the request's span by its route, gives it its
// attributes (all at once: one call into the SDK) and ends it.
func (s *Server) endRequestSpan(st *reqState, method, route, path string, status int) {
	t := st.trace
	if t == nil {
		return
	}
	t.span.SetName(s.spanName(method, route))
	attrs := t.attrs[:t.nDecision]
	if st.caller.ID != "" {
		// Who asked (an API key's id or a verified identity, never a
		// secret), and for whom.
		attrs = append(attrs, attribute.String("castellan.caller", st.caller.ID))
	}
	if st.onBehalfOf != nil {
		attrs = append(attrs, attribute.String("castellan.on_behalf_of", st.onBehalfOf.Type+":"+st.onBehalfOf.ID))
	}
	attrs = append(attrs,
		attribute.String("http.request.method", method),
		attribute.String("http.route", route),
		attribute.Int("http.response.status_code", status))
	if path != route {
		// A route with parameters: the path says which (a static route's
		// path is its route, said once).
		attrs = append(attrs, attribute.String("url.path", path))
	}
	t.span.SetAttributes(attrs...)
	if status >= 500 && status != http.StatusNotImplemented {
		t.span.SetStatus(codes.Error, strconv.Itoa(status))
	}
	t.span.End()
}

// childSpan starts a child span of the request's span in ctx; when the
// request is not traced (or not sampled) it returns ctx and a span that
// does nothing.
func childSpan(ctx context.Context, name string) (context.Context, trace.Span) {
	st, _ := ctx.Value(reqStateKey{}).(*reqState)
	if st == nil || st.trace == nil {
		return ctx, noSpan
	}
	return st.trace.tracer.Start(ctx, name)
}

// traceDecision keeps a decision's attributes for the request's span,
// which gets them when it ends (the last decision's, should a request
// record several).
func traceDecision(t *reqTrace, rec *audit.Record, policyVersion int64, revision uint64) {
	t.attrs[0] = attribute.Int64("castellan.policy_version", policyVersion)
	t.attrs[1] = attribute.Int64("castellan.revision", int64(revision))
	t.nDecision = 2
	if o := rec.Outcome(); o != "" {
		t.attrs[2] = attribute.String("castellan.decision", o)
		t.nDecision = 3
	} else if rec.Count != nil {
		t.attrs[2] = attribute.Int("castellan.results", *rec.Count)
		t.nDecision = 3
	}
}
