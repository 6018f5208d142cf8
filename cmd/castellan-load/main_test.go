package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/castellan-authz/castellan/store/pgtest"
)

func TestMain(m *testing.M) {
	// -noop-process starts this binary again as the no-op server.
	if os.Getenv(noopEnv) == "1" {
		if err := serveNoop(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSmoke runs the whole tool in its short mode against a real
// `castellan serve`, on the memory store and on PostgreSQL: load about
// 10,000 facts, drive the no-op baseline and Castellan for a second each,
// and require every answer to be right. It asserts nothing about speed.
func TestSmoke(t *testing.T) {
	bin := buildCastellan(t)
	memory := func(testing.TB) string { return "" }
	tests := []struct {
		name     string
		database func(testing.TB) string // "" for the memory store
		extra    []string
	}{
		{"store=memory", memory, nil},
		{"store=memory/noop=process", memory, []string{"-noop-process"}},
		{"store=memory/client=fasthttp", memory, []string{"-client", "fasthttp"}},
		{"store=postgres", pgtest.NewDatabase, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"-serve", "-castellan", bin, "-facts", "10000", "-d", "1s", "-warmup", "0", "-c", "4", "-checks", "1000"}
			if db := tc.database(t); db != "" {
				args = append(args, "-database-url", db)
			}
			args = append(args, tc.extra...)
			var out bytes.Buffer
			cfg, err := parseFlags(args, &out)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := measure(t.Context(), cfg, &out)
			if err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			rep.print(&out)
			t.Log(out.String())
			if err := rep.err(); err != nil {
				t.Fatal(err)
			}
			if rep.facts < 9000 || rep.facts > 11000 {
				t.Errorf("loaded %d facts, want about 10000", rep.facts)
			}
			for _, res := range []*result{rep.baseline, rep.castellan} {
				if res.requests == 0 || len(res.lat) != res.requests {
					t.Errorf("%s: %d requests with %d latencies; want some, one latency each", res.name, res.requests, len(res.lat))
				}
			}
			if c := rep.castellan; c.allowed == 0 || c.allowed == c.requests {
				t.Errorf("castellan allowed %d of %d checks; want a mix of allowed and denied", c.allowed, c.requests)
			}
			for _, want := range []string{"no-op chi", "castellan", "castellan / no-op: throughput"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("report lacks %q", want)
				}
			}
		})
	}
}

// TestBatchAndWrites runs the batch mode (every batch endpoint, a batch of
// 20 checks) on the memory store and the writes mode on PostgreSQL, each
// briefly against a real `castellan serve`: every check must be answered
// right and every fact told read back. It asserts nothing about speed.
func TestBatchAndWrites(t *testing.T) {
	bin := buildCastellan(t)
	common := []string{"-serve", "-castellan", bin, "-facts", "5000", "-d", "1s", "-rounds", "1", "-warmup", "0", "-c", "4"}
	for _, client := range clientNames {
		t.Run("batch/client="+client, func(t *testing.T) {
			var out bytes.Buffer
			err := run(t.Context(), append([]string{"batch", "-batch-size", "20", "-checks", "1000", "-client", client}, common...), &out, &out)
			t.Log(out.String())
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"authorize_resources", "bulk_actions", "evaluations", "checks/s", "client: " + client} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("report lacks %q", want)
				}
			}
		})
	}
	t.Run("writes", func(t *testing.T) {
		var out bytes.Buffer
		err := run(t.Context(), append([]string{"writes", "-writers", "4", "-checks", "1000", "-database-url", pgtest.NewDatabase(t)}, common...), &out, &out)
		t.Log(out.String())
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"readers alone", "writers with readers", "readers' p99 with writers / alone"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("report lacks %q", want)
			}
		}
	})
	t.Run("unknown endpoint", func(t *testing.T) {
		var out bytes.Buffer
		err := run(t.Context(), append([]string{"batch", "-endpoints", "authorize,nope"}, common...), &out, &out)
		if err == nil || !strings.Contains(err.Error(), `unknown endpoint "nope"`) {
			t.Fatalf("err = %v, want the unknown endpoint named", err)
		}
	})
}

