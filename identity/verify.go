package identity

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// Identity is who a verified token names. It is shared by the requests
// that present the same token: never modify it.
type Identity struct {
	// Type and ID make the actor Type{ID}: the issuer's actor type and
	// the token's sub.
	Type, ID string
	// Scope is what a caller token grants: "read", "write", "admin", or
	// "" when its scope claim grants no Castellan scope. Always "" for a
	// user token.
	Scope string
	// Claims are the issuer's configured claims the token carries, in the
	// configured order, one Claim per value (an array gives several).
	Claims []Claim
	// Issuer is the token's iss.
	Issuer string
	// Expires is the token's exp.
	Expires time.Time
}

// Claim is one value of a configured claim: a string, an int64 or a bool.
type Claim struct {
	Name  string
	Value any
}

// Checks a token may fail, as Error.Check names them.
const (
	CheckMalformed = "malformed"
	CheckIssuer    = "iss"
	CheckUse       = "use"
	CheckAlgorithm = "alg"
	CheckKey       = "kid"
	CheckSignature = "signature"
	CheckAudience  = "aud"
	CheckExpiry    = "exp"
	CheckNotBefore = "nbf"
	CheckSubject   = "sub"
)

// Error is a token that failed verification. Msg says which check failed;
// it never contains the token.
type Error struct {
	Check string
	Msg   string
}

func (e *Error) Error() string { return e.Msg }

func failed(check, format string, args ...any) *Error {
	return &Error{Check: check, Msg: fmt.Sprintf(format, args...)}
}

// Verifier verifies tokens against the configured issuers. It is safe
// for concurrent use.
type Verifier struct {
	issuers []*issuer
	callers tokenCache // verified caller tokens
	users   tokenCache // verified user tokens
	domains []TrustDomain
}

type issuer struct {
	cfg    Issuer
	keys   keyfunc.Keyfunc
	parser *jwt.Parser
}

// Option configures New.
type Option func(*options)

type options struct {
	client       *http.Client
	refreshError func(jwksURL string, err error)
}

// WithHTTPClient fetches the JWKS with c (default: a client with a 10s
// timeout).
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.client = c } }

// WithRefreshErrors reports each failed JWKS fetch to f (default: none;
// the issuer's tokens fail with a key error until a fetch succeeds).
func WithRefreshErrors(f func(jwksURL string, err error)) Option {
	return func(o *options) { o.refreshError = f }
}

// MaxCachedTokens bounds the verified-token cache.
const MaxCachedTokens = 10_000

// maxCacheLife bounds how long a verified token is trusted without a new
// signature check, so a key removed from the JWKS stops working soon.
const maxCacheLife = 5 * time.Minute

// New validates c and fetches each issuer's JWKS once (an issuer that
// cannot be reached is fetched again when a token needs it). The
// refreshes stop when ctx is done.
func New(ctx context.Context, c Config, opts ...Option) (*Verifier, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	o := options{client: &http.Client{Timeout: 10 * time.Second}}
	for _, opt := range opts {
		opt(&o)
	}
	v := &Verifier{callers: tokenCache{m: make(map[string]cached)}, users: tokenCache{m: make(map[string]cached)}, domains: c.TrustDomains}
	keysOf := make(map[string]keyfunc.Keyfunc) // one fetcher per JWKS URL
	for _, ic := range c.Issuers {
		ic = ic.withDefaults()
		kf, ok := keysOf[ic.JWKSURL]
		if !ok {
			var err error
			kf, err = newKeyfunc(ctx, ic, o)
			if err != nil {
				return nil, fmt.Errorf("identity issuer %s: %w", ic.Issuer, err)
			}
			keysOf[ic.JWKSURL] = kf
		}
		v.issuers = append(v.issuers, &issuer{
			cfg:  ic,
			keys: kf,
			parser: jwt.NewParser(
				jwt.WithValidMethods(ic.Algorithms),
				jwt.WithIssuer(ic.Issuer),
				jwt.WithAudience(ic.Audience),
				jwt.WithLeeway(ic.ClockSkew),
				jwt.WithExpirationRequired(),
			),
		})
	}
	return v, nil
}

