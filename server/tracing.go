package server

import (
	"context"
	"net/http"
	"strconv"

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
// the body ("decode"), waiting for the store ("store.snapshot") and
// evaluating ("evaluate"). Without it the server starts no span.
func WithTracing(tp trace.TracerProvider) Option {
	return func(s *Server) { s.tracer = tp.Tracer(tracerName) }
}

// traceContext reads the caller's traceparent and tracestate.
var traceContext = propagation.TraceContext{}

// noSpan is what childSpan returns when the request is not traced.
var noSpan = trace.SpanFromContext(context.Background())

// startRequestSpan starts the span of r (tracing is on), a child of the
// caller's traceparent, and returns ctx with it; st keeps it for the
// children and for its end.
func (s *Server) startRequestSpan(ctx context.Context, r *http.Request, st *reqState) context.Context {
	ctx = traceContext.Extract(ctx, propagation.HeaderCarrier(r.Header))
	ctx, st.span = s.tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer))
	st.tracer = s.tracer
	return ctx
}

// endRequestSpan names the request's span by its route, gives it its
// attributes (all at once: one call into the SDK) and ends it.
func endRequestSpan(st *reqState, method, route, path string, status int) {
	span := st.span
	if span == nil {
		return
	}
	span.SetName(method + " " + route)
	attrs := st.spanAttrs
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
		attribute.String("url.path", path),
		attribute.Int("http.response.status_code", status))
	span.SetAttributes(attrs...)
	if status >= 500 && status != http.StatusNotImplemented {
		span.SetStatus(codes.Error, strconv.Itoa(status))
	}
	span.End()
}

// childSpan starts a child span of the request's span in ctx; when the
// request is not traced (or not sampled) it returns ctx and a span that
// does nothing.
func childSpan(ctx context.Context, name string) (context.Context, trace.Span) {
	st, _ := ctx.Value(reqStateKey{}).(*reqState)
	if st == nil || st.tracer == nil || !st.span.IsRecording() {
		return ctx, noSpan
	}
	return st.tracer.Start(ctx, name)
}

// traceDecision keeps a decision's attributes for the request's span,
// which gets them when it ends.
func traceDecision(st *reqState, rec *audit.Record, policyVersion int64, revision uint64) {
	if !st.span.IsRecording() {
		return
	}
	attrs := append(st.spanAttrs[:0],
		attribute.Int64("castellan.policy_version", policyVersion),
		attribute.Int64("castellan.revision", int64(revision)))
	if rec.Endpoint != "" {
		attrs = append(attrs, attribute.String("castellan.endpoint", rec.Endpoint))
	}
	if o := rec.Outcome(); o != "" {
		attrs = append(attrs, attribute.String("castellan.decision", o))
	} else if rec.Count != nil {
		attrs = append(attrs, attribute.Int("castellan.results", *rec.Count))
	}
	st.spanAttrs = attrs
}
