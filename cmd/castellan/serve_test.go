package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/castellan-authz/castellan/server"
	"github.com/castellan-authz/castellan/store/pgtest"
)

// lockedBuffer collects a server's log while it runs.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// servePolicy is a tiny policy with one passing test.
const servePolicy = `actor User {}
resource Doc {
  roles = ["reader"];
  permissions = ["read"];
  "read" if "reader";
}
test "readers read" {
  setup { has_role(User{"a"}, "reader", Doc{"d"}); }
  assert allow(User{"a"}, "read", Doc{"d"});
}
`

// runningServer is a `castellan serve` started by a test.
type runningServer struct {
	url  string
	log  *lockedBuffer
	done chan error
	// stop shuts the server down gracefully (once) and returns serve's error.
	stop func() error
}

// startServe runs `castellan serve args...` on a free port until the test
// ends; it fails the test if the server does not come up.
func startServe(t *testing.T, environ map[string]string, args ...string) *runningServer {
	t.Helper()
	log := &lockedBuffer{}
	e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: log, getenv: func(k string) string { return environ[k] }}
	c, err := parseServe(e, append([]string{"--addr", "127.0.0.1:0"}, args...))
	if err != nil {
		t.Fatalf("parseServe: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	addr := make(chan string, 1)
	rs := &runningServer{log: log, done: make(chan error, 1)}
	go func() { rs.done <- serve(ctx, e, c, func(a string) { addr <- a }) }()
	select {
	case a := <-addr:
		rs.url = "http://" + a
	case err := <-rs.done:
		cancel()
		t.Fatalf("serve stopped at start: %v\n%s", err, log)
	}
	rs.stop = sync.OnceValue(func() error {
		cancel()
		return <-rs.done
	})
	t.Cleanup(func() {
		if err := rs.stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return rs
}

// post sends a JSON request and decodes the answer.
func (rs *runningServer) post(t *testing.T, path string, body any, out any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(rs.url+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

func (rs *runningServer) allowed(t *testing.T, actor, action, doc string) bool {
	t.Helper()
	st, allowed := rs.authorize(t, actor, action, doc)
	if st != 200 {
		t.Fatalf("authorize: status %d", st)
	}
	return allowed
}

// authorize asks allow(User{actor}, action, Doc{doc}) with a has_role
// context fact and returns the status and the decision. The status is 400
// while a policy that cannot use the context fact is live (a file the
// watcher caught half written).
func (rs *runningServer) authorize(t *testing.T, actor, action, doc string) (int, bool) {
	t.Helper()
	var out struct {
		Allowed bool `json:"allowed"`
	}
	ctxFact := map[string]any{"predicate": "has_role", "args": []any{
		map[string]any{"type": "User", "id": "a"}, map[string]any{"type": "String", "id": "reader"}, map[string]any{"type": "Doc", "id": "d"}}}
	st := rs.post(t, "/api/authorize", map[string]any{"actor_type": "User", "actor_id": actor, "action": action, "resource_type": "Doc", "resource_id": doc, "context_facts": []any{ctxFact}}, &out)
	return st, out.Allowed
}

func TestServeDefaults(t *testing.T) {
	rs := startServe(t, nil)
	resp, err := http.Get(rs.url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/readyz: %d", resp.StatusCode)
	}
	// Dev mode: no key needed.
	if st := rs.post(t, "/api/policy", map[string]any{"src": servePolicy}, nil); st != 200 {
		t.Errorf("policy upload in dev mode: status %d", st)
	}
	var start map[string]any
	for _, line := range strings.Split(rs.log.String(), "\n") {
		if strings.Contains(line, `"castellan serving"`) {
			_ = json.Unmarshal([]byte(line), &start)
		}
	}
	if start["store"] != "memory" || start["dev"] != true || !strings.HasPrefix(start["addr"].(string), "127.0.0.1:") {
		t.Errorf("start line %v: want addr, store memory, dev true", start)
	}
	if !strings.Contains(rs.log.String(), "DEV MODE") {
		t.Error("no dev mode warning at start")
	}
}

func TestServeAdminKeyFromEnvironment(t *testing.T) {
	secret := "env-admin-key-0123456789"
	rs := startServe(t, map[string]string{"CASTELLAN_ADMIN_KEY": secret})
	if st := rs.post(t, "/api/policy", map[string]any{"src": servePolicy}, nil); st != http.StatusUnauthorized {
		t.Errorf("no key with --admin-key set: status %d, want 401 (dev mode off)", st)
	}
	req, _ := http.NewRequest("GET", rs.url+"/admin/v1/keys", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("admin key from CASTELLAN_ADMIN_KEY: status %d", resp.StatusCode)
	}
	if strings.Contains(rs.log.String(), secret) {
		t.Error("the log shows the admin key")
	}
}

func TestServePolicyWatch(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "policy.polar")
	if err := os.WriteFile(file, []byte(servePolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	rs := startServe(t, nil, "--policy", file, "--watch", "--watch-interval", "20ms")
	if !rs.allowed(t, "a", "read", "d") {
		t.Fatal("the --policy file is not live")
	}

	// A broken edit is logged with its position; the last good policy stays.
	if err := os.WriteFile(file, []byte(servePolicy+"\nresource Broken {\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(rs.log.String(), "policy reload failed") })
	if !strings.Contains(rs.log.String(), "policy.polar:") {
		t.Errorf("the reload error does not name the file position:\n%s", rs.log)
	}
	if !rs.allowed(t, "a", "read", "d") {
		t.Fatal("a broken edit replaced the live policy")
	}

	// A good edit goes live: "read" now needs a role nobody has.
	edited := "actor User {}\nresource Doc {\n  roles = [\"reader\", \"owner\"];\n  permissions = [\"read\"];\n  \"read\" if \"owner\";\n}\n"
	if err := os.WriteFile(file, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { st, allowed := rs.authorize(t, "a", "read", "d"); return st == 200 && !allowed })

	// Over stored facts, an edit with no allow rule is refused like an
	// upload without "force" (unless --policy-force); the last policy stays.
	// (The insert is retried: the watcher may have caught the file half
	// written, empty, and made that live for a moment while no fact was
	// stored, which the guard lets pass.)
	owner := []any{map[string]any{"inserts": []any{map[string]any{"predicate": "has_role",
		"args": []any{map[string]any{"type": "User", "id": "a"}, map[string]any{"type": "String", "id": "owner"}, map[string]any{"type": "Doc", "id": "d"}}}}}}
	waitFor(t, func() bool { return rs.post(t, "/api/batch", owner, nil) == http.StatusOK })
	if err := os.WriteFile(file, []byte("actor User {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(rs.log.String(), "the policy has no allow rule") })
	if !rs.allowed(t, "a", "read", "d") {
		t.Fatal("a rule-less edit replaced the live policy")
	}
}

func TestServeMetricsAddr(t *testing.T) {
	rs := startServe(t, nil, "--metrics-addr", "127.0.0.1:0")
	resp, err := http.Get(rs.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/metrics on the API listener: %d, want 404", resp.StatusCode)
	}
	var addr string
	for _, line := range strings.Split(rs.log.String(), "\n") {
		var l struct{ Addr, Message string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Message == "metrics served on /metrics" {
			addr = l.Addr
		}
	}
	if addr == "" {
		t.Fatalf("no metrics listener in the log:\n%s", rs.log)
	}
	resp, err = http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "castellan_auth_failures_total") {
		t.Errorf("--metrics-addr: %d %.200s", resp.StatusCode, b)
	}
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 500 {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("condition not met in time")
}

func TestServePostgres(t *testing.T) {
	url := pgtest.NewDatabase(t)
	rs := startServe(t, map[string]string{"CASTELLAN_DATABASE_URL": url}, "--dev")
	if st := rs.post(t, "/api/policy", map[string]any{"src": servePolicy}, nil); st != 200 {
		t.Fatalf("policy upload: status %d\n%s", st, rs.log)
	}
	if !rs.allowed(t, "a", "read", "d") {
		t.Error("not allowed through the postgres store")
	}
	if !strings.Contains(rs.log.String(), `"store":"postgres"`) {
		t.Errorf("start line does not say postgres:\n%s", rs.log)
	}
	if strings.Contains(rs.log.String(), url) {
		t.Error("the log shows the database URL")
	}
}

func TestServeBadPolicyAtStart(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "bad.polar")
	if err := os.WriteFile(file, []byte("actor User {}\nresource Doc { permissions = [\"read\"]; \"read\" if \"nope\"; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	log := &lockedBuffer{}
	e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: log, getenv: func(string) string { return "" }}
	code := run(t.Context(), e, []string{"serve", "--addr", "127.0.0.1:0", "--policy", file})
	if code != exitFailed {
		t.Errorf("exit code %d, want %d", code, exitFailed)
	}
	if !strings.Contains(log.String(), "bad.polar:2:") {
		t.Errorf("the errors do not name the position:\n%s", log)
	}
}

// parseServeCase is a case of parseServe: with environ and args, check
// of the configuration is want, or the error contains wantErr.
type parseServeCase struct {
	name    string
	environ map[string]string
	args    []string
	check   func(c serveConfig) any
	want    any
	wantErr string
}

func TestParseServe(t *testing.T) {
	runParseServe(t, []parseServeCase{
		{name: "defaults", check: func(c serveConfig) any { return []any{c.Addr, c.Dev, c.Server.MaxBodyBytes, c.Server.MaxContextFacts} },
			want: []any{":8080", true, int64(10 << 20), 1000}},
		{name: "database turns dev off", args: []string{"--database-url", "postgres://x"}, check: func(c serveConfig) any { return c.Dev }, want: false},
		{name: "explicit dev wins", args: []string{"--database-url", "postgres://x", "--dev"}, check: func(c serveConfig) any { return c.Dev }, want: true},
		{name: "env then flags", environ: map[string]string{"CASTELLAN_ADDR": ":9000", "CASTELLAN_MAX_CONTEXT_FACTS": "5"}, args: []string{"--max-context-facts", "7"},
			check: func(c serveConfig) any { return []any{c.Addr, c.Server.MaxContextFacts} }, want: []any{":9000", 7}},
		{name: "policy files", args: []string{"--policy", "a.polar", "b.polar"}, check: func(c serveConfig) any { return c.Policies }, want: []string{"a.polar", "b.polar"}},
		{name: "bad env", environ: map[string]string{"CASTELLAN_QUERY_TIMEOUT": "soon"}, wantErr: "CASTELLAN_QUERY_TIMEOUT"},
		{name: "watch without policy", args: []string{"--watch"}, wantErr: "--watch needs --policy"},
		{name: "migrate without database", args: []string{"--migrate"}, wantErr: "--migrate needs --database-url"},
		{name: "read database without database", args: []string{"--read-database-url", "postgres://x"}, wantErr: "--read-database-url needs --database-url"},
		{name: "negative retention", args: []string{"--change-log-retention", "-1s"}, wantErr: "--change-log-retention must not be negative"},
		{name: "bad limit", args: []string{"--max-batch-facts", "0"}, wantErr: "max batch facts"},
		{name: "stray argument", args: []string{"extra"}, wantErr: "unexpected argument"},
		{name: "ops defaults", check: func(c serveConfig) any {
			return []any{c.Server.MaxInFlight, c.Server.AuthFailureRate, c.Server.KeyFailureRate, c.Server.MetricsAuth, c.Server.MetricsSeparate, c.PolicyForce}
		}, want: []any{server.DefaultMaxInFlightPerCPU * runtime.GOMAXPROCS(0), 1.0, 0.1, false, false, false}},
		{name: "ops flags", args: []string{"--trusted-proxies", "10.0.0.0/8,192.0.2.1", "--metrics-addr", ":9100", "--metrics-auth", "--policy-force", "--max-in-flight", "0"},
			check: func(c serveConfig) any {
				return []any{c.Server.TrustedProxies, c.Server.MetricsSeparate, c.Server.MetricsAuth, c.PolicyForce, c.Server.MaxInFlight}
			}, want: []any{[]string{"10.0.0.0/8", "192.0.2.1"}, true, true, true, 0}},
		{name: "bad trusted proxy", args: []string{"--trusted-proxies", "10.0.0.0/33"}, wantErr: "trusted proxy"},
		{name: "bad public URL", args: []string{"--public-url", "pdp.example.com"}, wantErr: "public URL"},
		{name: "git source", environ: map[string]string{"CASTELLAN_POLICY_GIT_TOKEN_ENV": "GH_TOKEN"},
			args: []string{"--policy-git-url", "https://git.example/p.git", "--policy-git-path", "authz"},
			check: func(c serveConfig) any {
				return []any{c.Git.URL, c.Git.Branch, c.Git.Path, c.Git.PollInterval, c.Git.TokenEnv}
			}, want: []any{"https://git.example/p.git", "main", "authz", 30 * time.Second, "GH_TOKEN"}},
		{name: "git and files", args: []string{"--policy-git-url", "/srv/p.git", "--policy", "a.polar"}, wantErr: "not both"},
		{name: "git poll interval", args: []string{"--policy-git-url", "/srv/p.git", "--policy-git-poll-interval", "0s"}, wantErr: "--policy-git-poll-interval must be positive"},
	})
}

func runParseServe(t *testing.T, tests []parseServeCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := &env{stdout: io.Discard, stderr: io.Discard, getenv: func(k string) string { return tc.environ[k] }}
			c, err := parseServe(e, tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, errUsage) {
					t.Fatalf("error %v, want a usage error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, tc.check(c)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestServeGracefulShutdown stops the server while a request is half sent:
// the request still gets its answer, and serve returns cleanly.
func TestServeGracefulShutdown(t *testing.T) {
	log := &lockedBuffer{}
	e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: log, getenv: func(string) string { return "" }}
	c, err := parseServe(e, []string{"--addr", "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, e, c, func(a string) { addr <- a }) }()
	a := <-addr

	conn, err := net.Dial("tcp", a)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"actor_type":"User","actor_id":"a","action":"read","resource_type":"Doc","resource_id":"d"}`
	head := fmt.Sprintf("POST /api/authorize HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	if _, err := io.WriteString(conn, head+body[:10]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the server is reading the body
	cancel()
	waitFor(t, func() bool { return strings.Contains(log.String(), "shutting down") })
	if _, err := io.WriteString(conn, body[10:]); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer of the in-flight request: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"allowed":false`) {
		t.Errorf("in-flight request answered %d %s", resp.StatusCode, b)
	}
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
}

// TestServeDatabaseWait starts serve with --database-wait while its
// PostgreSQL is down: serve logs each attempt and comes up once the
// database is started. A database that refuses for another reason (here,
// one that does not exist) fails at once.
func TestServeDatabaseWait(t *testing.T) {
	c := pgtest.NewCluster(t)
	c.Kill(t)
	log := &lockedBuffer{}
	e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: log, getenv: func(string) string { return "" }}
	cfg, err := parseServe(e, []string{"--addr", "127.0.0.1:0", "--dev", "--database-url", c.URL(), "--migrate", "--database-wait", "2m"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, e, cfg, func(a string) { addr <- a }) }()
	waitFor(t, func() bool { return strings.Count(log.String(), "waiting for the database") >= 2 })
	select {
	case a := <-addr:
		t.Fatalf("serve listens on %s with its database down", a)
	case err := <-done:
		t.Fatalf("serve stopped while waiting for the database: %v\n%s", err, log)
	default:
	}
	c.Start(t)
	var rs runningServer
	select {
	case a := <-addr:
		rs = runningServer{url: "http://" + a, log: log}
	case err := <-done:
		t.Fatalf("serve stopped: %v\n%s", err, log)
	case <-time.After(time.Minute):
		t.Fatalf("serve did not come up after the database started:\n%s", log)
	}
	if st := rs.post(t, "/api/policy", map[string]any{"src": servePolicy}, nil); st != 200 {
		t.Fatalf("policy upload: status %d\n%s", st, log)
	}
	if !rs.allowed(t, "a", "read", "d") {
		t.Error("not allowed after waiting for the database")
	}
	if !strings.Contains(log.String(), `"attempt":1`) {
		t.Errorf("the wait's log lines do not count attempts:\n%s", log)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}

	// Not a connection error: no wait.
	missing := strings.Replace(c.URL(), "/postgres?", "/no_such_database?", 1)
	log2 := &lockedBuffer{}
	e2 := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: log2, getenv: func(string) string { return "" }}
	code := run(t.Context(), e2, []string{"serve", "--addr", "127.0.0.1:0", "--database-url", missing, "--database-wait", "2m"})
	if code == 0 || strings.Contains(log2.String(), "waiting for the database") {
		t.Errorf("a missing database: exit code %d, want a failure without waiting:\n%s", code, log2)
	}
	if !strings.Contains(log2.String(), "no_such_database") {
		t.Errorf("the error does not name the database:\n%s", log2)
	}
}
