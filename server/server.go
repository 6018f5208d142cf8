package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/castellan-authz/castellan/audit"
	"github.com/castellan-authz/castellan/evaluator"
	"github.com/castellan-authz/castellan/identity"
	"github.com/castellan-authz/castellan/policy"
	"github.com/castellan-authz/castellan/shadow"
	"github.com/castellan-authz/castellan/store"
)

// Server is Castellan's HTTP API. It is an http.Handler; the caller owns
// the listener and shutdown. Create it with New.
type Server struct {
	cursors  *evaluator.Cursors // the suspended walks of paged lists (authorize.go)
	bigLists chan struct{}      // a turn to stream a long list (authorize.go)
	cfg      Config
	store    store.Backend  // facts, policy versions and API keys
	follower store.Follower // nil unless the store follows a database
	policies *policy.Manager
	log      zerolog.Logger
	now      func() time.Time

	adminHash []byte             // SHA-256 of Config.AdminKey, nil when none
	ids       *identity.Verifier // nil when no issuer is configured

	revision   atomic.Uint64 // latest revision seen (metrics)
	inflight   chan struct{} // nil when MaxInFlight is 0
	proxies    trustedProxies
	authLimits *authLimiter

	metrics   *metrics
	decisions *decisionLog        // recent authorize decisions, for /api/expect
	bindings  bindingsCache       // parsed data-bindings files, for local authorization
	recorder  *audit.Recorder     // the decision log (audit.go); nil when off
	tracer    trace.Tracer        // tracing.go; nil when off
	spanNames map[routeKey]string // tracing.go; the routes' span names when tracing
	auditCfg  DecisionLog
	handler   http.Handler

	shadowRun atomic.Pointer[shadow.Runner] // preview.go; nil when no shadow run
}

// Option configures a Server.
type Option func(*Server)

// WithLogger sets the logger (default: a disabled logger). Access logs go
// to it at info level, failures at error level.
func WithLogger(l zerolog.Logger) Option { return func(s *Server) { s.log = l } }

// WithClock sets the clock used for created_at stamps (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithFollower reports on f, the store's index following a database (store/postgres):
// /readyz answers 503 until it is ready and reports whether writes can
// reach the database, and /metrics exports its lag and write availability.
func WithFollower(f store.Follower) Option { return func(s *Server) { s.follower = f } }

// New returns a server on st, which keeps its facts, policy versions and API
// keys. It loads the store's live policy (see policy.NewManager); a live
// policy that no longer compiles is an error.
func New(ctx context.Context, cfg Config, st store.Backend, opts ...Option) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	s := &Server{
		cfg:   cfg,
		store: st,
		log:   zerolog.Nop(),
		now:   time.Now,

		decisions: newDecisionLog(parityWindow),
		cursors:   evaluator.NewCursors(listCursors, listCursorIDs, listCursorTTL),
		bigLists:  make(chan struct{}, bigLists()),
	}
	for _, o := range opts {
		o(s)
	}
	if cfg.AdminKey != "" {
		s.adminHash = hashSecret(cfg.AdminKey)
	}
	if cfg.MaxInFlight > 0 {
		s.inflight = make(chan struct{}, cfg.MaxInFlight)
	}
	s.proxies, _ = parseTrustedProxies(cfg.TrustedProxies) // Validate checked them
	s.authLimits = newAuthLimiter(cfg)
	if len(cfg.Identity.Issuers) > 0 || len(cfg.Identity.TrustDomains) > 0 {
		ids, err := identity.New(ctx, cfg.Identity, identity.WithRefreshErrors(func(u string, err error) {
			s.log.Error().Err(err).Str("jwks_url", u).Msg("fetching an issuer's JWKS failed: its tokens with new key ids fail until a fetch succeeds")
		}))
		if err != nil {
			return nil, fmt.Errorf("identity: %w", err)
		}
		s.ids = ids
	}
	var lag func() float64
	if s.follower != nil {
		lag = func() float64 { return float64(s.follower.Lag()) }
	}
	s.metrics = newMetrics(
		func() float64 { return float64(s.revision.Load()) },
		func() float64 {
			if s.policies != nil {
				return float64(s.policies.Live().Version())
			}
			return 0
		},
		lag,
	)
	s.metrics.registerWritable(s.Writable)
	if s.recorder != nil {
		s.metrics.registerDecisionLog(s.recorder)
	}
	policies, err := policy.NewManager(ctx, st, policy.WithLogger(s.log), policy.WithFacts(st), policy.WithObserver(func(o policy.Outcome) {
		s.metrics.policy.WithLabelValues(string(o)).Inc()
	}))
	if err != nil {
		return nil, err
	}
	s.policies = policies
	if head, err := st.Head(ctx); err == nil {
		s.seeRevision(head)
	}
	if s.handler, err = s.routes(); err != nil {
		return nil, err
	}
	return s, nil
}

