package gitpolicy_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/castellan-authz/castellan/evaluator"
	"github.com/castellan-authz/castellan/gitpolicy"
	"github.com/castellan-authz/castellan/lang/ast"
	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/policy"
	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/memory"
)

// The policies the commits hold: v1 lets members read, v2 lets them edit
// too; broken does not parse; failing's test fails.
const (
	policyV1 = `actor User {}
resource Doc {
  roles = ["member"];
  permissions = ["read", "edit"];
  "read" if "member";
}
test "members read" {
  setup { has_role(User{"a"}, "member", Doc{"d"}); }
  assert allow(User{"a"}, "read", Doc{"d"});
  assert_not allow(User{"a"}, "edit", Doc{"d"});
}
`
	policyV2 = `actor User {}
resource Doc {
  roles = ["member"];
  permissions = ["read", "edit"];
  "read" if "member";
  "edit" if "member";
}
test "members read and edit" {
  setup { has_role(User{"a"}, "member", Doc{"d"}); }
  assert allow(User{"a"}, "edit", Doc{"d"});
}
`
	broken = `actor User {}
resource Doc {
  roles = ["member"]
  permissions = ["read"];
}
`
	failing = `actor User {}
resource Doc {
  roles = ["member"];
  permissions = ["read"];
}
test "members read" {
  setup { has_role(User{"a"}, "member", Doc{"d"}); }
  assert allow(User{"a"}, "read", Doc{"d"});
}
`
	shared = `# the users who may read every document
has_permission(user: User, "read", _doc: Doc) if user = User{"root"};
`
)

// source returns a source on cfg loading into a new manager on a memory
// store, and the log it writes.
func source(t *testing.T, cfg gitpolicy.Config) (*gitpolicy.Source, *policy.Manager, *memory.Store, *bytes.Buffer) {
	t.Helper()
	st := memory.New()
	m, err := policy.NewManager(t.Context(), st)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	s, err := gitpolicy.New(cfg, m, zerolog.New(&log))
	if err != nil {
		t.Fatal(err)
	}
	return s, m, st, &log
}

// allowed asks the live policy whether User{"a"} may do action on Doc{"d"}
// given (as a context fact) that a is a member of d.
func allowed(t *testing.T, m *policy.Manager, action string) bool {
	t.Helper()
	member := term.Fact{Predicate: "has_role", Args: []term.Value{term.Entity("User", "a"), term.String("member"), term.Entity("Doc", "d")}}
	d, err := m.Live().Evaluator().Authorize(t.Context(), evaluator.Request{Context: []term.Fact{member}},
		term.Entity("User", "a"), action, term.Entity("Doc", "d"))
	if err != nil {
		t.Fatal(err)
	}
	return d.Allowed
}

func mustPoll(t *testing.T, s *gitpolicy.Source) gitpolicy.Result {
	t.Helper()
	res, err := s.Poll(t.Context())
	if err != nil {
		t.Fatalf("Poll: %v", err)
	}
	return res
}

// TestLocalRepository follows a bare repository on disk, by path and by
// file:// URL, through good, unchanged, broken and failing commits.
func TestLocalRepository(t *testing.T) {
	for _, tc := range []struct {
		name string
		url  func(dir string) string
	}{
		{"path", func(dir string) string { return dir }},
		{"file URL", func(dir string) string { return "file://" + dir }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRepo(t, t.TempDir(), "policies.git")
			c1 := r.commit("members read", map[string]string{"policies/main.polar": policyV1, "policies/shared.polar": shared, "README.md": "policies\n"})
			s, m, st, log := source(t, gitpolicy.Config{URL: tc.url(r.dir), Path: "policies"})
			testFollow(t, r, s, m, st, log, c1)
		})
	}
}

