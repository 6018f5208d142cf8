package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/castellan-authz/castellan/store"
)

// caller is who made a request: an API key (by id), the --admin-key,
// or anyone in dev mode.
type caller struct {
	ID    string
	Scope Scope
}

// Caller ids of the callers that are not stored keys.
const (
	callerDev      = "dev"
	callerAdminKey = "admin-key"
)

// callerFrom returns the caller require found for the request.
func callerFrom(ctx context.Context) caller { return stateFrom(ctx).caller }

// require authenticates the request and checks that its caller has at
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
			stateFrom(r.Context()).caller = p
			next.ServeHTTP(w, r)
		})
	}
}

// authenticate finds the caller of r from its bearer token. Failures
// are counted and limited per client and per key id (ratelimit.go): a
// client over its limit is refused before its key is looked up.
func (s *Server) authenticate(r *http.Request) (caller, error) {
	if err := s.checkClient(r); err != nil {
		return caller{}, err
	}
	token, err := bearerToken(r)
	if err != nil {
		return caller{}, s.authFailed(r, authMalformed, "", err)
	}
	if token == "" || token == DevToken {
		if s.cfg.Dev {
			return caller{ID: callerDev, Scope: ScopeAdmin}, nil
		}
		if token == "" {
			return caller{}, s.authFailed(r, authMissing, "", errorf(http.StatusUnauthorized, codeUnauthenticated, "missing API key: send Authorization: Bearer <key>"))
		}
	}
	if s.adminHash != nil && hashMatches(token, s.adminHash) {
		return caller{ID: callerAdminKey, Scope: ScopeAdmin}, nil
	}
	id, secret, ok := splitKey(token)
	if !ok {
		return caller{}, s.authFailed(r, authMalformed, "", errorf(http.StatusUnauthorized, codeUnauthenticated, "invalid API key"))
	}
	// The key store answers from the keys it holds and follows (see
	// store.KeyStore.KeyByID): no database round trip, also for an id
	// nobody ever created, and also while the database is down. A key
	// deleted through another replica stops working within the follow lag.
	k, err := s.keys.KeyByID(r.Context(), id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return caller{}, s.authFailed(r, authUnknownKey, id, errorf(http.StatusUnauthorized, codeUnauthenticated, "invalid API key"))
		}
		return caller{}, err
	}
	if subtle.ConstantTimeCompare(hashSecret(secret), k.Hash) != 1 {
		return caller{}, s.authFailed(r, authWrongSecret, id, errorf(http.StatusUnauthorized, codeUnauthenticated, "invalid API key"))
	}
	return caller{ID: id, Scope: Scope(k.Scope)}, nil
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
