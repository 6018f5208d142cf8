package main

import "testing"

// TestCLITellWindow stores facts with validity windows through the CLI.
// The windows are far in the past or the future, so the test does not
// depend on when it runs.
func TestCLITellWindow(t *testing.T) {
	url := startServer(t, nil)
	runSteps(t, map[string]string{"CASTELLAN_URL": url}, []step{
		{args: []string{"policy", examplePolicy}, ignoreOut: true},
		{args: []string{"tell", "has_role", "User:bob", "reader", "Repository:anvil", "--until", "2200-01-01T00:00:00Z"},
			stdout: `stored has_role(User{"bob"}, "reader", Repository{"anvil"}) until 2200-01-01T00:00:00Z` + "\n"},
		{args: []string{"authorize", "User:bob", "read", "Repository:anvil"}, stdout: "allowed\n"},
		{args: []string{"get", "has_role", "User:bob"}, stdout: `has_role(User{"bob"}, "reader", Repository{"anvil"}) until 2200-01-01T00:00:00Z` + "\n"},
		// Told again with a window that ended long ago: bob no longer reads,
		// and the fact no longer shows.
		{args: []string{"tell", "has_role", "User:bob", "reader", "Repository:anvil", "--from", "1999-01-01T00:00:00Z", "--until", "2000-01-01T00:00:00Z"}, ignoreOut: true},
		{args: []string{"authorize", "User:bob", "read", "Repository:anvil"}, code: exitFailed, stdout: "denied\n"},
		{args: []string{"get", "has_role", "User:bob"}, stdout: ""},
		{args: []string{"tell", "has_role", "User:bob", "reader", "Repository:anvil", "--until", "friday"}, code: exitUsage, stderrHas: `--until "friday" is not an RFC 3339 time`},
	})
}
