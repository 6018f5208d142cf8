package main

import (
	"strings"
	"testing"
)

// TestQueryUntypedVariable checks that a bare _ in castellan query is a
// variable of any type, answered with the real types, next to Type:_.
func TestQueryUntypedVariable(t *testing.T) {
	url := startServer(t, nil)
	alice := `has_permission(User{"alice"}, "rerun", Action{"1"})` + "\n"
	runSteps(t, map[string]string{"CASTELLAN_URL": url}, []step{
		{args: []string{"policy", examplePolicy}, stdout: "Policy loaded", contains: true},
		{args: []string{"tell", "has_role", "User:alice", "maintainer", "Repository:anvil"}, ignoreOut: true},
		{args: []string{"query", "has_permission", "_", "rerun", "Action:1", "-c", rerunContext}, stdout: alice},
		{args: []string{"query", "has_permission", "User:_", "rerun", "Action:1", "-c", rerunContext}, stdout: alice},
		{args: []string{"query", "has_permission", "User:alice", "_", "Action:1", "-c", rerunContext},
			stdout: `has_permission(User{"alice"}, "read", Action{"1"})` + "\n" + alice},
		{args: []string{"query", "has_permission", "_", "rerun", "Action:1"}, stdout: "(no results)\n"},
		{args: []string{"query", "--json", "has_role", "_", "_", "_"}, contains: true, stdout: `"type": "User"`},
	})
}

// TestContextFactChecked: a -c fact the policy cannot use is refused with
// the server's message, the predicate or value meant, and a failing exit.
func TestContextFactChecked(t *testing.T) {
	url := startServer(t, nil)
	env := map[string]string{"CASTELLAN_URL": url}
	runSteps(t, env, []step{
		{args: []string{"policy", examplePolicy}, stdout: "Policy loaded", contains: true},
		{args: []string{"tell", "has_role", "User:alice", "maintainer", "Repository:anvil"}, ignoreOut: true},
	})
	for _, tc := range []struct{ fact, want string }{
		{"has_relaton Action:1 repository Repository:anvil", "did you mean has_relation?"},
		{"has_relation Action:1 repository Repositry:anvil", `did you mean Repository{"anvil"}?`},
	} {
		code, stdout, stderr := runCLI(t, env, "authorize", "User:alice", "rerun", "Action:1", "-c", tc.fact)
		if code != exitError || stdout != "" || !strings.Contains(stderr, "context_facts[0]") || !strings.Contains(stderr, tc.want) {
			t.Errorf("-c %q: exit %d, stdout %q, stderr %q; want exit %d (an error, not a denial) naming context_facts[0] and %q", tc.fact, code, stdout, stderr, exitError, tc.want)
		}
	}
	// Asked with --explain, an unknown action is denied with a note.
	code, stdout, _ := runCLI(t, env, "authorize", "--explain", "User:alice", "rerum", "Action:1", "-c", rerunContext)
	if code != 1 || !strings.Contains(stdout, `note: the policy grants no action "rerum": did you mean "rerun"?`) {
		t.Errorf("--explain with a mistyped action: exit %d, stdout %q", code, stdout)
	}
}
