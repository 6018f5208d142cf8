package server

import (
	"context"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"net/http"
	"strings"

	"github.com/castellan-authz/castellan/identity"
	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
)

// caller is who made a request: an API key (by id), the --admin-key,
// a caller token or a client certificate (by its actor), or anyone in dev
// mode. Actor is the verified identity of the caller (a caller token's, a
// client certificate's SPIFFE ID, or the one its API key is bound to),
// zero when it has none; Claims are a caller token's configured claims.
type caller struct {
	ID     string
	Scope  Scope
	Actor  term.Value
	Claims []identity.Claim
	token  bool // authenticated by a caller token
	cert   bool // authenticated by a client certificate (SPIFFE ID)
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
					"this %s has scope %q; %s %s needs scope %q", p.kind(), p.Scope, r.Method, r.URL.Path, need))
				return
			}
			st := stateFrom(r.Context())
			st.caller = p
			if h := r.Header.Get(onBehalfOfHeader); h != "" {
				if st.onBehalfOf, err = s.verifyUser(r, h, onBehalfOfHeader); err != nil {
					writeError(w, r, err)
					return
				}
			}
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
	if token == "" && s.ids.PeerConfigured() && r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		return s.certCaller(r, r.TLS.VerifiedChains[0][0])
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
		if s.ids.Configured(identity.UseCaller) && strings.Count(token, ".") == 2 {
			return s.tokenCaller(r, token)
		}
		return caller{}, s.authFailed(r, authMalformed, "", errorf(http.StatusUnauthorized, codeUnauthenticated, "invalid API key"))
	}
	// The key store answers from the keys it holds and follows (see
	// store.KeyStore.KeyByID): no database round trip, also for an id
	// nobody ever created, and also while the database is down. A key
	// deleted through another replica stops working within the follow lag.
	k, err := s.store.KeyByID(r.Context(), id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return caller{}, s.authFailed(r, authUnknownKey, id, errorf(http.StatusUnauthorized, codeUnauthenticated, "invalid API key"))
		}
		return caller{}, err
	}
	if subtle.ConstantTimeCompare(hashSecret(secret), k.Hash) != 1 {
		return caller{}, s.authFailed(r, authWrongSecret, id, errorf(http.StatusUnauthorized, codeUnauthenticated, "invalid API key"))
	}
	return caller{ID: id, Scope: Scope(k.Scope), Actor: keyActor(k)}, nil
}

// kind names what authenticated c in messages.
func (c caller) kind() string {
	if c.cert {
		return "client certificate"
	}
	if c.token {
		return "caller token"
	}
	return "API key"
}

// onBehalfOfHeader carries the end user's token of a caller acting for
// a user.
const onBehalfOfHeader = "Castellan-On-Behalf-Of"

// tokenCaller authenticates a caller token (a JWT of a caller issuer):
// the caller is its actor, with the scope its scope claim grants.
func (s *Server) tokenCaller(r *http.Request, token string) (caller, error) {
	id, err := s.ids.Verify(r.Context(), token, identity.UseCaller)
	if err != nil {
		return caller{}, s.authFailed(r, authBadToken, "", errorf(http.StatusUnauthorized, codeUnauthenticated, "invalid caller token: %s", err.Error()))
	}
	// The caller's id, in access logs, decision records and CreatedBy, is
	// its actor as the CLI writes values (Service:billing).
	return caller{ID: id.Type + ":" + id.ID, Scope: Scope(id.Scope), Actor: term.Entity(id.Type, id.ID), Claims: id.Claims, token: true}, nil
}

// authBadCert is the castellan_auth_failures_total reason of a client
// certificate, verified by TLS, that names no configured SPIFFE ID.
const authBadCert = "bad_cert"

// certCaller authenticates a workload by the client certificate TLS
// verified against identity.client_ca (chain, validity): its caller is
// the actor of its SPIFFE ID, with its trust domain's scope.
func (s *Server) certCaller(r *http.Request, leaf *x509.Certificate) (caller, error) {
	id, err := s.ids.VerifyPeer(leaf)
	if err != nil {
		return caller{}, s.authFailed(r, authBadCert, "", errorf(http.StatusUnauthorized, codeUnauthenticated, "invalid client certificate: %s", err.Error()))
	}
	return caller{ID: id.Type + ":" + id.ID, Scope: Scope(id.Scope), Actor: term.Entity(id.Type, id.ID), cert: true}, nil
}

// verifyUser verifies the end user's token of an on-behalf-of request
// (where names where it was sent). A bad token is a failed
// authentication (401), counted and limited like one.
func (s *Server) verifyUser(r *http.Request, token, where string) (*identity.Identity, error) {
	if !s.ids.Configured(identity.UseUser) {
		return nil, s.authFailed(r, authBadToken, "", errorf(http.StatusUnauthorized, codeUnauthenticated,
			"%s: no user issuer is configured (identity.issuers with use: user), so no on-behalf-of token can be verified", where))
	}
	id, err := s.ids.Verify(r.Context(), token, identity.UseUser)
	if err != nil {
		return nil, s.authFailed(r, authBadToken, "", errorf(http.StatusUnauthorized, codeUnauthenticated, "%s: invalid user token: %s", where, err.Error()))
	}
	return id, nil
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