// Policies returns the policy lifecycle the server answers under: the
// --policy file watcher loads files through it, and replicas on one
// database follow each other with its Follow.
func (s *Server) Policies() *policy.Manager { return s.policies }

// MetricsHandler serves the Prometheus metrics on a listener of its own
// (castellan serve --metrics-addr); with MetricsAuth it asks for an API
// key of any scope. The API handler serves them on /metrics unless
// MetricsSeparate.
func (s *Server) MetricsHandler() http.Handler { return s.requestContext(s.metricsHandler()) }

// metricsHandler is /metrics behind the API's middleware.
func (s *Server) metricsHandler() http.Handler {
	h := s.metrics.handler()
	if !s.cfg.MetricsAuth {
		return h
	}
	return s.require(ScopeRead)(h)
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Ready reports whether the server can answer reads at a known revision:
// the store is open and, for a store that follows a database, its index
// is loaded. It stays ready while the database is unreachable, since reads
// are then answered from the index; Writable tells whether writes can be.
func (s *Server) Ready(ctx context.Context) error {
	_, err := s.readyAt(ctx)
	return err
}

// readyAt is Ready, with the revision reads are answered at.
func (s *Server) readyAt(ctx context.Context) (store.Revision, error) {
	if s.follower != nil && !s.follower.Ready() {
		return 0, errors.New("store index not loaded")
	}
	snap, err := s.store.Snapshot(ctx, store.Consistency{})
	if err != nil {
		return 0, fmt.Errorf("store: %w", err)
	}
	return snap.Revision(), nil
}

// Writable reports whether writes can reach the store: always for a store
// without a database behind it, else as its follower last saw the database
// (no I/O; see store.Follower.Writable).
func (s *Server) Writable() bool { return s.follower == nil || s.follower.Writable() }

// seeRevision records rev as seen (for the revision metric).
func (s *Server) seeRevision(rev uint64) {
	for {
		cur := s.revision.Load()
		if rev <= cur || s.revision.CompareAndSwap(cur, rev) {
			return
		}
	}
}

// routes builds the router. Middleware order: the request id first (so
// every log line and error carries it), then the logger, access log and
// metrics, then panic recovery (answering with the envelope), the
// in-flight limit and the body size limit; authentication is per route group.
func (s *Server) routes() (http.Handler, error) {
	r := chi.NewRouter()
	r.Use(s.requestContext, s.observe, recoverer, s.limitInFlight, s.limitBody)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, errorf(http.StatusNotFound, codeNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, errorf(http.StatusMethodNotAllowed, codeMethodNotAllowed, "method %s is not allowed on %s", r.Method, r.URL.Path))
	})

	// Unauthenticated: probes, discovery and, unless MetricsAuth,
	// metrics (absent with MetricsSeparate).
	for _, m := range []string{http.MethodGet, http.MethodHead} { // load balancers probe with either
		r.Method(m, "/healthz", http.HandlerFunc(s.handleHealthz))
		r.Method(m, "/readyz", http.HandlerFunc(s.handleReadyz))
		r.Method(m, "/api/healthcheck", http.HandlerFunc(s.handleHealthz))
	}
	if !s.cfg.MetricsSeparate {
		r.Method(http.MethodGet, "/metrics", s.metricsHandler())
	}
	r.Get("/.well-known/authzen-configuration", s.handleAuthzenConfig)
	if err := s.routeBrowser(r); err != nil { // openapi.go
		return nil, err
	}

	r.Group(func(r chi.Router) {
		r.Use(s.require(ScopeRead))
		r.Get("/api/policy", s.handleGetPolicy)
		r.Get("/api/policy_metadata", s.handlePolicyMetadata)
		r.Get("/api/facts", s.handleGetFacts)
		r.Get("/api/stats", s.handleStats)
		r.Post("/api/authorize", s.handleAuthorize)
		r.Post("/api/authorize_resources", s.handleAuthorizeResources)
		r.Post("/api/list", s.handleList)
		r.Post("/api/actions", s.handleActions)
		r.Post("/api/bulk_actions", s.handleBulkActions)
		r.Post("/api/query", s.handleQueryV1)
		r.Post("/api/evaluate_query", s.handleEvaluateQuery)
		r.Post("/api/expect", s.handleExpect)
		r.Get(routeExport, s.handleExport) // stream.go
		s.routeLocal(r)                    // local.go

		r.Post("/access/v1/evaluation", s.handleEvaluation)
		r.Post("/access/v1/evaluations", s.handleEvaluations)
		r.Post("/access/v1/search/subject", s.handleSearchSubject)
		r.Post("/access/v1/search/resource", s.handleSearchResource)
		r.Post("/access/v1/search/action", s.handleSearchAction)
	})
	r.Group(func(r chi.Router) {
		r.Use(s.require(ScopeWrite))
		r.Post("/api/batch", s.handleBatch)
		r.Post("/api/facts", s.handleInsertFact)
		r.Delete("/api/facts", s.handleDeleteFact)
		r.Post("/api/bulk_load", s.handleBulkLoad)
		r.Post("/api/bulk_delete", s.handleBulkDelete)
		r.Post("/api/bulk", s.handleBulk)
		r.Post("/api/clear_data", s.handleClearData)
		r.Post(routeImport, s.handleImport) // stream.go
	})
	r.Group(func(r chi.Router) {
		r.Use(s.require(ScopeAdmin))
		r.Post("/api/policy", s.handleUploadPolicy)
		r.Post("/api/policy/validate", s.handleValidatePolicy)
		r.Post("/api/policy/preview", s.handlePreviewPolicy)    // preview.go
		r.Post("/admin/v1/policy/shadow", s.handleStartShadow)  // preview.go
		r.Get("/admin/v1/policy/shadow", s.handleShadowStatus)  // preview.go
		r.Delete("/admin/v1/policy/shadow", s.handleStopShadow) // preview.go
		r.Get("/admin/v1/policies", s.handlePolicyHistory)
		r.Get("/admin/v1/policies/{version}", s.handleGetPolicyVersion)
		r.Post("/admin/v1/policies/{version}/activate", s.handleActivatePolicy)
		r.Post("/admin/v1/keys", s.handleCreateKey)
		r.Get("/admin/v1/keys", s.handleListKeys)
		r.Get("/admin/v1/decisions", s.handleDecisions)
		r.Delete("/admin/v1/keys/{id}", s.handleDeleteKey)
		r.Get(routeBackup, s.handleBackup)    // backup.go
		r.Post(routeRestore, s.handleRestore) // backup.go
	})
	if s.tracer != nil {
		s.spanNames = spanNames(r)
	}
	return r, nil
}

