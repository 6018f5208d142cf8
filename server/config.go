package server

import (
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"time"

	"github.com/castellan-authz/castellan/identity"
)

// Config is everything the server can be told. Build it with DefaultConfig,
// override fields (cmd/castellan does so from flags and CASTELLAN_* variables)
// and check it with Validate. Secrets (AdminKey) are never logged.
type Config struct {
	// Dev accepts requests that carry no API key, or the Oso dev-server test
	// token, with full (admin) scope. Never use it in production.
	Dev bool

	// AdminKey, when set, is accepted as an admin API key. It is hashed once
	// at start and compared in constant time.
	AdminKey string `json:"-"`

	// MaxBodyBytes bounds the size of a request body (413 beyond it).
	MaxBodyBytes int64
	// MaxBatchFacts bounds the number of facts (inserts plus delete
	// patterns) of one write request.
	MaxBatchFacts int
	// MaxContextFacts bounds the number of context facts of one request.
	MaxContextFacts int
	// MaxPageSize bounds the page size a list or search request may ask for.
	MaxPageSize int
	// QueryTimeout bounds the time one request may spend evaluating.
	QueryTimeout time.Duration
	// MaxInFlight bounds the number of requests served at once; beyond it
	// the server answers 429 at once (probes and /metrics excepted). Zero
	// means no limit.
	MaxInFlight int
	// ConsistencyTimeout bounds how long a read that sends OsoOffset waits
	// for the store to reach that revision (503 beyond it).
	ConsistencyTimeout time.Duration

	// AuthFailureRate is how many failed authentications per second a
	// client address may sustain, after a burst of AuthFailureBurst; beyond
	// them it is answered 429 (Retry-After) before its key is looked up.
	// Zero turns the per-client limit off.
	AuthFailureRate  float64
	AuthFailureBurst int
	// KeyFailureRate and KeyFailureBurst are the same limit per key id,
	// from any client: wrong secrets for one id beyond them get 429 (the
	// right secret still authenticates). Zero turns it off.
	KeyFailureRate  float64
	KeyFailureBurst int
	// AuthLimitEntries bounds the client addresses and the key ids each
	// whose failures are remembered (least recently failed dropped first).
	AuthLimitEntries int

	// TrustedProxies lists the proxies (CIDRs or addresses) whose
	// X-Forwarded-For and X-Forwarded-Proto headers, and the Host they
	// forward, are believed. Empty: none, the peer is the client.
	TrustedProxies []string

	// PublicURL is the base URL advertised in the AuthZEN metadata. When
	// empty it is the request's Host and X-Forwarded-Proto if the peer is
	// a trusted proxy, else the address of the listener that took the
	// connection.
	PublicURL string

	// MetricsAuth makes /metrics require an API key (any scope).
	MetricsAuth bool
	// Identity lists the trusted token issuers: callers may authenticate
	// with a JWT of a caller issuer and present the end user's token of a
	// user issuer (Castellan-On-Behalf-Of). Empty: API keys only.
	Identity identity.Config

	// MetricsSeparate leaves /metrics out of the API handler (404 there):
	// the caller serves MetricsHandler on a listener of its own
	// (castellan serve --metrics-addr).
	MetricsSeparate bool
}

// Default limits.
const (
	DefaultMaxBodyBytes       = 10 << 20
	DefaultMaxBatchFacts      = 100_000
	DefaultMaxContextFacts    = 1000
	DefaultMaxPageSize        = 100_000
	DefaultQueryTimeout       = 10 * time.Second
	DefaultConsistencyTimeout = 5 * time.Second
	// DefaultMaxInFlightPerCPU times GOMAXPROCS is the default MaxInFlight:
	// twice the concurrency past which throughput stopped growing and p99
	// kept climbing, measured on 2 cores (docs/benchmarks.md, "Choosing
	// --max-in-flight").
	DefaultMaxInFlightPerCPU = 32

	DefaultAuthFailureRate  = 1.0 // per second, per client address
	DefaultAuthFailureBurst = 20
	DefaultKeyFailureRate   = 0.1 // per second, per key id: one per 10 s
	DefaultKeyFailureBurst  = 10
	DefaultAuthLimitEntries = 10_000
)

