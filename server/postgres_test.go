package server

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/castellan-authz/castellan/store/pgtest"
	"github.com/castellan-authz/castellan/store/postgres"
)

// openPostgres opens a store on url, closed when the test ends.
func openPostgres(t *testing.T, url string) *postgres.Store {
	t.Helper()
	st, err := postgres.Open(t.Context(), url, postgres.Options{WaitTimeout: 5 * time.Second, PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// followLag bounds, in these tests, how long a change takes to reach
// another replica on the same database (a notification, else a poll every
// 50 ms). It is a bound for correctness, not a speed figure: it is ample so
// that a loaded CI machine does not fail the test (2 s was seen to).
const followLag = 10 * time.Second

// waitUntil polls cond until it holds, failing the test after d.
func waitUntil(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for start := time.Now(); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > d {
			t.Fatalf("not within %v: %s", d, what)
		}
	}
}

// TestPostgresReplicas runs two servers on one database, as two replicas
// behind a load balancer: a write through one is visible through the other
// at the OsoOffset it returned, keys and policies are shared.
func TestPostgresReplicas(t *testing.T) {
	url := pgtest.NewDatabase(t)
	cfg := DefaultConfig()
	cfg.AdminKey = "replica-admin-key-0123"
	// Polling B with a key it has not learnt yet fails authentication each
	// time; the failure limits (tested in ratelimit_test.go) would turn a
	// slow follow into 429s, so they are off here.
	cfg.AuthFailureRate, cfg.KeyFailureRate = 0, 0
	a := newTestEnvOn(t, cfg, openPostgres(t, url))
	a.key = cfg.AdminKey
	a.uploadPolicy(t, testPolicy)

	b := newTestEnvOn(t, cfg, openPostgres(t, url))
	b.key = cfg.AdminKey
	if b.liveVersion() != 1 {
		t.Fatalf("second replica started with policy version %d, want 1", b.liveVersion())
	}

	r := a.insert(t, fact("has_role", "User:alice", "owner", "Organization:acme"))
	off := r.header.Get("OsoOffset")
	var got struct {
		Allowed bool `json:"allowed"`
	}
	b.must(t, http.StatusOK, "POST", "/api/authorize", map[string]any{"actor_type": "User", "actor_id": "alice", "action": "admin",
		"resource_type": "Organization", "resource_id": "acme"}, "OsoOffset", off).json(t, &got)
	if !got.Allowed {
		t.Error("a write through replica A is not visible through replica B at its OsoOffset")
	}

	// A key created through A works on B within the follow lag; deleted
	// through A, it is refused by A at once and by B within the follow lag
	// (it took up to 5 s, the TTL of the key cache, before keys were
	// followed).
	var k struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	a.must(t, http.StatusCreated, "POST", "/admin/v1/keys", map[string]any{"name": "svc", "scope": "read"}).json(t, &k)
	a.must(t, http.StatusOK, "GET", "/api/stats", nil, "Authorization", "Bearer "+k.Key)
	statsAs := func(e *testEnv) int {
		return e.do(t, "GET", "/api/stats", nil, "Authorization", "Bearer "+k.Key).status
	}
	waitUntil(t, followLag, "B accepts the key created through A", func() bool { return statsAs(b) == http.StatusOK })
	a.must(t, http.StatusOK, "DELETE", "/admin/v1/keys/"+k.ID, nil)
	if st := statsAs(a); st != http.StatusUnauthorized {
		t.Errorf("a key deleted through A: A answers %d, want 401 at once", st)
	}
	waitUntil(t, followLag, "B refuses the key deleted through A", func() bool { return statsAs(b) == http.StatusUnauthorized })

	// A policy uploaded through A goes live on B when B syncs. (It keeps
	// the organization roles: one that orphaned every stored fact would
	// need "force".)
	a.uploadPolicy(t, testPolicy+"\nresource Doc { permissions = [\"read\"]; }\nhas_permission(_: User, \"read\", _: Doc);\n")
	changed, err := b.srv.Policies().Sync(t.Context())
	if err != nil || !changed || b.liveVersion() != 2 {
		t.Fatalf("SyncPolicy = %v, %v; version %d, want 2", changed, err, b.liveVersion())
	}
	if !b.authorize(t, "User:x", "read", "Doc:d") {
		t.Error("replica B does not answer under the synced policy")
	}

	// Invalid facts are refused through the database store too, atomically.
	before := a.numFacts(t)
	a.must(t, http.StatusBadRequest, "POST", "/api/batch", []any{map[string]any{"inserts": []any{
		fact("has_permission", "User:x", "read", "Doc:d2"), fact("nope", "User:x")}}})
	if n := a.numFacts(t); n != before {
		t.Errorf("a refused batch changed the store: %d facts, %d before", n, before)
	}
}

// TestPostgresKeyIDNotUTF8 checks that an API key whose id is not valid
// UTF-8 is an invalid key (401), not a database error: PostgreSQL refuses
// such text with SQLSTATE 22021, which was a 500.
func TestPostgresKeyIDNotUTF8(t *testing.T) {
	cfg := DefaultConfig()
	cfg.AdminKey = "utf8-admin-key-0123456"
	e := newTestEnvOn(t, cfg, openPostgres(t, pgtest.NewDatabase(t)))
	r := e.do(t, "GET", "/api/stats", nil, "Authorization", "Bearer cst_"+strings.Repeat("\xff", 16)+"_secret")
	if r.status != http.StatusUnauthorized {
		t.Errorf("key id \\xff...: status %d, want 401; body %s", r.status, r.body)
	}
	e.key = cfg.AdminKey
	r = e.do(t, "DELETE", "/admin/v1/keys/%FF%FE0123456789abcd", nil)
	if r.status != http.StatusNotFound {
		t.Errorf("deleting key id \\xff\\xfe...: status %d, want 404; body %s", r.status, r.body)
	}
}