func newKeyfunc(ctx context.Context, ic Issuer, o options) (keyfunc.Keyfunc, error) {
	noError := true
	return keyfunc.NewDefaultOverrideCtx(ctx, []string{ic.JWKSURL}, keyfunc.Override{
		Client:                    o.client,
		NoErrorReturnFirstHTTPReq: &noError,
		RefreshInterval:           ic.RefreshInterval,
		RefreshUnknownKID:         rate.NewLimiter(rate.Every(ic.MinRefreshInterval), 1),
		// A token with an unknown kid does not wait for the limiter: when a
		// refresh is not due within this bound, the limiter says so at once
		// and the token fails. (A bound of a millisecond made the due refresh
		// itself fail on a loaded machine: the deadline passed before the
		// limiter was asked.)
		RateLimitWaitMax: time.Second,
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			return func(_ context.Context, err error) {
				if o.refreshError != nil {
					o.refreshError(u, err)
				}
			}
		},
	})
}

// Configured reports whether any issuer of use u is configured.
func (v *Verifier) Configured(u Use) bool {
	if v == nil {
		return false
	}
	for _, i := range v.issuers {
		if i.cfg.Use == u {
			return true
		}
	}
	return false
}

// Verify verifies token as a token of use u and returns whom it names.
// A failure is an *Error; Verify never fails otherwise.
func (v *Verifier) Verify(ctx context.Context, token string, u Use) (*Identity, error) {
	now := time.Now()
	cache := &v.callers
	if u == UseUser {
		cache = &v.users
	}
	if id, ok := cache.get(token, now); ok {
		return id, nil
	}
	id, err := v.verify(ctx, token, u)
	if err != nil {
		return nil, err
	}
	cache.put(token, id, now)
	return id, nil
}

func (v *Verifier) verify(ctx context.Context, token string, u Use) (*Identity, error) {
	unverified, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	if err != nil {
		return nil, failed(CheckMalformed, "the token is not a well-formed JWT")
	}
	iss, _ := unverified.Claims.GetIssuer()
	is, err := v.issuerOf(iss, u)
	if err != nil {
		return nil, err
	}
	if alg := unverified.Method.Alg(); !slices.Contains(is.cfg.Algorithms, alg) {
		return nil, failed(CheckAlgorithm, "the token's algorithm %s is not allowed for its issuer (allowed: %s)", algName(alg), strings.Join(is.cfg.Algorithms, ", "))
	}
	claims := jwt.MapClaims{}
	if _, err := is.parser.ParseWithClaims(token, claims, is.keys.KeyfuncCtx(ctx)); err != nil {
		return nil, checkError(err, claims)
	}
	return is.identity(claims)
}

// issuerOf finds the issuer of use u whose iss is iss.
func (v *Verifier) issuerOf(iss string, u Use) (*issuer, error) {
	other := false
	for _, i := range v.issuers {
		if i.cfg.Issuer != iss {
			continue
		}
		if i.cfg.Use == u {
			return i, nil
		}
		other = true
	}
	if other {
		if u == UseCaller {
			return nil, failed(CheckUse, "the token is a user token (its issuer is configured with use: user); a caller authenticates with a caller token or an API key")
		}
		return nil, failed(CheckUse, "the on-behalf-of token is a caller token (its issuer is configured with use: caller); send the end user's token")
	}
	return nil, failed(CheckIssuer, "the token's issuer (iss) is not a trusted %s issuer", u)
}

// checkError names the check a verification error of a token with
// claims failed.
func checkError(err error, claims jwt.MapClaims) *Error {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return failed(CheckMalformed, "the token is not a well-formed JWT")
	case errors.Is(err, jwkset.ErrKeyNotFound):
		return failed(CheckKey, "no key of the issuer's JWKS matches the token's key id (kid)")
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return failed(CheckKey, "the token's signing key could not be found in the issuer's JWKS")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return failed(CheckSignature, "the token's signature is invalid")
	case errors.Is(err, jwt.ErrTokenExpired):
		return failed(CheckExpiry, "the token has expired (exp)")
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return failed(CheckNotBefore, "the token is not valid yet (nbf)")
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return failed(CheckAudience, "the token's audience (aud) does not include this server's")
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return failed(CheckIssuer, "the token's issuer (iss) is not trusted")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		for _, c := range []struct{ claim, check string }{{"aud", CheckAudience}, {"iss", CheckIssuer}, {"exp", CheckExpiry}} {
			if _, ok := claims[c.claim]; !ok {
				return failed(c.check, "the token has no %s claim", c.claim)
			}
		}
	}
	return failed(CheckMalformed, "the token's claims are invalid")
}

