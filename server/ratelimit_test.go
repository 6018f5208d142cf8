package server

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// newLimitedEnv is a server that needs keys, behind a trusted proxy (the
// test client, 127.0.0.1), so that X-Forwarded-For picks the client, with
// failure limits that do not refill during a test. It returns the env
// (authenticating with the admin key) and a read key.
func newLimitedEnv(t *testing.T, tune func(*Config)) (*testEnv, string) {
	t.Helper()
	e := newAdminEnv(t, func(cfg *Config) {
		cfg.TrustedProxies = []string{"127.0.0.1/32", "::1"}
		cfg.AuthFailureRate, cfg.AuthFailureBurst = 0.001, 5
		cfg.KeyFailureRate, cfg.KeyFailureBurst = 0.001, 3
		if tune != nil {
			tune(cfg)
		}
	})
	var k struct {
		Key string `json:"key"`
	}
	e.must(t, http.StatusCreated, "POST", "/admin/v1/keys", map[string]any{"name": "reader", "scope": "read"}).json(t, &k)
	return e, k.Key
}

// wantTooMany checks a 429 of a failure limit: Retry-After, the message.
func wantTooMany(t *testing.T, r response, msg string) {
	t.Helper()
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429; body %s", r.status, r.body)
	}
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("Retry-After %q, want whole seconds", r.header.Get("Retry-After"))
	}
	env := r.envelope(t)
	if env.Code != codeTooManyAuthFailures || !strings.Contains(env.Message, msg) || !strings.Contains(env.Message, "retry after") {
		t.Errorf("429 envelope %+v, want code %s and a message with %q", env, codeTooManyAuthFailures, msg)
	}
}

func TestFailedAuthLimitPerClient(t *testing.T) {
	e, readKey := newLimitedEnv(t, nil)
	guess := func(i int, client string) response {
		key := fmt.Sprintf("%s%016x_secret", keyPrefix, i) // a new random-looking id each time
		return e.do(t, "GET", "/api/stats", nil, "Authorization", "Bearer "+key, "X-Forwarded-For", client)
	}
	for i := range 5 {
		if r := guess(i, "203.0.113.7"); r.status != http.StatusUnauthorized {
			t.Fatalf("guess %d: status %d, want 401", i, r.status)
		}
	}
	wantTooMany(t, guess(5, "203.0.113.7"), "from 203.0.113.7")
	// (A guess costs no database query either way: keys are answered
	// from the store's followed copy, see store.KeyStore.KeyByID.)
	// Another client with the right key is served; so is another guesser.
	e.must(t, http.StatusOK, "GET", "/api/stats", nil, "Authorization", "Bearer "+readKey, "X-Forwarded-For", "198.51.100.1")
	if r := guess(6, "198.51.100.2"); r.status != http.StatusUnauthorized {
		t.Errorf("another client's first guess: status %d, want 401", r.status)
	}
	// A client cannot dodge its limit with X-Forwarded-For of its own: a
	// proxy appends the peer it saw, and that is the client.
	wantTooMany(t, e.do(t, "GET", "/api/stats", nil, "Authorization", "Bearer cst_nope", "X-Forwarded-For", "10.9.9.9, 203.0.113.7"), "from 203.0.113.7")

	var metrics string
	r := e.must(t, http.StatusOK, "GET", "/metrics", nil)
	metrics = string(r.body)
	for _, want := range []string{
		`castellan_auth_failures_total{reason="unknown_key"} 6`,
		`castellan_auth_rate_limited_total{by="client"} 2`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestFailedAuthLimitIgnoresUntrustedForwardedFor(t *testing.T) {
	e, _ := newLimitedEnv(t, func(c *Config) { c.TrustedProxies = nil })
	for i := range 5 {
		// Each guess claims another client; the peer is the client.
		e.must(t, http.StatusUnauthorized, "GET", "/api/stats", nil, "Authorization", "Bearer nope", "X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i))
	}
	wantTooMany(t, e.do(t, "GET", "/api/stats", nil, "Authorization", "Bearer nope", "X-Forwarded-For", "192.0.2.99"), "from 127.0.0.1")
}

func TestFailedAuthLimitPerKey(t *testing.T) {
	e, readKey := newLimitedEnv(t, nil)
	id, _, _ := splitKey(readKey)
	wrong := keyPrefix + id + "_not-the-secret"
	for i := range 3 { // from three clients, under their own limit
		e.must(t, http.StatusUnauthorized, "GET", "/api/stats", nil, "Authorization", "Bearer "+wrong, "X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i))
	}
	wantTooMany(t, e.do(t, "GET", "/api/stats", nil, "Authorization", "Bearer "+wrong, "X-Forwarded-For", "192.0.2.50"), "for API key id "+id)
	// The key's owner is not locked out by someone guessing its secret.
	e.must(t, http.StatusOK, "GET", "/api/stats", nil, "Authorization", "Bearer "+readKey, "X-Forwarded-For", "192.0.2.60")
	r := e.must(t, http.StatusOK, "GET", "/metrics", nil)
	if !strings.Contains(string(r.body), `castellan_auth_failures_total{reason="wrong_secret"} 4`) ||
		!strings.Contains(string(r.body), `castellan_auth_rate_limited_total{by="key"} 1`) {
		t.Errorf("/metrics does not count the wrong secrets and the limit")
	}
}

func TestFailedAuthLimitMemoryIsBounded(t *testing.T) {
	e, _ := newLimitedEnv(t, func(c *Config) { c.AuthLimitEntries = 8 })
	for i := range 100 {
		key := fmt.Sprintf("%s%016x_secret", keyPrefix, i)
		e.must(t, http.StatusUnauthorized, "GET", "/api/stats", nil, "Authorization", "Bearer "+key, "X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
	}
	if n, m := e.srv.authLimits.clients.len(), e.srv.authLimits.keys.len(); n != 8 || m != 8 {
		t.Errorf("after 100 distinct clients and key ids: %d client and %d key buckets, want 8 each", n, m)
	}
}

func TestFailedAuthLimitOff(t *testing.T) {
	e, _ := newLimitedEnv(t, func(c *Config) { c.AuthFailureRate, c.KeyFailureRate = 0, 0 })
	for range 50 {
		e.must(t, http.StatusUnauthorized, "GET", "/api/stats", nil, "Authorization", "Bearer nope")
	}
}

func TestTrustedProxiesClient(t *testing.T) {
	tp, err := parseTrustedProxies([]string{"10.0.0.0/8", "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, remote, xff, want string
	}{
		{"untrusted peer", "203.0.113.5:1234", "1.2.3.4", "203.0.113.5"},
		{"trusted peer", "10.1.2.3:1234", "1.2.3.4", "1.2.3.4"},
		{"chain of trusted proxies", "10.1.2.3:1234", "1.2.3.4, 192.0.2.1, 10.0.0.9", "1.2.3.4"},
		{"spoofed left entry", "10.1.2.3:1234", "6.6.6.6, 1.2.3.4", "1.2.3.4"},
		{"trusted peer, no header", "10.1.2.3:1234", "", "10.1.2.3"},
		{"garbled header", "10.1.2.3:1234", "1.2.3.4, junk", "10.1.2.3"},
		{"ipv6 peer", "[2001:db8::1]:1234", "1.2.3.4", "2001:db8::1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			if got := tp.client(r); got != tc.want {
				t.Errorf("client = %s, want %s", got, tc.want)
			}
		})
	}
	if _, err := parseTrustedProxies([]string{"10.0.0.0/33"}); err == nil {
		t.Error("a bad CIDR was accepted")
	}
}