func TestModel(t *testing.T) {
	m, err := newModel(7, 20*factsPerOrg)
	if err != nil {
		t.Fatal(err)
	}
	if m.orgs != 20 || len(m.repoIDs) != 200 || len(m.issueIDs) != 400 {
		t.Errorf("got %d organizations, %d repositories, %d issues; want 20, 200, 400", m.orgs, len(m.repoIDs), len(m.issueIDs))
	}
	f := clientFact(m.facts[0])
	if f.String() != m.facts[0].String() {
		t.Errorf("clientFact(%s) = %s", m.facts[0], f)
	}

	// The checks are deterministic.
	again, err := newModel(7, 20*factsPerOrg)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m.checks(3, 200, 0.5), again.checks(3, 200, 0.5), cmp.AllowUnexported(check{})); diff != "" {
		t.Errorf("same seed, different checks (-first +second):\n%s", diff)
	}

	// The oracle follows evaltest.GitHubPolicy.
	nobody := int32(-1)
	for r := range int32(len(m.repoIDs)) {
		o := m.repoOrg[r]
		for _, g := range m.orgRoles[o] {
			owner := g.roles&roleOwner != 0
			for action, want := range map[string]bool{"read": true, "create_issue": true, "push": owner, "delete": owner} {
				if got := m.repoAllowed(g.user, action, r); got != want && rolesOf(m.repoRoles[r], g.user) == 0 {
					t.Errorf("%s(%s, %s) = %t, want %t (organization roles %b)", action, m.users[g.user], m.repoIDs[r], got, want, g.roles)
				}
			}
		}
		for _, g := range m.repoRoles[r] {
			if g.roles&roleAdmin != 0 && !m.repoAllowed(g.user, "delete", r) {
				t.Errorf("%s is admin of %s but may not delete it", m.users[g.user], m.repoIDs[r])
			}
			if !m.repoAllowed(g.user, "read", r) {
				t.Errorf("%s holds roles %b on %s but may not read it", m.users[g.user], g.roles, m.repoIDs[r])
			}
		}
		if got := m.repoAllowed(nobody, "read", r); got != m.public[r] {
			t.Errorf("read(nobody, %s) = %t, want %t (public)", m.repoIDs[r], got, m.public[r])
		}
		if m.repoAllowed(nobody, "push", r) {
			t.Errorf("push(nobody, %s) allowed", m.repoIDs[r])
		}
	}
	for i := range int32(len(m.issueIDs)) {
		if !m.issueAllowed(m.issueCreator[i], "close", i) {
			t.Errorf("the creator of %s may not close it", m.issueIDs[i])
		}
		if m.issueAllowed(nobody, "close", i) {
			t.Errorf("close(nobody, %s) allowed", m.issueIDs[i])
		}
	}

	var allowed int
	cs := m.checks(3, 1000, 0.7)
	for _, c := range cs {
		if c.allowed {
			allowed++
		}
	}
	if allowed < 200 || allowed > 800 {
		t.Errorf("%d of %d checks allowed; want a mix", allowed, len(cs))
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"serve", []string{"-serve"}, ""},
		{"loopback ip", []string{"-url", "http://127.0.0.1:8080"}, ""},
		{"loopback ipv6", []string{"-url", "http://[::1]:8080"}, ""},
		{"localhost", []string{"-url", "http://localhost:8080"}, ""},
		{"remote host", []string{"-url", "http://example.com:8080"}, "only loopback"},
		{"remote ip", []string{"-url", "http://10.0.0.1"}, "only loopback"},
		{"bad scheme", []string{"-url", "ftp://127.0.0.1"}, "scheme"},
		{"neither", nil, "exactly one of -serve and -url"},
		{"both", []string{"-serve", "-url", "http://127.0.0.1"}, "exactly one"},
		{"database without serve", []string{"-url", "http://127.0.0.1", "-database-url", "postgres://x"}, "need -serve"},
		{"zero workers", []string{"-serve", "-c", "0"}, "at least 1"},
		{"zero duration", []string{"-serve", "-d", "0s"}, "-d must be positive"},
		{"related out of range", []string{"-serve", "-related", "1.5"}, "between 0 and 1"},
		{"stray argument", []string{"-serve", "extra"}, "unexpected arguments"},
		{"fasthttp client", []string{"-serve", "-client", "fasthttp"}, ""},
		{"unknown client", []string{"-serve", "-client", "curl"}, `unknown client "curl"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseFlags(tc.args, new(bytes.Buffer))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
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

func TestParseFailoverFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    failoverConfig
		wantErr string
	}{
		{name: "defaults", want: failoverConfig{script: "scripts/ha-cluster", writers: 4, readers: 4, warm: 8 * time.Second, settle: 5 * time.Second}},
		{name: "multi-host", args: []string{"-multi-host", "-writers", "2", "-port-base", "30000"},
			want: failoverConfig{script: "scripts/ha-cluster", writers: 2, readers: 4, warm: 8 * time.Second, settle: 5 * time.Second, multiHost: true, portBase: 30000}},
		{name: "no writers", args: []string{"-writers", "0"}, wantErr: "at least 1"},
		{name: "stray argument", args: []string{"now"}, wantErr: "unexpected arguments: now"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseFailoverFlags(tc.args, &bytes.Buffer{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, *got, cmp.AllowUnexported(failoverConfig{})); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}
