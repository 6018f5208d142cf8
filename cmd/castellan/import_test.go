package main

import (
	"fmt"
	"strings"
	"testing"
)

// jsonFact is a has_role fact of the example policy as a JSON line.
func jsonFact(user, role, repo string) string {
	return fmt.Sprintf(`{"predicate":"has_role","args":[{"type":"User","id":%q},{"type":"String","id":%q},{"type":"Repository","id":%q}]}`+"\n", user, role, repo)
}

func TestImport(t *testing.T) {
	vars := map[string]string{"CASTELLAN_URL": startServer(t, nil)}
	dir := t.TempDir()
	var jl strings.Builder
	for i := range 40 {
		jl.WriteString(jsonFact(fmt.Sprint("u", i), "reader", "anvil"))
	}
	good := writePolicy(t, dir, "roles.jsonl", jl.String())
	csvFile := writePolicy(t, dir, "roles.csv", "# made by hand\nhas_role,User,String,Repository\nalice,maintainer,anvil\n\"bob\nsmith\",reader,anvil\ncarol,reader\n"+strings.Repeat("d", 400)+",reader,anvil\n")
	bad := writePolicy(t, dir, "bad.jsonl", jsonFact("x1", "reader", "anvil")+"not json\n"+jsonFact("x2", "reader", "anvil")+jsonFact("x3", "reader", "anvil"))

	runSteps(t, vars, []step{
		{args: []string{"policy", "upload", examplePolicy}, ignoreOut: true},
		{args: []string{"import", "--batch-size", "7", "--progress", "none", good}, stdout: "imported 40 facts", contains: true},
		// Again: nothing is duplicated.
		{args: []string{"import", "--progress", "none", good}, stdout: "imported 40 facts", contains: true},
		// CSV: a record spanning two lines, a short row (line 6) and an id past
		// the server's limit (line 7) are reported by their lines.
		{args: []string{"import", "--progress", "none", "--max-errors", "5", csvFile}, stdout: "imported 2 facts", contains: true, stderrHas: "roles.csv:6: 2 fields"},
		{args: []string{"import", "--progress", "none", "--max-errors", "5", csvFile}, ignoreOut: true, stderrHas: "roles.csv:7: fact: has_role argument 1: value too large"},
		// Stops at the first bad line, says where to resume...
		{args: []string{"import", "--progress", "none", "--batch-size", "1", bad}, code: exitError, ignoreOut: true, stderrHas: "resume with: castellan import --from-line 2"},
		// ...and resuming past it loads the rest.
		{args: []string{"import", "--progress", "log", "--from-line", "3", bad}, stdout: "imported 2 facts", contains: true},
		{args: []string{"get", "has_role", "_", "_", "Repository:anvil", "--json"}, ignoreOut: true},
	})
	code, out, _ := runCLI(t, vars, "get", "has_role", "_", "_", "Repository:anvil")
	if n := strings.Count(out, "\n"); code != 0 || n != 40+2+3 {
		t.Errorf("get: exit %d, %d facts, want 45:\n%s", code, n, out)
	}

	// Standard input, JSON Lines.
	var errb strings.Builder
	e := &env{stdin: strings.NewReader(jsonFact("stdin", "reader", "anvil")), stdout: &errb, stderr: &errb, getenv: func(k string) string { return vars[k] }}
	if code := run(t.Context(), e, []string{"import", "--progress", "none"}); code != 0 || !strings.Contains(errb.String(), "imported 1 facts") {
		t.Errorf("import from stdin: exit %d: %s", code, errb.String())
	}
}