// reqState is what the middleware learns about a request as it goes: its
// id and, once authenticated, its caller. One pointer on the context,
// so later middleware fills it in without copying the request again.
type reqState struct {
	// Context is the request's context before the state: the state is the
	// context the handlers see (Value finds the state itself under
	// reqStateKey), one allocation for both.
	context.Context
	id         string
	caller     caller
	onBehalfOf *identity.Identity // the verified end user, nil when none
	// start and path are set with a decision log, for its records.
	start time.Time
	path  string
	// trace is the request's tracing state when tracing is on and the
	// request is sampled (tracing.go), nil otherwise.
	trace *reqTrace
	// idHeader is the X-Request-ID response header's value.
	idHeader [1]string
	// log is the server's logger (requestLog adds the request id to it
	// when a line is logged, so that a request logging nothing but its
	// access line builds no logger).
	log *zerolog.Logger
	// resp is the response as observe wraps it.
	resp respWriter
	rnd  [16]byte // the random bytes of a request id made here
}

// Value returns the state itself for reqStateKey, else the value of the
// context underneath.
func (st *reqState) Value(key any) any {
	if _, ok := key.(reqStateKey); ok {
		return st
	}
	return st.Context.Value(key)
}

// respWriter records the status and size of an answer, for observe's
// access line and metrics (as chi's middleware.WrapResponseWriter did,
// without its two allocations per request): the first status written
// counts (1xx informational answers pass through), later WriteHeader
// calls are dropped, and a Write or Flush before any means 200.
// Unwrap gives http.ResponseController the connection's writer.
type respWriter struct {
	http.ResponseWriter
	status int // 0 until written
	bytes  int
}

