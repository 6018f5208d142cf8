package policy_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/castellan-authz/castellan/lang/ast"
	"github.com/castellan-authz/castellan/policy"
	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/memory"
)

// docs is a policy without tests: viewers view documents.
const docs = `actor User {}
resource Doc {
  roles = ["viewer"];
  permissions = ["view"];
  "view" if "viewer";
}
`

const (
	// passing is a policy whose test passes.
	passing = docs + `test "viewers view" {
  setup { has_role(User{"a"}, "viewer", Doc{"d"}); }
  assert allow(User{"a"}, "view", Doc{"d"});
}
`
	// failing is a policy whose test fails.
	failing = docs + `test "nobody views" {
  assert allow(User{"x"}, "view", Doc{"1"});
}
`
	// broken does not compile.
	broken = `actor User {}
resource Doc {
  permissions = ["view"];
  "view" if "viewr";
}
`
	// other is a second valid policy.
	other = `actor User {}
resource Doc { permissions = ["view"]; }
has_permission(_: User, "view", _: Doc);
`
)

func files(src string) []policy.File { return []policy.File{{Filename: "p.polar", Src: src}} }

func TestCompile(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		wantErr string // "": compiles; "tests": *TestsFailedError; "list": ast.ErrorList
	}{
		{name: "passing", src: passing},
		{name: "failing tests", src: failing, wantErr: "tests"},
		{name: "does not compile", src: broken, wantErr: "list"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := policy.Compile(t.Context(), files(tc.src))
			switch tc.wantErr {
			case "":
				if err != nil {
					t.Fatalf("Compile: %v", err)
				}
				if c.Version() != 0 || c.Evaluator() == nil || c.Program() == nil || len(c.Files()) != 1 {
					t.Errorf("Compile = version %d, files %d", c.Version(), len(c.Files()))
				}
			case "tests":
				tf, ok := errors.AsType[*policy.TestsFailedError](err)
				if !ok {
					t.Fatalf("Compile error %v, want a *TestsFailedError", err)
				}
				if tf.Failed() != 1 || !strings.Contains(tf.Error(), `p.polar:8:3: test "nobody views": assert allow(User{"x"}, "view", Doc{"1"})`) {
					t.Errorf("failed %d, error %q", tf.Failed(), tf.Error())
				}
			case "list":
				if _, ok := errors.AsType[ast.ErrorList](err); !ok {
					t.Fatalf("Compile error %v, want an ast.ErrorList", err)
				}
			}
		})
	}
}

func TestCompileOnlySkipsTests(t *testing.T) {
	c, err := policy.CompileOnly(files(failing))
	if err != nil {
		t.Fatalf("CompileOnly: %v", err)
	}
	res := c.RunTests(t.Context())
	if len(res) != 1 || res[0].OK() {
		t.Errorf("RunTests = %+v, want one failed test", res)
	}
}

func TestValidateFiles(t *testing.T) {
	many := make([]policy.File, policy.MaxFiles+1)
	tests := []struct {
		name    string
		files   []policy.File
		wantErr string
	}{
		{name: "one", files: files(passing)},
		{name: "no filename", files: []policy.File{{Filename: "a.polar"}, {Filename: " "}}, wantErr: "files[1]: filename is required"},
		{name: "twice", files: []policy.File{{Filename: "a.polar"}, {Filename: "a.polar"}}, wantErr: `files[1]: filename "a.polar" appears twice`},
		{name: "too many", files: many, wantErr: "files: 1001 files exceed the limit of 1000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := policy.ValidateFiles(tc.files)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidateFiles: %v", err)
				}
				return
			}
			if err == nil || err.Error() != tc.wantErr || !errors.Is(err, policy.ErrInvalidFiles) {
				t.Errorf("ValidateFiles = %v, want %q wrapping ErrInvalidFiles", err, tc.wantErr)
			}
		})
	}
}

// outcomes records what a manager observed.
type outcomes []policy.Outcome

func (o *outcomes) observe(x policy.Outcome) { *o = append(*o, x) }

func mustManager(tb testing.TB, ps store.PolicyStore, opts ...policy.Option) *policy.Manager {
	tb.Helper()
	m, err := policy.NewManager(tb.Context(), ps, opts...)
	if err != nil {
		tb.Fatalf("NewManager: %v", err)
	}
	return m
}

func mustLoad(tb testing.TB, m *policy.Manager, src string) policy.LoadResult {
	tb.Helper()
	res, err := m.Load(tb.Context(), files(src), "test")
	if err != nil {
		tb.Fatalf("Load: %v", err)
	}
	return res
}

