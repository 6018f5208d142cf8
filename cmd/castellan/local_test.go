package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestLocalVerbs prints the SQL of the local-authorization verbs for a
// bindings file, with and without context facts, and reports bad
// bindings, a missing --bindings and a bad column.
func TestLocalVerbs(t *testing.T) {
	url := startServer(t, nil)
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The application of the local-authorization tests: issues in
	// repositories, nested folders, public issues, a god rule.
	const policy, bindings = "../../localauth/testdata/app.polar", "../../localauth/testdata/app.yaml"
	bad := write("bad.yaml", "facts:\n  is_shiny(Issue:_):\n    query: SELECT id FROM issues\n")
	const readerCtx = "has_role User:bob reader Repository:9"
	runSteps(t, map[string]string{"CASTELLAN_URL": url}, []step{
		{args: []string{"policy", policy}, stdout: "Policy loaded", contains: true},
		{args: []string{"tell", "has_role", "User:alice", "reader", "Repository:7"}, ignoreOut: true},

		{args: []string{"authorize-local", "--bindings", bindings, "User:alice", "read", "Issue:3"}, contains: true, stdout: "SELECT id, repository_id FROM issues"},
		{args: []string{"authorize-local", "--bindings", bindings, "User:alice", "read", "Issue:3"}, contains: true, stdout: "AS allowed\n"},
		{args: []string{"authorize-local", "--bindings", bindings, "User:alice", "fly", "Issue:3"}, stdout: "SELECT false AS allowed\n"},
		{args: []string{"tell", "is_god", "User:zeus"}, ignoreOut: true},
		{args: []string{"authorize-local", "--bindings", bindings, "User:zeus", "read", "Issue:3"}, stdout: "SELECT true AS allowed\n"},
		{args: []string{"authorize-local", "--bindings", bindings, "User:bob", "read", "Issue:3", "-c", readerCtx}, contains: true, stdout: "f1.arg2 = 9"},
		{args: []string{"list-local", "--bindings", bindings, "--column", "issues.id", "User:alice", "read", "Issue"}, contains: true, stdout: "issues.id = ANY (ARRAY(WITH RECURSIVE"},
		{args: []string{"list-local", "--bindings", bindings, "User:alice", "read", "Issue"}, contains: true, stdout: "id = ANY (ARRAY("},
		{args: []string{"list-local", "--bindings", bindings, "User:carol", "read", "Issue"}, contains: true, stdout: "SELECT id FROM issues WHERE public"},
		{args: []string{"list-local", "--bindings", bindings, "User:carol", "fly", "Issue"}, stdout: "false\n"},
		{args: []string{"list-local", "--json", "--bindings", bindings, "User:carol", "fly", "Issue"}, stdout: "{\n  \"sql\": \"false\"\n}\n"},
		{args: []string{"actions-local", "--bindings", bindings, "User:alice", "Issue:3"}, contains: true, stdout: "AS x(actions) ORDER BY 1\n"},
		{args: []string{"actions-local", "--bindings", bindings, "User:carol", "Organization:1"}, stdout: "SELECT NULL::text AS actions WHERE false\n"},

		// Errors: the bindings file, then the server's 400s.
		{args: []string{"authorize-local", "User:alice", "read", "Issue:3"}, code: exitUsage, stderrHas: "--bindings FILE is required"},
		{args: []string{"authorize-local", "--bindings", filepath.Join(dir, "nope.yaml"), "User:alice", "read", "Issue:3"}, code: exitUsage, stderrHas: "reading the data bindings"},
		{args: []string{"list-local", "--bindings", bad, "User:alice", "read", "Issue"}, code: exitError, stderrHas: `binding "is_shiny(Issue:_)"`},
		{args: []string{"list-local", "--bindings", bindings, "--column", "id; drop table x", "User:alice", "read", "Issue"}, code: exitError, stderrHas: "not a column name"},
		{args: []string{"actions-local", "--bindings", bindings, "User:alice"}, code: exitUsage, stderrHas: "takes 2 arguments"},
	})
}