// algName is alg when it is a registered JWS algorithm name, else
// "(unknown)": a message never repeats arbitrary token content.
func algName(alg string) string {
	switch alg {
	case "none", "HS256", "HS384", "HS512":
		return alg
	}
	if slices.Contains(allowedAlgorithms, alg) {
		return alg
	}
	return "(unknown)"
}

// maxSubjectLen bounds a token's sub (it becomes an actor id).
const maxSubjectLen = 256

// identity builds the Identity of verified claims.
func (is *issuer) identity(claims jwt.MapClaims) (*Identity, error) {
	sub, _ := claims["sub"].(string)
	if sub == "" || len(sub) > maxSubjectLen {
		return nil, failed(CheckSubject, "the token's subject (sub) is missing, empty or longer than %d bytes", maxSubjectLen)
	}
	exp, _ := claims.GetExpirationTime()
	id := &Identity{Type: is.cfg.ActorType, ID: sub, Issuer: is.cfg.Issuer, Expires: exp.Time}
	if c := is.cfg.ActorTypeClaim; c != "" {
		if t, ok := claims[c].(string); ok && isTypeName(t) {
			id.Type = t
		}
	}
	if is.cfg.Use == UseCaller {
		id.Scope = scopeOf(claims[is.cfg.ScopeClaim])
	}
	for _, name := range is.cfg.Claims {
		raw, ok := claims[name]
		if !ok {
			continue
		}
		vals, isList := raw.([]any)
		if !isList {
			vals = []any{raw}
		}
		for _, x := range vals {
			if v, ok := claimValue(x); ok {
				id.Claims = append(id.Claims, Claim{Name: name, Value: v})
			}
		}
	}
	return id, nil
}

// scopeOf returns the largest Castellan scope a scope claim grants: a
// space-separated string or an array of castellan:read|write|admin.
func scopeOf(raw any) string {
	var scopes []string
	switch s := raw.(type) {
	case string:
		scopes = strings.Fields(s)
	case []any:
		for _, x := range s {
			if str, ok := x.(string); ok {
				scopes = append(scopes, str)
			}
		}
	}
	best := ""
	rank := map[string]int{"": 0, "read": 1, "write": 2, "admin": 3}
	for _, s := range scopes {
		name, ok := strings.CutPrefix(s, "castellan:")
		if r, known := rank[name]; ok && known && r > rank[best] {
			best = name
		}
	}
	return best
}

// claimValue converts one JSON claim value: strings, booleans and whole
// numbers (as int64); anything else is left out.
func claimValue(x any) (any, bool) {
	switch v := x.(type) {
	case string, bool:
		return v, true
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return int64(v), true
		}
	}
	return nil, false
}

// tokenCache holds verified tokens until they expire (at most
// maxCacheLife), so a caller reusing its token pays the signature check
// once. When full, expired entries are dropped, then everything.
type tokenCache struct {
	mu sync.RWMutex
	m  map[string]cached
}

type cached struct {
	id    *Identity
	until time.Time
}

func (c *tokenCache) get(key string, now time.Time) (*Identity, bool) {
	c.mu.RLock()
	e, ok := c.m[key]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return nil, false
	}
	return e.id, true
}

func (c *tokenCache) put(key string, id *Identity, now time.Time) {
	until := now.Add(maxCacheLife)
	if id.Expires.Before(until) {
		until = id.Expires
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= MaxCachedTokens {
		for k, e := range c.m {
			if !now.Before(e.until) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= MaxCachedTokens {
			clear(c.m)
		}
	}
	c.m[key] = cached{id: id, until: until}
}
