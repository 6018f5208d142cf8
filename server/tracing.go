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

// startRequestSpan starts the span of r (tracing is on) and returns r
// with it.
func (s *Server) startRequestSpan(r *http.Request) (*http.Request, trace.Span) {
	ctx := traceContext.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, span := s.tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path)))
	stateFrom(ctx).span = span
	return r.WithContext(ctx), span
}

// endRequestSpan names the request's span by its route and ends it.
func endRequestSpan(span trace.Span, method, route string, status int) {
	span.SetName(method + " " + route)
	span.SetAttributes(attribute.String("http.route", route), attribute.Int("http.response.status_code", status))
	if status >= 500 && status != http.StatusNotImplemented {
		span.SetStatus(codes.Error, strconv.Itoa(status))
	}
	span.End()
}

// childSpan starts a child span of the one in ctx; when the request is
// not traced it returns ctx and a span that does nothing.
func childSpan(ctx context.Context, name string) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, noSpan
	}
	return parent.TracerProvider().Tracer(tracerName).Start(ctx, name)
}

// traceDecision puts a decision on the request's span.
func traceDecision(span trace.Span, rec *audit.Record, policyVersion int64, revision uint64) {
	attrs := []attribute.KeyValue{
		attribute.Int64("castellan.policy_version", policyVersion),
		attribute.Int64("castellan.revision", int64(revision)),
	}
	if rec.Endpoint != "" {
		attrs = append(attrs, attribute.String("castellan.endpoint", rec.Endpoint))
	}
	if o := rec.Outcome(); o != "" {
		attrs = append(attrs, attribute.String("castellan.decision", o))
	} else if rec.Count != nil {
		attrs = append(attrs, attribute.Int("castellan.results", *rec.Count))
	}
	span.SetAttributes(attrs...)
}