// testFollow runs the story of a followed repository whose first commit,
// c1, holds policyV1 and shared under policies/.
func testFollow(t *testing.T, r *repo, s *gitpolicy.Source, m *policy.Manager, st *memory.Store, log *bytes.Buffer, c1 string) {
	ctx := t.Context()
	res := mustPoll(t, s)
	if res != (gitpolicy.Result{Commit: c1, Version: 1, Changed: true}) {
		t.Fatalf("first poll = %+v", res)
	}
	live, err := st.LivePolicy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if live.Source != store.PolicySourceGit || live.Commit != c1 || live.TestCount != 1 || live.CreatedBy != "git:alice@example.com" {
		t.Errorf("stored version: source %q commit %q tests %d by %q", live.Source, live.Commit, live.TestCount, live.CreatedBy)
	}
	if names := []string{live.Files[0].Filename, live.Files[1].Filename}; len(live.Files) != 2 || names[0] != "policies/main.polar" || names[1] != "policies/shared.polar" {
		t.Errorf("stored files %v", live.Files)
	}
	if !allowed(t, m, "read") || allowed(t, m, "edit") {
		t.Error("version 1 does not answer as policyV1")
	}

	if res := mustPoll(t, s); res != (gitpolicy.Result{Commit: c1, Seen: true}) {
		t.Errorf("poll of the same commit = %+v", res)
	}

	// A commit that changes no policy file: nothing is saved.
	c2 := r.commit("docs", map[string]string{"README.md": "the policies of the docs service\n"})
	if res := mustPoll(t, s); res != (gitpolicy.Result{Commit: c2, Version: 1}) {
		t.Errorf("poll of a commit with the same policy = %+v", res)
	}

	// A broken commit: refused with its position, logged, not retried.
	c3 := r.commit("typo", map[string]string{"policies/main.polar": broken})
	_, err = s.Poll(ctx)
	ce, ok := errors.AsType[*gitpolicy.CommitError](err)
	if !ok || ce.Commit != c3 {
		t.Fatalf("poll of a broken commit: %v, want a CommitError of %s", err, c3)
	}
	if _, ok := errors.AsType[ast.ErrorList](err); !ok || !strings.Contains(err.Error(), "policies/main.polar:4:") {
		t.Errorf("broken commit error %q: want a policy error at policies/main.polar:4:col", err)
	}
	if res := mustPoll(t, s); res != (gitpolicy.Result{Commit: c3, Seen: true}) {
		t.Errorf("poll after a broken commit = %+v, want it seen", res)
	}
	if m.Live().Version() != 1 || !allowed(t, m, "read") {
		t.Errorf("live version %d after a broken commit, want 1", m.Live().Version())
	}
	log.Reset()
	r.commit("still broken", map[string]string{"policies/main.polar": broken + "\n"})
	s.PollAndLog(ctx)
	if !strings.Contains(log.String(), `"level":"error"`) || !strings.Contains(log.String(), "policies/main.polar:4:") ||
		!strings.Contains(log.String(), "the last good policy stays live") {
		t.Errorf("log of a broken commit: %s", log)
	}

	// A commit whose tests fail.
	r.commit("forgot a line", map[string]string{"policies/main.polar": failing})
	_, err = s.Poll(ctx)
	if _, ok := errors.AsType[*policy.TestsFailedError](err); !ok || !strings.Contains(err.Error(), `policies/main.polar:8:`) {
		t.Errorf("poll of a commit whose tests fail: %v", err)
	}

	// The fix goes live, with its commit.
	c6 := r.commit("members edit", map[string]string{"policies/main.polar": policyV2})
	if res := mustPoll(t, s); res != (gitpolicy.Result{Commit: c6, Version: 2, Changed: true}) {
		t.Errorf("poll of the fix = %+v", res)
	}
	if !allowed(t, m, "edit") {
		t.Error("version 2 does not answer as policyV2")
	}
	hist, err := st.ListPolicies(ctx, store.PolicyFilter{})
	if err != nil || len(hist) != 2 || hist[0].Commit != c6 || hist[1].Commit != c1 || hist[0].Status != store.PolicyLive {
		t.Errorf("versions %+v, %v: want the commits %s and %s", hist, err, c6, c1)
	}
}

