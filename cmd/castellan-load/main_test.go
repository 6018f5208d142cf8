package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSmoke runs the whole tool in its short mode against a real
// `castellan serve` on the memory store: load 10,000 facts, drive the no-op
// baseline and Castellan for a second each, and require every answer to be
// right. It asserts nothing about speed.
func TestSmoke(t *testing.T) {
	bin := buildCastellan(t)
	var out bytes.Buffer
	cfg, err := parseFlags([]string{
		"-serve", "-castellan", bin, "-facts", "10000", "-d", "1s", "-warmup", "0", "-c", "4", "-checks", "1000",
	}, &out)
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
	if rep.facts != 10000 {
		t.Errorf("loaded %d facts, want 10000", rep.facts)
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
}

func TestModel(t *testing.T) {
	m := newModel(7, 2000)
	var facts []fact
	m.facts(func(f fact) bool { facts = append(facts, f); return true })
	if len(facts) != m.numFacts() || len(facts) != 2000 {
		t.Errorf("got %d facts, numFacts says %d, want 2000", len(facts), m.numFacts())
	}
	seen := make(map[string]bool)
	for _, f := range facts {
		k := f.Predicate + f.Args[0].ID + f.Args[1].ID + f.Args[2].Type + f.Args[2].ID
		if seen[k] {
			t.Fatalf("duplicate fact %v", f)
		}
		seen[k] = true
	}

	// The model and the checks are deterministic.
	again := newModel(7, 2000)
	var facts2 []fact
	again.facts(func(f fact) bool { facts2 = append(facts2, f); return true })
	if diff := cmp.Diff(facts, facts2); diff != "" {
		t.Errorf("same seed, different facts (-first +second):\n%s", diff)
	}
	if diff := cmp.Diff(m.checks(3, 100, 0.5), again.checks(3, 100, 0.5), cmp.AllowUnexported(check{})); diff != "" {
		t.Errorf("same seed, different checks (-first +second):\n%s", diff)
	}

	// The oracle against the facts, for the roles of one repository.
	r := int32(5)
	o := m.parent[r]
	for _, g := range m.repoRoles[r] {
		if !m.allowed(g.user, "read", r) {
			t.Errorf("%s is %s of %s but may not read it", userID(g.user), g.role, repoID(r))
		}
		if got, want := m.allowed(g.user, "push", r), g.role == "maintainer" || m.orgRole(g.user, o) == "owner"; got != want {
			t.Errorf("push(%s, %s) = %t, want %t", userID(g.user), repoID(r), got, want)
		}
	}
	for _, g := range m.orgRoles[o] {
		if !m.allowed(g.user, "read", r) {
			t.Errorf("%s is %s of %s, the parent of %s, but may not read it", userID(g.user), g.role, orgID(o), repoID(r))
		}
		if g.role == "owner" && !m.allowed(g.user, "delete", r) {
			t.Errorf("%s owns %s but may not delete %s", userID(g.user), orgID(o), repoID(r))
		}
	}

	var allowed int
	cs := m.checks(3, 1000, 0.6)
	for _, c := range cs {
		if c.allowed {
			allowed++
		}
	}
	if allowed < 100 || allowed > 900 {
		t.Errorf("%d of %d checks allowed; want a mix", allowed, len(cs))
	}
}

// orgRole returns the role user holds on organization o, or "".
func (m *model) orgRole(user, o int32) string {
	for _, g := range m.orgRoles[o] {
		if g.user == user {
			return g.role
		}
	}
	return ""
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
