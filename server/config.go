package server

import (
	"errors"
	"fmt"
	"time"
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
	// the server answers 429 at once. Zero means no limit.
	MaxInFlight int
	// ConsistencyTimeout bounds how long a read that sends OsoOffset waits
	// for the store to reach that revision (503 beyond it).
	ConsistencyTimeout time.Duration

	// PublicURL is the base URL advertised in the AuthZEN metadata. When
	// empty it is derived from each request (Host, X-Forwarded-Proto).
	PublicURL string
}

// Default limits.
const (
	DefaultMaxBodyBytes       = 10 << 20
	DefaultMaxBatchFacts      = 100_000
	DefaultMaxContextFacts    = 1000
	DefaultMaxPageSize        = 100_000
	DefaultQueryTimeout       = 10 * time.Second
	DefaultConsistencyTimeout = 5 * time.Second
)

// DefaultConfig returns the configuration `castellan serve` starts from:
// not dev mode, no admin key, the default limits.
func DefaultConfig() Config {
	return Config{
		MaxBodyBytes:       DefaultMaxBodyBytes,
		MaxBatchFacts:      DefaultMaxBatchFacts,
		MaxContextFacts:    DefaultMaxContextFacts,
		MaxPageSize:        DefaultMaxPageSize,
		QueryTimeout:       DefaultQueryTimeout,
		ConsistencyTimeout: DefaultConsistencyTimeout,
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
	if c.AdminKey != "" && len(c.AdminKey) < 16 {
		errs = append(errs, errors.New("admin key must be at least 16 characters"))
	}
	return errors.Join(errs...)
}
