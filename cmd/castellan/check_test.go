package main

import "testing"

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
