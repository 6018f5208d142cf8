package identity_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/castellan-authz/castellan/identity"
	"github.com/castellan-authz/castellan/identity/idptest"
)

// fixture is a caller issuer and a user issuer, both real JWKS servers.
type fixture struct {
	callers, users *idptest.Issuer
	v              *identity.Verifier
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{callers: idptest.New(), users: idptest.New()}
	t.Cleanup(f.callers.Close)
	t.Cleanup(f.users.Close)
	v, err := identity.New(t.Context(), identity.Config{Issuers: []identity.Issuer{
		{Issuer: f.callers.URL, JWKSURL: f.callers.JWKSURL(), Audience: "castellan", Algorithms: []string{"ES256", "RS256"},
			Use: identity.UseCaller, ActorTypeClaim: "actor_type", Claims: []string{"team"}, MinRefreshInterval: time.Hour},
		{Issuer: f.users.URL, JWKSURL: f.users.JWKSURL(), Audience: "castellan", Algorithms: []string{"ES256"},
			Use: identity.UseUser, Claims: []string{"role", "department", "level", "admin"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	f.v = v
	return f
}

func caller(sub, scope string) idptest.Claims {
	return idptest.Claims{"sub": sub, "aud": "castellan", "scope": scope}
}

func TestVerifyAccepts(t *testing.T) {
	f := newFixture(t)
	id, err := f.v.Verify(t.Context(), f.callers.Mint(idptest.Claims{"sub": "billing", "aud": []string{"other", "castellan"}, "scope": "openid castellan:read castellan:write", "team": []string{"pay", "ops"}}), identity.UseCaller)
	if err != nil {
		t.Fatal(err)
	}
	want := &identity.Identity{Type: "Service", ID: "billing", Scope: "write", Issuer: f.callers.URL,
		Claims: []identity.Claim{{Name: "team", Value: "pay"}, {Name: "team", Value: "ops"}}}
	if diff := cmp.Diff(want, id, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Expires" }, cmp.Ignore())); diff != "" {
		t.Errorf("caller identity (-want +got):\n%s", diff)
	}

	agent, err := f.v.Verify(t.Context(), f.callers.Mint(idptest.Claims{"sub": "reporter", "aud": "castellan", "scope": "castellan:read", "actor_type": "Agent"}), identity.UseCaller)
	if err != nil || agent.Type != "Agent" || agent.ID != "reporter" {
		t.Errorf("agent = %+v, %v; want Agent{reporter}", agent, err)
	}

	user, err := f.v.Verify(t.Context(), f.users.Mint(idptest.Claims{"sub": "alice", "aud": "castellan", "role": "manager", "department": "sales", "level": 3, "admin": false, "scope": "castellan:admin"}), identity.UseUser)
	if err != nil {
		t.Fatal(err)
	}
	wantUser := []identity.Claim{{Name: "role", Value: "manager"}, {Name: "department", Value: "sales"}, {Name: "level", Value: int64(3)}, {Name: "admin", Value: false}}
	if user.Type != "User" || user.ID != "alice" || user.Scope != "" || !cmp.Equal(user.Claims, wantUser) {
		t.Errorf("user = %+v; want User{alice}, no scope, claims %v", user, wantUser)
	}
}

func TestVerifyRefuses(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	tests := []struct {
		name  string
		token string
		use   identity.Use
		check string
	}{
		{"expired", f.callers.Mint(idptest.Claims{"sub": "a", "aud": "castellan", "exp": now.Add(-time.Hour)}), identity.UseCaller, identity.CheckExpiry},
		{"expired beyond the clock skew", f.callers.Mint(idptest.Claims{"sub": "a", "aud": "castellan", "exp": now.Add(-time.Minute)}), identity.UseCaller, identity.CheckExpiry},
		{"no expiry", f.callers.Mint(idptest.Claims{"sub": "a", "aud": "castellan", "exp": nil}), identity.UseCaller, identity.CheckExpiry},
		{"not yet valid", f.callers.Mint(idptest.Claims{"sub": "a", "aud": "castellan", "nbf": now.Add(time.Hour)}), identity.UseCaller, identity.CheckNotBefore},
		{"wrong audience", f.callers.Mint(idptest.Claims{"sub": "a", "aud": "somebody-else"}), identity.UseCaller, identity.CheckAudience},
		{"no audience", f.callers.Mint(idptest.Claims{"sub": "a"}), identity.UseCaller, identity.CheckAudience},
		{"unknown issuer", f.callers.Mint(idptest.Claims{"sub": "a", "aud": "castellan", "iss": "https://evil.example"}), identity.UseCaller, identity.CheckIssuer},
		{"alg none", f.callers.MintNone(caller("a", "castellan:admin")), identity.UseCaller, identity.CheckAlgorithm},
		{"HMAC with the public key", f.callers.MintHMACWithPublicKey(caller("a", "castellan:admin")), identity.UseCaller, identity.CheckAlgorithm},
		{"tampered payload", idptest.Tamper(f.callers.Mint(caller("a", "castellan:read")), idptest.Claims{"scope": "castellan:admin"}), identity.UseCaller, identity.CheckSignature},
		{"signed by another issuer's key", idptest.Tamper(f.users.Mint(caller("a", "castellan:read")), idptest.Claims{"iss": f.callers.URL}), identity.UseCaller, identity.CheckKey},
		{"user token as a caller token", f.users.Mint(idptest.Claims{"sub": "alice", "aud": "castellan"}), identity.UseCaller, identity.CheckUse},
		{"caller token as a user token", f.callers.Mint(caller("billing", "castellan:read")), identity.UseUser, identity.CheckUse},
		{"no subject", f.callers.Mint(idptest.Claims{"aud": "castellan"}), identity.UseCaller, identity.CheckSubject},
		{"not a JWT", "cst_0123456789abcdef_secret", identity.UseCaller, identity.CheckMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := f.v.Verify(t.Context(), tc.token, tc.use)
			var ie *identity.Error
			if !errors.As(err, &ie) {
				t.Fatalf("Verify = %+v, %v; want an *identity.Error", id, err)
			}
			if ie.Check != tc.check {
				t.Errorf("check = %q (%s); want %q", ie.Check, ie.Msg, tc.check)
			}
			if len(tc.token) > 20 && containsAny(ie.Msg, tc.token) {
				t.Errorf("message %q echoes the token", ie.Msg)
			}
		})
	}
}

func containsAny(msg, token string) bool {
	return strings.Contains(msg, token[:20]) || strings.Contains(msg, token[len(token)-20:])
}

// A token signed with a key the JWKS does not publish yet fails; once the
// issuer publishes it, the next token with that kid refreshes the JWKS
// and passes. Refreshes on unknown kids are rate limited.
func TestVerifyKeyRotation(t *testing.T) {
	f := newFixture(t)
	if _, err := f.v.Verify(t.Context(), f.callers.Mint(caller("a", "castellan:read")), identity.UseCaller); err != nil {
		t.Fatal(err)
	}
	f.callers.Rotate()
	fetches := f.callers.Fetches()
	_, err := f.v.Verify(t.Context(), f.callers.Mint(caller("b", "castellan:read")), identity.UseCaller)
	if ie, ok := errors.AsType[*identity.Error](err); !ok || ie.Check != identity.CheckKey {
		t.Fatalf("token signed with an unpublished key: %v; want a kid error", err)
	}
	if f.callers.Fetches() != fetches+1 {
		t.Errorf("an unknown kid fetched the JWKS %d times; want once", f.callers.Fetches()-fetches)
	}
	// The limiter allows one refresh per MinRefreshInterval (an hour here):
	// more unknown kids do not hammer the issuer.
	for range 5 {
		_, _ = f.v.Verify(t.Context(), f.callers.Mint(caller("c", "castellan:read")), identity.UseCaller)
	}
	if f.callers.Fetches() != fetches+1 {
		t.Errorf("unknown kids fetched the JWKS %d times within the rate limit; want once", f.callers.Fetches()-fetches)
	}
}

func TestVerifyKeyRotatedIn(t *testing.T) {
	f := newFixture(t)
	f.callers.Rotate()
	f.callers.Publish() // published after the verifier's first fetch
	id, err := f.v.Verify(t.Context(), f.callers.Mint(caller("b", "castellan:read")), identity.UseCaller)
	if err != nil || id.ID != "b" {
		t.Fatalf("token of a key rotated in: %+v, %v; want it verified after a refresh", id, err)
	}
}

func TestVerifyCaches(t *testing.T) {
	f := newFixture(t)
	tok := f.callers.Mint(caller("a", "castellan:read"))
	first, err := f.v.Verify(t.Context(), tok, identity.UseCaller)
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.v.Verify(t.Context(), tok, identity.UseCaller)
	if err != nil || again != first {
		t.Errorf("second Verify = %p, %v; want the cached identity %p", again, err, first)
	}
	if _, err := f.v.Verify(t.Context(), tok, identity.UseUser); err == nil {
		t.Error("a cached caller token verified as a user token")
	}
}

func TestConfigValidate(t *testing.T) {
	good := identity.Issuer{Issuer: "https://idp", JWKSURL: "https://idp/jwks", Audience: "castellan", Algorithms: []string{"RS256"}}
	tests := []struct {
		name    string
		edit    func(*identity.Issuer)
		wantErr string
	}{
		{"good", func(*identity.Issuer) {}, ""},
		{"none", func(i *identity.Issuer) { i.Algorithms = []string{"none"} }, `algorithm "none" is not allowed`},
		{"HMAC", func(i *identity.Issuer) { i.Algorithms = []string{"RS256", "HS256"} }, `algorithm "HS256" is not allowed`},
		{"no algorithms", func(i *identity.Issuer) { i.Algorithms = nil }, "algorithms is required"},
		{"no audience", func(i *identity.Issuer) { i.Audience = "" }, "audience is required"},
		{"relative JWKS URL", func(i *identity.Issuer) { i.JWKSURL = "/jwks" }, "is not an absolute http(s) URL"},
		{"bad use", func(i *identity.Issuer) { i.Use = "both" }, `use "both" is not caller or user`},
		{"bad actor type", func(i *identity.Issuer) { i.ActorType = "Service{x}" }, "is not a type name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			i := good
			tc.edit(&i)
			err := identity.Config{Issuers: []identity.Issuer{i}}.Validate()
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("Validate = %v; want %q", err, tc.wantErr)
			}
		})
	}
}

// BenchmarkVerify is the cost of authenticating a caller token: the first
// use of a token (signature ES256, claims) and every later use (the
// verified-token cache).
func BenchmarkVerify(b *testing.B) {
	f := newFixture(b)
	b.Run("cached", func(b *testing.B) {
		token := f.callers.Mint(caller("employee-service", "castellan:read"))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.v.Verify(b.Context(), token, identity.UseCaller); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("first-use", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			token := f.callers.Mint(idptest.Claims{"sub": "employee-service", "aud": "castellan", "scope": "castellan:read", "jti": i})
			b.StartTimer()
			if _, err := f.v.Verify(b.Context(), token, identity.UseCaller); err != nil {
				b.Fatal(err)
			}
		}
	})
}
