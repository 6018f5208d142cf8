package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/castellan-authz/castellan/store/pgtest"
	"github.com/castellan-authz/castellan/store/postgres"
)

// outageLoad is the traffic of TestDatabaseOutageUnderLoad: reads with
// read keys, writes with a write key, each goroutine in a loop. Every
// answer is checked; what is wrong is kept for the report (t.Fatal must not
// be called from these goroutines).
type outageLoad struct {
	url    string
	client *http.Client

	reads, writesOK, writes503 atomic.Int64

	mu       sync.Mutex
	failures []string
}

func (l *outageLoad) fail(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) < 20 {
		l.failures = append(l.failures, time.Now().Format("15:04:05.000 ")+fmt.Sprintf(format, args...))
	}
}

// post sends body to path as key. ok is false when there is no answer to
// check: the load is over, or the request failed (recorded).
func (l *outageLoad) post(ctx context.Context, what, key, path string, body any) (status int, resp []byte, ok bool) {
	js, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.url+path, bytes.NewReader(js))
	var r *http.Response
	if err == nil {
		req.Header.Set("Authorization", "Bearer "+key)
		r, err = l.client.Do(req)
	}
	if err == nil {
		defer r.Body.Close()
		resp, err = io.ReadAll(r.Body)
	}
	switch {
	case ctx.Err() != nil:
		return 0, nil, false
	case err != nil:
		l.fail("%s: %v", what, err)
		return 0, nil, false
	}
	return r.StatusCode, resp, true
}

// read asks two questions whose answers the writes do not change: alice
// (owner of acme) may read it, bob may not.
func (l *outageLoad) read(ctx context.Context, key string) {
	for i, actor := range []string{"alice", "bob"} {
		what := "read as " + actor
		st, body, ok := l.post(ctx, what, key, "/api/authorize", map[string]any{"actor_type": "User", "actor_id": actor,
			"action": "read", "resource_type": "Organization", "resource_id": "acme"})
		var got struct {
			Allowed bool `json:"allowed"`
		}
		switch {
		case !ok:
		case st != http.StatusOK:
			l.fail("%s: status %d: %s", what, st, body)
		case json.Unmarshal(body, &got) != nil || got.Allowed != (i == 0):
			l.fail("%s: wrong answer %s", what, body)
		default:
			l.reads.Add(1)
		}
	}
}

// write inserts a fact that no question depends on: 200, or 503 with a
// message while the database is down.
func (l *outageLoad) write(ctx context.Context, key string, n int) {
	st, body, ok := l.post(ctx, "write", key, "/api/facts", map[string]any{"predicate": "has_role", "args": []any{
		map[string]any{"type": "User", "id": fmt.Sprintf("w%d", n)}, map[string]any{"type": "String", "id": "member"},
		map[string]any{"type": "Organization", "id": "other"}}})
	var env struct {
		Message string `json:"message"`
	}
	switch {
	case !ok:
	case st == http.StatusOK || st == http.StatusCreated:
		l.writesOK.Add(1)
	case st == http.StatusServiceUnavailable && json.Unmarshal(body, &env) == nil && env.Message != "":
		l.writes503.Add(1)
	default:
		l.fail("write: status %d: %s", st, body)
	}
}

// TestDatabaseOutageUnderLoad kills PostgreSQL (a private cluster: the
// server, not a proxy, goes away) under mixed load from callers with API
// keys: for longer than the old key cache's 5 s, reads keep being answered
// correctly, /readyz stays 200 while /readyz?writes=1 and the writable
// metric say writes are down, and writes answer 503 with a message. Once
// PostgreSQL is back, writes resume and /readyz?writes=1 answers 200.
// Before keys were followed, every read failed 5 s into the outage and
// /readyz answered 503 throughout.
func TestDatabaseOutageUnderLoad(t *testing.T) {
	const outage = 8 * time.Second
	cluster := pgtest.NewCluster(t)
	st, err := postgres.Open(t.Context(), cluster.URL(), postgres.Options{Migrate: true, WaitTimeout: time.Second, PollInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := DefaultConfig()
	cfg.AdminKey = "outage-admin-key-0123"
	srv, err := New(t.Context(), cfg, st, WithFollower(st))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	e := &testEnv{srv: srv, ts: ts, store: st, key: cfg.AdminKey}
	e.uploadPolicy(t, testPolicy)
	e.insert(t, fact("has_role", "User:alice", "owner", "Organization:acme"))
	newKey := func(scope string) string {
		var k struct {
			Key string `json:"key"`
		}
		e.must(t, http.StatusCreated, "POST", "/admin/v1/keys", map[string]any{"name": "load", "scope": scope}).json(t, &k)
		return k.Key
	}
	readKeys := []string{newKey("read"), newKey("read"), newKey("read")}
	writeKey := newKey("write")
	e.key = ""
	probe := func(path string) int { return e.do(t, "GET", path, nil).status }
	writable := func() bool {
		return strings.Contains(string(e.must(t, http.StatusOK, "GET", "/metrics", nil).body), "\ncastellan_store_writable 1\n")
	}
	waitUntil(t, 10*time.Second, "writes are available before the outage", func() bool { return probe("/readyz?writes=1") == http.StatusOK })

	load := &outageLoad{url: ts.URL, client: ts.Client()}
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for _, key := range readKeys {
		wg.Go(func() {
			for ctx.Err() == nil {
				load.read(ctx, key)
			}
		})
	}
	wg.Go(func() {
		for n := 0; ctx.Err() == nil; n++ {
			load.write(ctx, writeKey, n)
			time.Sleep(5 * time.Millisecond)
		}
	})
	defer func() { stop(); wg.Wait() }()
	time.Sleep(500 * time.Millisecond) // load with the database up

	cluster.Kill(t)
	killed := time.Now()
	waitUntil(t, 5*time.Second, "/readyz?writes=1 reports the outage", func() bool {
		return probe("/readyz?writes=1") == http.StatusServiceUnavailable
	})
	if writable() {
		t.Error("castellan_store_writable is not 0 during the outage")
	}
	for time.Since(killed) < outage {
		if st := probe("/readyz"); st != http.StatusOK {
			t.Fatalf("/readyz answered %d %.1fs into the outage, want 200: reads are still answered", st, time.Since(killed).Seconds())
		}
		time.Sleep(100 * time.Millisecond)
	}
	readsInOutage, failed503 := load.reads.Load(), load.writes503.Load()

	cluster.Start(t)
	waitUntil(t, 15*time.Second, "/readyz?writes=1 answers 200 after the restart", func() bool { return probe("/readyz?writes=1") == http.StatusOK })
	okBefore := load.writesOK.Load()
	waitUntil(t, 10*time.Second, "writes resume after the restart", func() bool { return load.writesOK.Load() > okBefore })
	if !writable() {
		t.Error("castellan_store_writable is not 1 after the restart")
	}
	stop()
	wg.Wait()

	for _, f := range load.failures {
		t.Errorf("under load: %s", f)
	}
	if readsInOutage == 0 || failed503 == 0 {
		t.Errorf("the load did not run through the outage: %d reads answered, %d writes answered 503", readsInOutage, failed503)
	}
	t.Logf("%d reads answered, %d writes committed, %d writes answered 503", load.reads.Load(), load.writesOK.Load(), load.writes503.Load())
}