func (w *respWriter) WriteHeader(code int) {
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	if w.status == 0 {
		w.status = code
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *respWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// FlushError flushes what was written to the client (for
// http.ResponseController).
func (w *respWriter) FlushError() error {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Flush is FlushError for callers that look for an http.Flusher.
func (w *respWriter) Flush() { _ = w.FlushError() }

// Unwrap returns the writer underneath.
func (w *respWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// requestLog returns the logger of r's lines: the server's, with the
// request id (one that discards outside the router).
func requestLog(r *http.Request) *zerolog.Logger {
	st := stateFrom(r.Context())
	if st.log == nil {
		l := zerolog.Nop()
		return &l
	}
	l := st.log.With().Str("request_id", st.id).Logger()
	return &l
}

type reqStateKey struct{}

// stateFrom returns the request's state (an empty one outside the router).
func stateFrom(ctx context.Context) *reqState {
	if st, ok := ctx.Value(reqStateKey{}).(*reqState); ok {
		return st
	}
	return &reqState{}
}

// requestContext echoes the caller's X-Request-ID (when it is sane) or
// makes one, sets it on the response, and gives the request its state
// (whose logger, requestLog, names the id).
func (s *Server) requestContext(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		var st *reqState
		if s.tracer != nil {
			ctx, st = s.startRequestSpan(ctx, r)
		} else {
			st = &reqState{}
		}
		id := headerValue(r.Header, "X-Request-Id")
		if !validRequestID(id) {
			_, _ = rand.Read(st.rnd[:])
			id = hex.EncodeToString(st.rnd[:])
		}
		st.id, st.log = id, &s.log
		st.idHeader[0] = id
		w.Header()["X-Request-Id"] = st.idHeader[:] // X-Request-ID, canonical, without allocating
		if s.recorder != nil {
			st.start, st.path = time.Now(), r.URL.Path
		}
		st.Context = ctx // the request's context is its state (see reqState.Value)
		next.ServeHTTP(w, r.WithContext(st))
	})
}

// headerValue is h.Get(key) for a key in canonical form (Header.Get
// allocates to canonicalize one that is not, such as "X-Request-ID" or
// "OsoOffset", on every request).
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// validRequestID accepts up to 128 printable ASCII characters.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// observe logs one access line per request (route pattern, method,
// status, latency, bytes; the request id is on the logger; never keys or
// bodies) and records the request's metrics, around one response wrapper.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		st := stateFrom(r.Context())
		ww := &st.resp // one allocation with the state
		ww.ResponseWriter = w
		next.ServeHTTP(ww, r)
		d := time.Since(start)
		status := ww.status
		if status == 0 {
			status = http.StatusOK
		}
		route := routePattern(r)
		s.metrics.observe(route, r.Method, status, d)
		if s.tracer != nil {
			s.endRequestSpan(st, r.Method, route, r.URL.Path, status)
		}
		level := zerolog.InfoLevel
		if status >= 500 && status != http.StatusNotImplemented {
			level = zerolog.WarnLevel
		}
		ev := s.log.WithLevel(level)
		if ev == nil {
			return
		}
		ev = ev.Str("request_id", st.id)
		if p := st.caller.ID; p != "" {
			ev = ev.Str("caller", p)
		}
		ev.Str("method", r.Method).
			Str("route", route).
			Str("path", r.URL.Path).
			Int("status", status).
			Int("bytes", ww.bytes).
			Dur("latency", d).
			Msg("request")
	})
}

// recoverer turns a panic in a handler into a 500 envelope (logged with
// the request id) instead of a dropped connection.
func recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				writeError(w, r, fmt.Errorf("panic: %v", p))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// limitInFlight answers 429 when MaxInFlight requests are being served.
// Probes and metrics are never shed (nor counted): an overloaded server
// must not look dead to its orchestrator, nor go dark to its monitoring.
func (s *Server) limitInFlight(next http.Handler) http.Handler {
	if s.inflight == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz", "/readyz", "/api/healthcheck", "/metrics":
			next.ServeHTTP(w, r)
			return
		}
		select {
		case s.inflight <- struct{}{}:
			defer func() { <-s.inflight }()
			next.ServeHTTP(w, r)
		default:
			writeError(w, r, &apiError{Status: http.StatusTooManyRequests, Code: codeTooManyRequests, RetryAfter: 1,
				Message: fmt.Sprintf("too many requests in flight: the limit is %d (--max-in-flight)", s.cfg.MaxInFlight)})
		}
	})
}

