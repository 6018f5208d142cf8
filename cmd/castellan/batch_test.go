package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCLIAuthorizeBatch asks files of questions through authorize-batch
// against a real server, and checks its answers and exit codes.
func TestCLIAuthorizeBatch(t *testing.T) {
	url := startServer(t, nil)
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const ctx = `"context": ["has_relation Action:1 repository Repository:anvil"]`
	allowed := file("allowed.jsonl", `{"actor": "User:alice", "action": "rerun", "resource": "Action:1", `+ctx+`}

{"actor": {"type": "User", "id": "bob"}, "action": "read", "resource": {"type": "Repository", "id": "anvil"}}
`)
	mixed := file("mixed.jsonl", `{"actor": "User:alice", "action": "rerun", "resource": "Action:1", `+ctx+`}
{"actor": "User:bob", "action": "rerun", "resource": "Action:1", `+ctx+`}
{"actor": "User:alice", "action": "rerun", "resource": "Action:1"}
`)
	withError := file("error.jsonl", `{"actor": "User:alice", "action": "read", "resource": "Repository:anvil"}
{"actor": "User:alice", "action": "read", "resource": "Repository:anvil", "context": ["request_caller Service:x"]}
`)
	malformed := file("malformed.jsonl", `{"actor": "User:alice", "action": "read", "resource": "Repository:anvil"}
{"actor": "User:alice", "action": "read"}
`)
	runSteps(t, map[string]string{"CASTELLAN_URL": url}, []step{
		{args: []string{"policy", examplePolicy}, ignoreOut: true},
		{args: []string{"tell", "has_role", "User:alice", "maintainer", "Repository:anvil"}, ignoreOut: true},
		{args: []string{"tell", "has_role", "User:bob", "reader", "Repository:anvil"}, ignoreOut: true},
		{args: []string{"authorize-batch", allowed}, stdout: "allowed\nallowed\n"},
		{args: []string{"authorize-batch", "--batch-size", "1", mixed}, code: exitFailed, stdout: "allowed\ndenied\ndenied\n"},
		// -c applies to the lines without their own context.
		{args: []string{"authorize-batch", mixed, "-c", "has_relation Action:1 repository Repository:anvil"}, code: exitFailed, stdout: "allowed\ndenied\nallowed\n"},
		{args: []string{"authorize-batch", "--json", mixed}, code: exitFailed, stdout: "{\"allowed\":true}\n{\"allowed\":false}\n{\"allowed\":false}\n"},
		{args: []string{"authorize-batch", withError}, code: exitError, stdout: "allowed\nerror: ", contains: true},
		{args: []string{"authorize-batch", malformed}, code: exitUsage, stderrHas: "malformed.jsonl:2: resource is required"},
		{args: []string{"authorize-batch", filepath.Join(dir, "missing.jsonl")}, code: exitUsage, stderrHas: "missing.jsonl"},
		{args: []string{"authorize-batch", file("empty.jsonl", "\n")}, code: exitUsage, stderrHas: "has no questions"},
	})
}
