package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/castellan-authz/castellan/server"
	"github.com/castellan-authz/castellan/store/memory"
)

// startServer runs the real server on the memory store and returns its URL.
func startServer(tb testing.TB, configure func(*server.Config)) string {
	tb.Helper()
	st := memory.New()
	tb.Cleanup(func() { st.Close() })
	return startServerOn(tb, st, configure)
}

// step is one CLI invocation and what it must print and return.
type step struct {
	args      []string
	code      int
	stdout    string // exact, unless contains is set
	contains  bool
	stderrHas string
	ignoreOut bool
	environ   map[string]string // extra variables
}

func runSteps(t *testing.T, base map[string]string, steps []step) {
	t.Helper()
	for _, s := range steps {
		environ := map[string]string{}
		for k, v := range base {
			environ[k] = v
		}
		for k, v := range s.environ {
			environ[k] = v
		}
		code, stdout, stderr := runCLI(t, environ, s.args...)
		name := strings.Join(s.args, " ")
		if code != s.code {
			t.Errorf("castellan %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", name, code, s.code, stdout, stderr)
			continue
		}
		switch {
		case s.ignoreOut:
		case s.contains && !strings.Contains(stdout, s.stdout):
			t.Errorf("castellan %s: stdout does not contain %q:\n%s", name, s.stdout, stdout)
		case !s.contains && stdout != s.stdout:
			t.Errorf("castellan %s: stdout (-want +got):\n%s", name, cmp.Diff(s.stdout, stdout))
		}
		if s.stderrHas != "" && !strings.Contains(stderr, s.stderrHas) {
			t.Errorf("castellan %s: stderr does not contain %q:\n%s", name, s.stderrHas, stderr)
		}
	}
}

const examplePolicy = "../../examples/microservices/policy.polar"

// rerunContext is the action->repository relation the Actions service
// sends with its questions.
const rerunContext = "has_relation Action:1 repository Repository:anvil"