// TestPathAndFiles covers Path naming one file, a missing path, and a
// repository without policy files.
func TestPathAndFiles(t *testing.T) {
	r := newRepo(t, t.TempDir(), "p.git")
	r.commit("one", map[string]string{"authz/main.polar": policyV1, "authz/shared.polar": shared})
	// Path names one file: the policy is that file alone.
	s, _, st, _ := source(t, gitpolicy.Config{URL: r.dir, Path: "/authz/main.polar/"})
	if res := mustPoll(t, s); res.Version != 1 {
		t.Errorf("poll of one file = %+v, want version 1 loaded", res)
	}
	if live, err := st.LivePolicy(t.Context()); err != nil || len(live.Files) != 1 || live.Files[0].Filename != "authz/main.polar" {
		t.Errorf("live policy of one file: %+v, %v", live, err)
	}
	s, _, _, _ = source(t, gitpolicy.Config{URL: r.dir, Path: "nowhere"})
	if _, err := s.Poll(t.Context()); err == nil || !strings.Contains(err.Error(), "no .polar files: nowhere is not in the repository") {
		t.Errorf("poll of a missing path: %v", err)
	}
	s, _, _, _ = source(t, gitpolicy.Config{URL: r.dir, Branch: "release"})
	if _, err := s.Poll(t.Context()); err == nil || !strings.Contains(err.Error(), "branch release") {
		t.Errorf("poll of a missing branch: %v", err)
	}
	empty := newRepo(t, t.TempDir(), "e.git")
	empty.commit("readme", map[string]string{"README.md": "nothing yet\n"})
	s, _, _, _ = source(t, gitpolicy.Config{URL: empty.dir})
	if _, err := s.Poll(t.Context()); err == nil || !strings.Contains(err.Error(), "no .polar files in the repository") {
		t.Errorf("poll of a repository without policy files: %v", err)
	}
}

// TestConfigErrors checks that New names the setting at fault.
func TestConfigErrors(t *testing.T) {
	m, err := policy.NewManager(context.Background(), memory.New())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cfg  gitpolicy.Config
		want string
	}{
		{gitpolicy.Config{}, "policy.git.url is required"},
		{gitpolicy.Config{URL: "ssh://git@example.com/p.git", SSHKey: "k"}, "policy.git.known_hosts is required for ssh URLs"},
		{gitpolicy.Config{URL: "git@example.com:p.git", KnownHosts: "kh"}, "policy.git.ssh_key is required"},
		{gitpolicy.Config{URL: "ssh://git@example.com/p.git", KnownHosts: "kh", SSHKey: "/nonexistent/key"}, "policy.git.ssh_key"},
		{gitpolicy.Config{URL: "https://example.com/p.git", TokenEnv: "A", TokenFile: "b"}, "not both"},
		{gitpolicy.Config{URL: "git://example.com/p.git", TokenEnv: "A"}, "a token authenticates http(s) URLs only"},
		{gitpolicy.Config{URL: "/tmp/x", PollInterval: -1}, "poll_interval must be positive"},
	} {
		_, err := gitpolicy.New(tc.cfg, m, zerolog.Nop())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v, want an error containing %q", tc.cfg, err, tc.want)
		}
	}
}

// TestReplicas: a second server on the same store (or the same server
// restarted) finds the commit loaded already and follows it instead of
// saving it again.
func TestReplicas(t *testing.T) {
	r := newRepo(t, t.TempDir(), "p.git")
	c1 := r.commit("one", map[string]string{"main.polar": policyV1})
	st := memory.New()
	for i := range 2 {
		m, err := policy.NewManager(t.Context(), st)
		if err != nil {
			t.Fatal(err)
		}
		s, err := gitpolicy.New(gitpolicy.Config{URL: r.dir}, m, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		res := mustPoll(t, s)
		if res.Commit != c1 || res.Version != 1 || res.Changed != (i == 0) || m.Live().Version() != 1 {
			t.Errorf("server %d: poll = %+v, live %d", i, res, m.Live().Version())
		}
	}
	if h, _ := st.PolicyHistory(t.Context()); len(h) != 1 {
		t.Errorf("%d versions saved, want 1", len(h))
	}
}