// limitBody caps every request body at MaxBodyBytes, except the streamed
// bodies of import and restore, which are bounded per line (stream.go).
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if streamed(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > s.cfg.MaxBodyBytes {
			writeError(w, r, &http.MaxBytesError{Limit: s.cfg.MaxBodyBytes})
			return
		}
		if r.ContentLength < 0 {
			// A body of unknown length (chunked) is cut at the limit; one
			// with a Content-Length within it is never read past it.
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, message{Message: "ok"})
}

// readiness is the body of a ready /readyz.
type readiness struct {
	Message string `json:"message"`
	// Writes reports whether writes can reach the store now.
	Writes bool `json:"writes"`
	// Revision is the revision reads are answered at.
	Revision uint64 `json:"revision"`
}

// handleReadyz answers 200 while reads can be answered at a known revision,
// database outage included, so that a load balancer does not pull every
// replica at once; with ?writes=1 (or true) it answers 503 also while
// writes cannot reach the store.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	rev, err := s.readyAt(r.Context())
	if err != nil {
		writeError(w, r, &apiError{Status: http.StatusServiceUnavailable, Code: codeUnavailable, Message: "not ready: " + err.Error(), Err: err})
		return
	}
	writable := s.Writable()
	if q := r.URL.Query().Get("writes"); (q == "1" || q == "true") && !writable {
		writeError(w, r, &apiError{Status: http.StatusServiceUnavailable, Code: codeUnavailable,
			Message: fmt.Sprintf("not ready for writes: the database is unreachable (reads are answered at revision %d)", rev)})
		return
	}
	writeJSON(w, http.StatusOK, readiness{Message: "ready", Writes: writable, Revision: rev})
}

// snapshot returns the snapshot a read is answered from: at least the
// revision of the request's OsoOffset header, if any, when the store has
// that revision, At the instant the server's clock reads now (read once:
// the whole request sees the same facts hold; see store.Snapshot.At).
func (s *Server) snapshot(r *http.Request) (store.Snapshot, error) {
	snap, err := s.storedSnapshot(r)
	if err != nil {
		return nil, err
	}
	return snap.At(s.now()), nil
}

// storedSnapshot is snapshot without the instant: every stored fact,
// whatever its validity window (backups and exports).
func (s *Server) storedSnapshot(r *http.Request) (store.Snapshot, error) {
	var c store.Consistency
	if h := strings.TrimSpace(headerValue(r.Header, "Osooffset")); h != "" { // OsoOffset
		rev, err := strconv.ParseUint(h, 10, 64)
		if err != nil {
			return nil, badRequest("OsoOffset header: %q is not a revision (a decimal number returned by a write)", h)
		}
		c.AtLeast = rev
	}
	ctx := r.Context()
	// wait is the span of a wait for the store (tracing.go): only a read
	// that names a revision this server has not seen asks the store for
	// its head and may wait for it; the others take the latest snapshot
	// at once and get no span.
	wait := noSpan
	if want := c.AtLeast; want > s.revision.Load() {
		if s.tracer != nil {
			ctx, wait = childSpan(ctx, "store.wait")
			wait.SetAttributes(attribute.Int64("castellan.offset", int64(want)))
		}
		// A revision this server has not seen: another replica's write
		// (wait for it), or one the store never reached, such as an offset
		// from before an in-memory server restarted (waiting would never
		// end: answer at the latest revision).
		if head, err := s.store.Head(ctx); err == nil && head < c.AtLeast {
			requestLog(r).Debug().Uint64("offset", c.AtLeast).Uint64("head", head).Msg("OsoOffset is ahead of the store: answering at the latest revision")
			c.AtLeast = 0
		}
	}
	if c.AtLeast > s.revision.Load() {
		// Only a read that names a revision this server has not seen yet
		// may wait for it.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.ConsistencyTimeout)
		defer cancel()
	}
	snap, err := s.store.Snapshot(ctx, c)
	if wait.IsRecording() {
		if err != nil {
			wait.SetStatus(codes.Error, err.Error())
		} else {
			wait.SetAttributes(attribute.Int64("castellan.revision", int64(snap.Revision())))
		}
		wait.End()
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil {
			err = fmt.Errorf("%w: %w", store.ErrRevisionUnavailable, err)
		}
		return nil, err
	}
	s.seeRevision(snap.Revision())
	return snap, nil
}

// setOffset sets the OsoOffset header of a write's response.
func (s *Server) setOffset(w http.ResponseWriter, rev uint64) {
	s.seeRevision(rev)
	w.Header().Set("OsoOffset", strconv.FormatUint(rev, 10))
}
