package main

import (
	"fmt"
	"os"
	"path/filepath"
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
	badFirst := writePolicy(t, dir, "bad-first.jsonl", "not json\n"+jsonFact("y1", "reader", "anvil"))
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
		// A first line that is bad: nothing was applied, and it says so.
		{args: []string{"import", "--progress", "none", badFirst}, code: exitError, ignoreOut: true, stderrHas: "nothing of " + badFirst + " was applied"},
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

// TestExportCSVRoundTrip exports facts with and without validity windows as
// CSV and imports the files into another server: it ends with the same
// facts, windows included.
func TestExportCSVRoundTrip(t *testing.T) {
	src := map[string]string{"CASTELLAN_URL": startServer(t, nil)}
	dst := map[string]string{"CASTELLAN_URL": startServer(t, nil)}
	dir := t.TempDir()
	var jl strings.Builder
	for i := range 30 {
		line := jsonFact(fmt.Sprint("u", i), "reader", fmt.Sprint("r", i%4))
		switch i % 3 {
		case 1:
			line = strings.Replace(line, "]}", `],"valid_until":"2200-01-08T17:00:00Z"}`, 1)
		case 2:
			line = strings.Replace(line, "]}", `],"valid_from":"2021-06-01T12:30:00.25Z","valid_until":"2250-01-01T00:00:00Z"}`, 1)
		}
		jl.WriteString(line)
	}
	facts := writePolicy(t, dir, "facts.jsonl", jl.String())
	out := filepath.Join(dir, "csv")
	runSteps(t, src, []step{
		{args: []string{"policy", "upload", examplePolicy}, ignoreOut: true},
		{args: []string{"import", "--progress", "none", facts}, stdout: "imported 30 facts", contains: true},
		{args: []string{"export", "--format", "csv", "--output", out}, ignoreOut: true},
	})
	plain, err := os.ReadFile(filepath.Join(out, "has_role.User.String.Repository.csv"))
	if err != nil {
		t.Fatal(err)
	}
	windowed, err := os.ReadFile(filepath.Join(out, "has_role.User.String.Repository.windows.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(plain), "\nhas_role,User,String,Repository\n") || strings.Count(string(plain), "\n") != 2+10 {
		t.Errorf("facts without a window:\n%s", plain)
	}
	for _, want := range []string{"\nhas_role,User,String,Repository,@valid_from,@valid_until\n", "\nu1,reader,r1,,2200-01-08T17:00:00Z\n", "\nu2,reader,r2,2021-06-01T12:30:00.25Z,2250-01-01T00:00:00Z\n"} {
		if !strings.Contains(string(windowed), want) {
			t.Errorf("facts with a window lack %q:\n%s", want, windowed)
		}
	}
	runSteps(t, dst, []step{
		{args: []string{"policy", "upload", examplePolicy}, ignoreOut: true},
		{args: []string{"import", "--progress", "none", filepath.Join(out, "has_role.User.String.Repository.csv"), filepath.Join(out, "has_role.User.String.Repository.windows.csv")}, stdout: "imported 30 facts", contains: true},
	})
	gotN, got, gotW := exportDigestWindows(t, dst["CASTELLAN_URL"], dir)
	wantN, want, wantW := exportDigestWindows(t, src["CASTELLAN_URL"], dir)
	if gotN != 30 || gotN != wantN || got != want || gotW != 20 || wantW != 20 {
		t.Errorf("after export and import as CSV: %d facts (%d with windows, digest %x), want %d (%d, %x)", gotN, gotW, got, wantN, wantW, want)
	}

	// A header naming an unknown column, or a type after a window column,
	// is refused with its line; a bad time is reported by its line.
	bad := writePolicy(t, dir, "bad.csv", "has_role,User,String,Repository,@expires\nx,reader,r1,2030-01-01T00:00:00Z\n")
	late := writePolicy(t, dir, "late.csv", "has_role,User,@valid_until,String,Repository\n")
	badTime := writePolicy(t, dir, "time.csv", "# one\nhas_role,User,String,Repository,@valid_until\nx,reader,r1,next friday\ny,reader,r1,\n")
	runSteps(t, dst, []step{
		{args: []string{"import", "--progress", "none", bad}, code: exitError, ignoreOut: true, stderrHas: `line 1: CSV header: column "@expires"`},
		{args: []string{"import", "--progress", "none", late}, code: exitError, ignoreOut: true, stderrHas: `column "String": argument types come before`},
		{args: []string{"import", "--progress", "none", "--max-errors", "1", badTime}, stdout: "imported 1 facts", contains: true, stderrHas: "time.csv:3: "},
	})
}
