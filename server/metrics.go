package server

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/castellan-authz/castellan/audit"
)

// metrics are the server's Prometheus metrics, on a registry of its own
// (no global registration).
type metrics struct {
	registry  *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	decisions *prometheus.CounterVec
	policy    *prometheus.CounterVec
	parity    *prometheus.CounterVec
	shadow    *prometheus.CounterVec

	authFailures    *prometheus.CounterVec
	authRateLimited *prometheus.CounterVec

	// The children of the vectors a request updates, taken once rather
	// than looked up by their label values on every request (hashing and
	// validating the values and a read lock, each time).
	decided [2][2]atomic.Pointer[prometheus.Counter] // [api: oso, authzen][allowed], from the first such decision
	served  sync.Map                                 // servedKey -> *servedMetrics
}

// Values of the api label of castellan_decisions_total.
const (
	apiOso     = "oso"
	apiAuthZEN = "authzen"
)

// servedKey names the children of one route, method and status.
type servedKey struct {
	route, method string
	status        int
}

// servedMetrics are the request counter and latency histogram of one
// servedKey.
type servedMetrics struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

// newMetrics registers the metrics. revision, policyVersion and lag are read
// when /metrics is scraped; lag may be nil when the store has no index to
// follow.
func newMetrics(revision, policyVersion func() float64, lag func() float64) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "castellan_http_requests_total",
			Help: "HTTP requests served, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "castellan_http_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by route pattern and method.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"route", "method"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "castellan_decisions_total",
			Help: "Authorization decisions, by result (allow or deny) and API (oso or authzen).",
		}, []string{"result", "api"}),
		policy: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "castellan_policy_loads_total",
			Help: "Policy loads (upload, --policy, --watch, rollback), by result (loaded, unchanged, rejected).",
		}, []string{"result"}),
		parity: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "castellan_parity_expectations_total",
			Help: "Expectations sent to /api/expect, by result: match, mismatch, or unknown (no remembered decision for the request id).",
		}, []string{"result"}),
		shadow: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "castellan_shadow_decisions_total",
			Help: "Authorize decisions evaluated under a shadow policy (castellan policy shadow), by result: same, different, dropped (queue full) or error.",
		}, []string{"result"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "castellan_auth_failures_total",
			Help: "Failed authentications, by reason: missing, malformed, unknown_key, wrong_secret, bad_token.",
		}, []string{"reason"}),
		authRateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "castellan_auth_rate_limited_total",
			Help: "Requests answered 429 by a failed-authentication limit, by what it was keyed by: client or key.",
		}, []string{"by"}),
	}
	for _, r := range []string{authMissing, authMalformed, authUnknownKey, authWrongSecret} {
		m.authFailures.WithLabelValues(r) // exported at 0 before the first failure
	}
	for _, by := range []string{limitByClient, limitByKey} {
		m.authRateLimited.WithLabelValues(by)
	}
	for _, r := range []string{"same", "different", "dropped", "error"} {
		m.shadow.WithLabelValues(r) // exported at 0 before the first shadow run
	}
	for _, r := range []string{parityMatch, parityMismatch, parityUnknown} {
		m.parity.WithLabelValues(r) // exported at 0 before the first expectation
	}
	m.registry.MustRegister(m.requests, m.latency, m.decisions, m.policy, m.parity, m.shadow, m.authFailures, m.authRateLimited,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "castellan_store_revision",
			Help: "The latest store revision this server has seen.",
		}, revision),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "castellan_policy_version",
			Help: "The version of the live policy (0: none).",
		}, policyVersion),
	)
	if lag != nil {
		m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "castellan_index_lag_revisions",
			Help: "How many revisions the in-memory index is behind the database.",
		}, lag))
	}
	return m
}

// handler serves /metrics.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// observe counts and times one request by its route pattern (not its
// path, so ids do not explode the label space).
func (m *metrics) observe(route, method string, status int, d time.Duration) {
	switch method {
	case http.MethodGet, http.MethodPost, http.MethodDelete, http.MethodPut, http.MethodPatch, http.MethodHead, http.MethodOptions:
	default:
		method = "other" // callers choose methods: keep the label space bounded
	}
	k := servedKey{route, method, status}
	sm, ok := m.served.Load(k)
	if !ok {
		sm, _ = m.served.LoadOrStore(k, &servedMetrics{
			requests: m.requests.WithLabelValues(route, method, strconv.Itoa(status)),
			latency:  m.latency.WithLabelValues(route, method),
		})
	}
	o := sm.(*servedMetrics)
	o.requests.Inc()
	o.latency.Observe(d.Seconds())
}

// decision counts one decision of api (apiOso or apiAuthZEN).
func (m *metrics) decision(allowed bool, api string) {
	i, a, result := 0, 0, "deny"
	if api == apiAuthZEN {
		i = 1
	}
	if allowed {
		a, result = 1, "allow"
	}
	c := m.decided[i][a].Load()
	if c == nil {
		child := m.decisions.WithLabelValues(result, api)
		c = &child
		m.decided[i][a].Store(c)
	}
	(*c).Inc()
}

// routePattern is the chi route pattern that served r, or "unmatched".
func routePattern(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil {
		if p := rc.RoutePattern(); p != "" {
			return p
		}
	}
	return "unmatched"
}

// registerWritable exports castellan_store_writable, read from writable
// when /metrics is scraped.
func (m *metrics) registerWritable(writable func() bool) {
	m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "castellan_store_writable",
		Help: "Whether writes can reach the store (its database): 1 yes, 0 during an outage. Reads are answered either way.",
	}, func() float64 {
		if writable() {
			return 1
		}
		return 0
	}))
}

// registerDecisionLog exports the decision log's counters, read from rec
// when /metrics is scraped: records written and dropped, and the buffer
// depth.
func (m *metrics) registerDecisionLog(rec *audit.Recorder) {
	m.registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "castellan_decision_log_written_total",
			Help: "Records (decisions and checkpoints) written to the decision log.",
		}, func() float64 { return float64(rec.Written()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "castellan_decision_log_dropped_total",
			Help: "Decision records dropped because the decision log's buffer was full (--audit-when-full drop).",
		}, func() float64 { return float64(rec.Dropped()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "castellan_decision_log_buffered",
			Help: "Decision records waiting in the decision log's buffer.",
		}, func() float64 { return float64(rec.Depth()) }),
	)
}