// DefaultConfig returns the configuration `castellan serve` starts from:
// not dev mode, no admin key, the default limits (MaxInFlight scaled to
// GOMAXPROCS).
func DefaultConfig() Config {
	return Config{
		MaxBodyBytes:       DefaultMaxBodyBytes,
		MaxBatchFacts:      DefaultMaxBatchFacts,
		MaxContextFacts:    DefaultMaxContextFacts,
		MaxPageSize:        DefaultMaxPageSize,
		QueryTimeout:       DefaultQueryTimeout,
		ConsistencyTimeout: DefaultConsistencyTimeout,
		MaxInFlight:        DefaultMaxInFlightPerCPU * runtime.GOMAXPROCS(0),
		AuthFailureRate:    DefaultAuthFailureRate,
		AuthFailureBurst:   DefaultAuthFailureBurst,
		KeyFailureRate:     DefaultKeyFailureRate,
		KeyFailureBurst:    DefaultKeyFailureBurst,
		AuthLimitEntries:   DefaultAuthLimitEntries,
	}
}

// Validate reports every field that is out of range.
func (c Config) Validate() error {
	var errs []error
	if c.MaxBodyBytes <= 0 {
		errs = append(errs, fmt.Errorf("max body bytes must be positive, got %d", c.MaxBodyBytes))
	}
	if c.MaxBatchFacts <= 0 {
		errs = append(errs, fmt.Errorf("max batch facts must be positive, got %d", c.MaxBatchFacts))
	}
	if c.MaxContextFacts < 0 {
		errs = append(errs, fmt.Errorf("max context facts must not be negative, got %d", c.MaxContextFacts))
	}
	if c.MaxPageSize <= 0 {
		errs = append(errs, fmt.Errorf("max page size must be positive, got %d", c.MaxPageSize))
	}
	if c.QueryTimeout <= 0 {
		errs = append(errs, fmt.Errorf("query timeout must be positive, got %s", c.QueryTimeout))
	}
	if c.ConsistencyTimeout <= 0 {
		errs = append(errs, fmt.Errorf("consistency timeout must be positive, got %s", c.ConsistencyTimeout))
	}
	if c.MaxInFlight < 0 {
		errs = append(errs, fmt.Errorf("max in-flight requests must not be negative, got %d", c.MaxInFlight))
	}
	if c.AuthFailureRate < 0 || c.KeyFailureRate < 0 {
		errs = append(errs, fmt.Errorf("failed-authentication rates must not be negative, got %g and %g", c.AuthFailureRate, c.KeyFailureRate))
	}
	if (c.AuthFailureRate > 0 && c.AuthFailureBurst < 1) || (c.KeyFailureRate > 0 && c.KeyFailureBurst < 1) {
		errs = append(errs, fmt.Errorf("failed-authentication bursts must be at least 1, got %d and %d", c.AuthFailureBurst, c.KeyFailureBurst))
	}
	if (c.AuthFailureRate > 0 || c.KeyFailureRate > 0) && c.AuthLimitEntries < 1 {
		errs = append(errs, fmt.Errorf("auth limit entries must be at least 1, got %d", c.AuthLimitEntries))
	}
	if _, err := parseTrustedProxies(c.TrustedProxies); err != nil {
		errs = append(errs, err)
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("public URL %q is not an absolute http(s) URL", c.PublicURL))
		}
	}
	if err := c.Identity.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.AdminKey != "" && len(c.AdminKey) < 16 {
		errs = append(errs, errors.New("admin key must be at least 16 characters"))
	}
	return errors.Join(errs...)
}
