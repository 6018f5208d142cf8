package identity

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Use is what an issuer's tokens are for.
type Use string

// Uses of an issuer's tokens.
const (
	// UseCaller tokens authenticate requests: the caller is the token's
	// subject, with the scope its scope claim grants.
	UseCaller Use = "caller"
	// UseUser tokens name the end user a caller acts for (on-behalf-of).
	UseUser Use = "user"
)

// Defaults of an Issuer's optional fields.
const (
	DefaultActorType          = "Service"
	DefaultUserActorType      = "User"
	DefaultScopeClaim         = "scope"
	DefaultClockSkew          = 30 * time.Second
	DefaultRefreshInterval    = time.Hour
	DefaultMinRefreshInterval = time.Minute
)

// allowedAlgorithms are the asymmetric signature algorithms an issuer may
// allow. HMAC (HS*) is refused: its key is a shared secret, and a JWKS
// publishes public keys, so an HMAC token "signed" with the public key
// would verify. "none" is refused always.
var allowedAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// Config is the identity configuration: the trusted issuers, and the
// workloads that authenticate with X.509 client certificates (mutual TLS)
// by their SPIFFE ID.
type Config struct {
	Issuers []Issuer
	// ClientCA is the PEM file of the certificate authorities a client
	// certificate must chain to (the SPIFFE trust bundle).
	ClientCA string
	// TrustDomains map the SPIFFE IDs of client certificates to callers.
	TrustDomains []TrustDomain
}

// Issuer is one trusted token issuer.
type Issuer struct {
	// Issuer must equal the token's iss.
	Issuer string
	// JWKSURL is where the issuer's public keys are fetched.
	JWKSURL string
	// Audience must be one of the token's aud.
	Audience string
	// Algorithms lists the signature algorithms accepted (asymmetric only).
	Algorithms []string
	// Use says whether the tokens authenticate callers or name users.
	Use Use
	// ActorType is the type of the actor the token's sub names (default
	// Service for callers, User for users).
	ActorType string
	// ActorTypeClaim, when set, names a claim whose value, when present,
	// is the actor type instead (e.g. "Agent" for AI agents).
	ActorTypeClaim string
	// ScopeClaim is the claim of a caller token holding its space-separated
	// scopes castellan:read, castellan:write, castellan:admin (default
	// "scope").
	ScopeClaim string
	// Claims are the claims that become has_claim facts.
	Claims []string
	// ClockSkew is the leeway on exp and nbf (default 30s).
	ClockSkew time.Duration
	// RefreshInterval is how often the JWKS is fetched again (default 1h).
	RefreshInterval time.Duration
	// MinRefreshInterval bounds the refreshes a token with an unknown key
	// id triggers: at most one per interval (default 1m).
	MinRefreshInterval time.Duration
}

// withDefaults returns i with its optional fields filled in.
func (i Issuer) withDefaults() Issuer {
	if i.Use == "" {
		i.Use = UseCaller
	}
	if i.ActorType == "" {
		i.ActorType = DefaultActorType
		if i.Use == UseUser {
			i.ActorType = DefaultUserActorType
		}
	}
	if i.ScopeClaim == "" {
		i.ScopeClaim = DefaultScopeClaim
	}
	if i.ClockSkew == 0 {
		i.ClockSkew = DefaultClockSkew
	}
	if i.RefreshInterval == 0 {
		i.RefreshInterval = DefaultRefreshInterval
	}
	if i.MinRefreshInterval == 0 {
		i.MinRefreshInterval = DefaultMinRefreshInterval
	}
	return i
}

// Validate reports every problem of the configuration, naming the issuer
// by its position (issuers[i]).
func (c Config) Validate() error {
	errs := c.validateSPIFFE()
	for n, i := range c.Issuers {
		at := fmt.Sprintf("identity.issuers[%d]", n)
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf(at+": "+format, args...))
		}
		if i.Issuer == "" {
			bad("issuer is required")
		}
		if u, err := url.Parse(i.JWKSURL); i.JWKSURL == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("jwks_url %q is not an absolute http(s) URL", i.JWKSURL)
		}
		if i.Audience == "" {
			bad("audience is required")
		}
		if len(i.Algorithms) == 0 {
			bad("algorithms is required (e.g. [RS256, ES256, EdDSA])")
		}
		for _, a := range i.Algorithms {
			if !slices.Contains(allowedAlgorithms, a) {
				bad("algorithm %q is not allowed; use %s (never none, never HMAC)", a, strings.Join(allowedAlgorithms, ", "))
			}
		}
		switch i.Use {
		case "", UseCaller, UseUser:
		default:
			bad("use %q is not caller or user", i.Use)
		}
		if i.ActorType != "" && !isTypeName(i.ActorType) {
			bad("actor_type %q is not a type name (e.g. Service, Agent, User)", i.ActorType)
		}
		if i.ClockSkew < 0 || i.ClockSkew > 10*time.Minute {
			bad("clock_skew %s is not between 0 and 10m", i.ClockSkew)
		}
		if i.RefreshInterval < 0 || i.MinRefreshInterval < 0 {
			bad("refresh intervals must not be negative")
		}
		for m, j := range c.Issuers[:n] {
			if j.Issuer == i.Issuer && j.withDefaults().Use == i.withDefaults().Use {
				bad("issuer %q with use %q is already identity.issuers[%d]", i.Issuer, i.withDefaults().Use, m)
			}
		}
	}
	return errors.Join(errs...)
}

// isTypeName reports whether s can be a Polar type name: a letter, then
// letters, digits or underscores.
func isTypeName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for n, r := range s {
		switch {
		case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case n > 0 && (r >= '0' && r <= '9' || r == '_'):
		default:
			return false
		}
	}
	return true
}
