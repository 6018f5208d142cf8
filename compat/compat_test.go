package compat

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/castellan-authz/castellan/store/pgtest"
)

// devToken is the API key every Oso SDK integration test uses against the
// Oso dev server; `castellan serve --dev` accepts it.
const devToken = "e_0123456789_12345_osotesttoken01xiIn"

// nodeTestFiles are the files of node/ that a test run needs.
var nodeTestFiles = []string{"package.json", "package-lock.json", "policy.mjs", "sdk.test.mjs", "sdk_v1.test.mjs", "local.test.mjs"}

func TestNodeSDK(t *testing.T) {
	node := requireTool(t, "node")
	npm := requireTool(t, "npm")

	bin := buildCastellan(t)
	dir := installSDK(t, npm)

	tests := []struct {
		name string // the SDK release under test
		file string
	}{
		{"oso-cloud@2.6.0", "sdk.test.mjs"},
		{"oso-cloud@1.6.1", "sdk_v1.test.mjs"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runNodeTest(t, node, dir, startServer(t, bin), tc.file)
		})
	}
	// Local authorization: the SQL the SDK gets runs on the application's
	// database (PostgreSQL; skipped without it, except under CI=true).
	t.Run("oso-cloud@2.6.0/local", func(t *testing.T) {
		abs := func(name string) string {
			p, err := filepath.Abs(filepath.Join("..", "localauth", "testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		dbURL := localDatabase(t, abs("schema.sql"))
		runNodeTest(t, node, dir, startServer(t, bin), "local.test.mjs",
			"LOCAL_DATABASE_URL="+dbURL, "LOCAL_POLICY="+abs("app.polar"), "LOCAL_BINDINGS="+abs("app.yaml"))
	})
}

// runNodeTest runs one node test file against srv, with extra environment
// variables.
func runNodeTest(t *testing.T, node, dir string, srv *server, file string, environ ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", file)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "OSO_URL="+srv.url, "OSO_AUTH="+devToken, "NO_COLOR=1"), environ...)
	out, err := cmd.CombinedOutput()
	t.Logf("node --test %s (OSO_URL=%s):\n%s", file, srv.url, out)
	if err != nil {
		t.Errorf("the SDK test %s failed: %v\nlast lines of castellan serve's log:\n%s", file, err, srv.log.tail(40))
	}
}

// localDatabase creates the application's database of the Node local
// test: the schema of the localauth tests and a small world. Folders 1 <
// 2 < 3 nest, 5 and 6 form a cycle, 4 belongs to organization 1;
// repository 1 is in organization 1, 2 in folder 3, 3 in folder 5, 4 in
// neither; issues have creators (one with a quote) and some are public.
func localDatabase(t *testing.T, schemaFile string) string {
	t.Helper()
	schema, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	u := pgtest.NewDatabase(t)
	conn, err := pgx.Connect(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(t.Context(), string(schema)+`;
INSERT INTO organizations VALUES (1, 'acme'), (2, 'initech');
INSERT INTO folders VALUES (1, NULL, NULL), (2, 1, NULL), (3, 2, NULL), (4, NULL, 1), (5, NULL, NULL), (6, 5, 2);
UPDATE folders SET parent_id = 6 WHERE id = 5;
INSERT INTO repositories VALUES (1, 1, NULL), (2, NULL, 3), (3, NULL, 5), (4, NULL, NULL);
INSERT INTO issues VALUES (1, 1, 'o''brien', false), (2, 1, 'alice', true), (3, 2, 'carol', false), (4, 2, 'o''brien', false),
  (5, 3, 'dave', false), (6, 3, 'nobody', true), (7, 4, 'alice', false), (8, 4, 'bob', false);`)
	if err != nil {
		t.Fatalf("creating the application's database: %v", err)
	}
	return u
}

// requireTool returns the path of a program the test needs. A missing tool
// skips the test, except under CI=true, where it fails it.
func requireTool(tb testing.TB, name string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("%s is required under CI=true: %v", name, err)
	}
	tb.Skipf("%s not found (%v); install Node.js to run the SDK compatibility test", name, err)
	return ""
}

// buildCastellan builds cmd/castellan into a temporary directory and
// returns the binary's path.
func buildCastellan(tb testing.TB) string {
	tb.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(tb.TempDir(), "castellan")
	cmd := exec.Command(goBin, "build", "-o", bin, "github.com/castellan-authz/castellan/cmd/castellan")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build ./cmd/castellan: %v\n%s", err, out)
	}
	return bin
}

// server is a running `castellan serve`.
type server struct {
	url string
	log *syncBuffer
}

// startServer starts `castellan serve --dev` on a free loopback port, waits
// until it answers, and stops it when the test ends.
func startServer(tb testing.TB, bin string) *server {
	tb.Helper()
	addr := freeAddr(tb)
	s := &server{url: "http://" + addr, log: new(syncBuffer)}
	cmd := exec.Command(bin, "serve", "--addr", addr, "--dev")
	cmd.Stdout = s.log
	cmd.Stderr = s.log
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting castellan serve: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			tb.Errorf("castellan serve did not stop within 10s of SIGINT")
		}
	})

	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(s.url + "/api/healthcheck")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		select {
		case werr := <-exited:
			exited <- werr
			tb.Fatalf("castellan serve exited before answering (%v):\n%s", werr, s.log.tail(40))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("castellan serve did not answer GET /api/healthcheck within 30s (last: %v):\n%s", err, s.log.tail(40))
		}
	}
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("finding a free port: %v", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		tb.Fatalf("finding a free port: %v", err)
	}
	return addr
}

// installSDK copies the Node test project into a temporary directory and
// installs its locked dependencies there with `npm ci`, leaving the source
// tree untouched. It returns the directory.
func installSDK(tb testing.TB, npm string) string {
	tb.Helper()
	dir := tb.TempDir()
	for _, name := range nodeTestFiles {
		src, err := os.ReadFile(filepath.Join("node", name))
		if err != nil {
			tb.Fatalf("reading the Node test project: %v", err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), src, 0o644); err != nil {
			tb.Fatalf("copying the Node test project: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(tb.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("npm ci (installing oso-cloud from package-lock.json): %v\n%s", err, out)
	}
	return dir
}

// syncBuffer is a bytes.Buffer that a process's stdout and stderr can
// write to while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// tail returns the last n lines written.
func (b *syncBuffer) tail(n int) string {
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