// TestCLIAgainstServer drives the verbs through the GitHub Actions scenario
// against a real server.
func TestCLIAgainstServer(t *testing.T) {
	url := startServer(t, nil)
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.polar")
	if err := os.WriteFile(broken, []byte("actor User {}\nresource Action {\n  permissions = [\"rerun\"];\n  \"rerun\" if \"maintainer\";\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	alice := `has_role(User{"alice"}, "maintainer", Repository{"anvil"})` + "\n"
	runSteps(t, map[string]string{"CASTELLAN_URL": url}, []step{
		{args: []string{"policy", examplePolicy}, stdout: "Policy loaded", contains: true},
		{args: []string{"tell", "has_role", "User:alice", "maintainer", "Repository:anvil"}, stdout: "stored " + alice},
		{args: []string{"tell", "has_role", "User:bob", "reader", "Repository:anvil"}, ignoreOut: true},

		// Allowed only with the context fact, and only for the maintainer.
		{args: []string{"authorize", "User:alice", "rerun", "Action:1", "-c", rerunContext}, stdout: "allowed\n"},
		{args: []string{"authorize", "User:bob", "rerun", "Action:1", "--context", rerunContext}, code: exitFailed, stdout: "denied\n"},
		{args: []string{"authorize", "User:alice", "rerun", "Action:1"}, code: exitFailed, stdout: "denied\n"},
		{args: []string{"authorize", "--json", "User:alice", "rerun", "Action:1", "-c", rerunContext}, stdout: "{\n  \"allowed\": true\n}\n"},
		{args: []string{"authorize", "--explain", "User:alice", "rerun", "Action:1", "-c", rerunContext}, contains: true,
			stdout: `has_relation(Action{"1"}, "repository", Repository{"anvil"})  [context fact]`},
		{args: []string{"authorize", "--explain", "User:bob", "rerun", "Action:1", "-c", rerunContext}, code: exitFailed, contains: true,
			stdout: `failed at has_role(User{"bob"}, "maintainer", Repository{"anvil"})`},
		{args: []string{"actions", "User:bob", "Action:1", "-c", rerunContext}, stdout: "read\n"},
		{args: []string{"actions", "User:alice", "Action:1", "-c", rerunContext}, stdout: "read\nrerun\n"},
		{args: []string{"list", "User:bob", "read", "Repository"}, stdout: "anvil\n"},
		{args: []string{"list", "User:bob", "rerun", "Action", "-c", rerunContext}, stdout: ""},
		{args: []string{"list", "--json", "User:alice", "rerun", "Action", "-c", rerunContext}, stdout: "{\n  \"results\": [\n    \"1\"\n  ]\n}\n"},
		{args: []string{"query", "has_permission", "User:_", "rerun", "Action:1", "-c", rerunContext},
			stdout: `has_permission(User{"alice"}, "rerun", Action{"1"})` + "\n"},
		{args: []string{"query", "has_permission", "User:_", "rerun", "Action:1"}, stdout: "(no results)\n"},

		// The context fact was never stored.
		{args: []string{"get", "has_relation"}, stdout: ""},
		{args: []string{"get", "has_role", "_", "maintainer"}, stdout: alice},
		{args: []string{"get", "_", "User:alice"}, stdout: alice},
		{args: []string{"inspect", "User:alice"}, stdout: alice},
		{args: []string{"inspect", "Repository:anvil"}, stdout: "reader", contains: true},

		// Delete with wildcards, then the maintainer is denied.
		{args: []string{"delete", "has_role", "User:_", "maintainer", "Repository:_"}, stdout: `deleted has_role(User{_}, "maintainer", Repository{_})` + "\n"},
		{args: []string{"authorize", "User:alice", "rerun", "Action:1", "-c", rerunContext}, code: exitFailed, stdout: "denied\n"},
		{args: []string{"delete", "has_role", "User:nobody", "_", "_"}, ignoreOut: true}, // deleting nothing is fine
		{args: []string{"clear", "--confirm"}, ignoreOut: true},
		{args: []string{"get", "_"}, stdout: ""},

		// A rejected policy exits 1, says where, and the old one stays live.
		{args: []string{"policy", broken}, code: exitFailed, stderrHas: "broken.polar:4:"},
		{args: []string{"policy", "get"}, stdout: "resource Action", contains: true},
		{args: []string{"policy", "history"}, stdout: "VERSION", contains: true},
		{args: []string{"policy", "list", "--status", "live"}, stdout: "1        live    upload  -       1      ", contains: true},
		{args: []string{"policy", "list", "--until", "2000-01-01T00:00:00Z"}, stdout: "VERSION  STATUS  SOURCE  COMMIT  TESTS  CREATED  BY  FILES\n"},
		{args: []string{"policy", "list", "--since", "yesterday"}, code: exitUsage, stderrHas: "--since \"yesterday\" is not an RFC 3339 time"},
		{args: []string{"policy", "list", "--status", "old"}, code: exitError, stderrHas: "is not a policy status"},
		{args: []string{"policy", "rollback", "1"}, stdout: "policy version 1 is live\n"},
		{args: []string{"policy", "rollback", "99"}, code: exitError, ignoreOut: true},

		// A request the server refuses exits 3 with the server's message.
		{args: []string{"tell", "no_such_predicate", "User:alice"}, code: exitError, stderrHas: "no_such_predicate"},
	})
}

func TestCLIKeysAndScopes(t *testing.T) {
	const admin = "test-admin-key-0123456789"
	url := startServer(t, func(c *server.Config) { c.Dev = false; c.AdminKey = admin })
	base := map[string]string{"CASTELLAN_URL": url, "CASTELLAN_API_KEY": admin}
	runSteps(t, base, []step{{args: []string{"policy", examplePolicy}, ignoreOut: true}})

	code, stdout, stderr := runCLI(t, base, "keys", "create", "--scope", "read", "--name", "actions", "--json")
	if code != exitOK {
		t.Fatalf("keys create: exit %d: %s", code, stderr)
	}
	var key struct{ ID, Name, Scope, Key string }
	if err := json.Unmarshal([]byte(stdout), &key); err != nil || key.Key == "" || key.Scope != "read" || key.Name != "actions" {
		t.Fatalf("keys create --json printed %q (%v)", stdout, err)
	}
	reader := map[string]string{"CASTELLAN_API_KEY": key.Key}
	osoOnly := map[string]string{"CASTELLAN_API_KEY": "", "OSO_AUTH": key.Key, "OSO_URL": url, "CASTELLAN_URL": ""}
	runSteps(t, base, []step{
		{args: []string{"keys", "list"}, stdout: key.ID, contains: true},
		{args: []string{"authorize", "User:alice", "rerun", "Action:1"}, environ: reader, code: exitFailed, stdout: "denied\n"},
		{args: []string{"authorize", "User:alice", "rerun", "Action:1"}, environ: osoOnly, code: exitFailed, stdout: "denied\n"},
		{args: []string{"tell", "has_role", "User:alice", "maintainer", "Repository:anvil"}, environ: reader, code: exitError, stderrHas: "api-key"},
		{args: []string{"get", "_"}, environ: map[string]string{"CASTELLAN_API_KEY": "wrong"}, code: exitError, ignoreOut: true},
		{args: []string{"keys", "delete", key.ID}, stdout: "deleted key " + key.ID + "\n"},
		{args: []string{"get", "_"}, environ: reader, code: exitError, ignoreOut: true},
	})
}

// TestCLIPolicyForce: a policy with no allow rule, over stored facts, is
// refused with a message saying what it would do, and goes live with
// --force.
func TestCLIPolicyForce(t *testing.T) {
	url := startServer(t, nil)
	empty := filepath.Join(t.TempDir(), "empty.polar")
	if err := os.WriteFile(empty, []byte("actor User {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	runSteps(t, map[string]string{"CASTELLAN_URL": url}, []step{
		{args: []string{"policy", examplePolicy}, stdout: "Policy loaded", contains: true},
		{args: []string{"tell", "has_role", "User:alice", "maintainer", "Repository:anvil"}, ignoreOut: true},
		{args: []string{"policy", empty}, code: exitFailed, stderrHas: "the policy has no allow rule: every authorize would be denied"},
		{args: []string{"authorize", "User:alice", "read", "Repository:anvil"}, stdout: "allowed\n"},
		{args: []string{"policy", "--force", empty}, stdout: "Policy loaded (version 2); warning: the policy has no allow rule", contains: true},
		{args: []string{"authorize", "User:alice", "read", "Repository:anvil"}, code: exitFailed, stdout: "denied\n"},
	})
}