func TestManagerLoad(t *testing.T) {
	var got outcomes
	m := mustManager(t, memory.New(), policy.WithObserver(got.observe))
	if live := m.Live(); live.Version() != 0 || live.Files() != nil || live.FactValidator() != nil {
		t.Fatalf("empty policy: version %d, files %v", live.Version(), live.Files())
	}
	if res := mustLoad(t, m, passing); res != (policy.LoadResult{Version: 1, Changed: true}) {
		t.Errorf("first Load = %+v", res)
	}
	if res := mustLoad(t, m, passing); res != (policy.LoadResult{Version: 1}) {
		t.Errorf("unchanged Load = %+v", res)
	}
	if _, err := m.Load(t.Context(), files(failing), "test"); err == nil {
		t.Error("a policy whose tests fail was loaded")
	}
	if _, err := m.Load(t.Context(), []policy.File{{Src: passing}}, "test"); !errors.Is(err, policy.ErrInvalidFiles) {
		t.Errorf("Load without a filename: %v", err)
	}
	if live := m.Live(); live.Version() != 1 || live.FactValidator() == nil {
		t.Errorf("live version %d after a rejected load, want 1", live.Version())
	}
	want := outcomes{policy.Loaded, policy.Unchanged, policy.Rejected}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
}

func TestManagerActivateAndVersion(t *testing.T) {
	m := mustManager(t, memory.New())
	mustLoad(t, m, passing)
	mustLoad(t, m, other)
	old, err := m.Version(t.Context(), 1)
	if err != nil || old.Version() != 1 {
		t.Fatalf("Version(1) = %v, %v", old, err)
	}
	if again, _ := m.Version(t.Context(), 1); again != old {
		t.Error("Version(1) twice compiled twice")
	}
	if live, _ := m.Version(t.Context(), 0); live != m.Live() || live.Version() != 2 {
		t.Error("Version(0) is not the live policy")
	}
	p, err := m.Activate(t.Context(), 1)
	if err != nil || p.Version != 1 || !p.Live || m.Live().Version() != 1 {
		t.Fatalf("Activate(1) = %+v, %v; live %d", p, err, m.Live().Version())
	}
	if _, err := m.Activate(t.Context(), 9); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Activate(9) = %v, want ErrNotFound", err)
	}
	if h, err := m.History(t.Context()); err != nil || len(h) != 2 || h[0].Version != 2 {
		t.Errorf("History = %+v, %v", h, err)
	}
}

// TestManagerSync runs two managers on one store, as two replicas on one
// database: a version loaded through one goes live on the other when it
// syncs.
func TestManagerSync(t *testing.T) {
	st := memory.New()
	a := mustManager(t, st)
	var got outcomes
	b := mustManager(t, st, policy.WithObserver(got.observe))
	if changed, err := b.Sync(t.Context()); changed || err != nil {
		t.Fatalf("Sync before any load = %v, %v", changed, err)
	}
	mustLoad(t, a, passing)
	if changed, err := b.Sync(t.Context()); !changed || err != nil || b.Live().Version() != 1 {
		t.Fatalf("Sync = %v, %v; version %d", changed, err, b.Live().Version())
	}
	if changed, _ := b.Sync(t.Context()); changed {
		t.Error("a second Sync changed the policy again")
	}
	if diff := cmp.Diff(outcomes{policy.Synced}, got); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
}

// TestNewManagerKeepsFailingLivePolicy: a stored live version whose tests
// fail under this Castellan stays live, with a warning; one that does not
// compile is an error.
func TestNewManagerKeepsFailingLivePolicy(t *testing.T) {
	ctx := t.Context()
	st := memory.New()
	if _, err := st.SavePolicy(ctx, store.Policy{Files: files(failing)}); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	m := mustManager(t, st, policy.WithLogger(zerolog.New(&logs)))
	if m.Live().Version() != 1 {
		t.Errorf("live version %d, want 1", m.Live().Version())
	}
	if !strings.Contains(logs.String(), "the live policy's tests fail with this castellan") {
		t.Errorf("no warning logged: %s", logs.String())
	}

	if _, err := st.SavePolicy(ctx, store.Policy{Files: files(broken)}); err != nil {
		t.Fatal(err)
	}
	if _, err := policy.NewManager(ctx, st); err == nil || !strings.Contains(err.Error(), "the live policy (version 2) does not compile") {
		t.Errorf("NewManager on a broken live policy = %v", err)
	}
}
