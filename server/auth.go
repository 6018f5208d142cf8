package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/castellan-authz/castellan/store"
)

// principal is who made a request: an API key (by id), the --admin-key,
// or anyone in dev mode.
type principal struct {
	ID    string
	Scope Scope
}

// Principal ids of the callers that are not stored keys.
const (
	principalDev      = "dev"
	principalAdminKey = "admin-key"
)

// principalFrom returns the principal require found for the request.
func principalFrom(ctx context.Context) principal { return stateFrom(ctx).principal }

// require authenticates the request and checks that its principal has at
// least scope need: no or unknown key → 401, too small a scope → 403.
func (s *Server) require(need Scope) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, err := s.authenticate(r)
			if err != nil {
				writeError(w, r, err)
				return
			}
			if !p.Scope.Allows(need) {
				writeError(w, r, errorf(http.StatusForbidden, codeForbidden,
					"this API key has scope %q; %s %s needs scope %q", p.Scope, r.Method, r.URL.Path, need))
				return
			}
			stateFrom(r.Context()).principal = p
			next.ServeHTTP(w, r)
		})
	}
}

// authenticate finds the principal of r from its bearer token. Failures
// are counted and limited per client and per key id (ratelimit.go): a
// client over its limit is refused before its key is looked up.
func (s *Server) authenticate(r *http.Request) (principal, error) {
	if err := s.checkClient(r); err != nil {
		return principal{}, err
	}
	token, err := bearerToken(r)
	if err != nil {
		return principal{}, s.authFailed(r, authMalformed, "", err)
	}
	if token == "" || token == DevToken {
		if s.cfg.Dev {
			return principal{ID: principalDev, Scope: ScopeAdmin}, nil
		}
		if token == "" {
			return principal{}, s.authFailed(r, authMissing, "", errorf(http.StatusUnauthorized, codeUnauthenticated, "missing API key: send Authorization: Bearer <key>"))
		}
	}
	if s.adminHash != nil && hashMatches(token, s.adminHash) {
		return principal{ID: principalAdminKey, Scope: ScopeAdmin}, nil
	}
	id, secret, ok := splitKey(token)
	if !ok {
		return principal{}, s.authFailed(r, authMalformed, "", errorf(http.StatusUnauthorized, codeUnauthenticated, "invalid API key"))
	}
	k, err := s.lookupKey(r.Context(), id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return principal{}, s.authFailed(r, authUnknownKey, id, errorf(http.StatusUnauthorized, codeUnauthenticated, "invalid API key"))
		}
		return principal{}, err
	}
	if subtle.ConstantTimeCompare(hashSecret(secret), k.hash) != 1 {
		return principal{}, s.authFailed(r, authWrongSecret, id, errorf(http.StatusUnauthorized, codeUnauthenticated, "invalid API key"))
	}
	return principal{ID: id, Scope: k.scope}, nil
}

// bearerToken returns the token of the Authorization header ("" when
// there is none).
func bearerToken(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", nil
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", errorf(http.StatusUnauthorized, codeUnauthenticated, "malformed Authorization header: use Bearer <key>")
	}
	return strings.TrimSpace(token), nil
}

// keyCacheTTL bounds how long a key verified from the store is trusted
// without asking the store again (so a key deleted through another replica
// stops working within it). Deleting through this server evicts at once.
const keyCacheTTL = 5 * time.Second

// keyCache remembers keys read from the store, so a check does not cost a
// store round trip.
type keyCache struct {
	mu   sync.Mutex
	keys map[string]cachedKey
}

type cachedKey struct {
	hash    []byte
	scope   Scope
	expires time.Time
}

func (c *keyCache) get(id string, now time.Time) (cachedKey, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.keys[id]
	if !ok || now.After(k.expires) {
		return cachedKey{}, false
	}
	return k, true
}

func (c *keyCache) put(id string, k cachedKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys == nil || len(c.keys) > 10_000 {
		c.keys = make(map[string]cachedKey)
	}
	c.keys[id] = k
}

func (c *keyCache) evict(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.keys, id)
}

// lookupKey returns the key with id, from the cache or the store.
func (s *Server) lookupKey(ctx context.Context, id string) (cachedKey, error) {
	now := s.now()
	if k, ok := s.keyCache.get(id, now); ok {
		if k.hash == nil {
			return cachedKey{}, store.ErrNotFound
		}
		return k, nil
	}
	k, err := s.keys.KeyByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		// Remember unknown ids too, so a flood of made-up keys does not
		// become a flood of store lookups.
		s.keyCache.put(id, cachedKey{expires: now.Add(keyCacheTTL)})
		return cachedKey{}, err
	}
	if err != nil {
		return cachedKey{}, err
	}
	ck := cachedKey{hash: k.Hash, scope: Scope(k.Scope), expires: now.Add(keyCacheTTL)}
	s.keyCache.put(id, ck)
	return ck, nil
}
