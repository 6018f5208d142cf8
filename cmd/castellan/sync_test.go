package main

import (
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/castellan-authz/castellan/store/pgtest"
)

// TestSync syncs the facts of localauth's example application from a real
// PostgreSQL schema, with a dry run first, then after drift on both sides.
func TestSync(t *testing.T) {
	appDB := pgtest.NewDatabase(t)
	schema, err := os.ReadFile("../../localauth/testdata/schema.sql")
	if err != nil {
		t.Fatal(err)
	}
	exec := func(sql string) {
		t.Helper()
		conn, err := pgx.Connect(t.Context(), appDB)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(t.Context())
		if _, err := conn.Exec(t.Context(), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(string(schema))
	exec(`INSERT INTO organizations VALUES (1, 'acme');
		INSERT INTO folders VALUES (10, NULL, 1), (11, 10, NULL);
		INSERT INTO repositories VALUES (100, 1, NULL), (101, NULL, 11);
		INSERT INTO issues VALUES (1000, 100, 'alice', true), (1001, 101, 'bob', false);`)

	vars := map[string]string{"CASTELLAN_URL": startServer(t, nil), "APP_DATABASE_URL": appDB}
	sync := []string{"sync", "--bindings", "../../localauth/testdata/app.yaml"}
	runSteps(t, vars, []step{
		{args: []string{"policy", "upload", "../../localauth/testdata/app.polar"}, ignoreOut: true},
		// A fact the database does not back, to be deleted.
		{args: []string{"tell", "has_relation", "Issue:1001", "creator", "User:mallory"}, ignoreOut: true},
		{args: append(sync, "--dry-run"), stdout: `- has_relation(Issue{"1001"}, "creator", User{"mallory"})
+ has_relation(Folder{"10"}, "organization", Organization{"1"})
+ has_relation(Folder{"11"}, "parent", Folder{"10"})
+ has_relation(Issue{"1000"}, "creator", User{"alice"})
+ has_relation(Issue{"1000"}, "repository", Repository{"100"})
+ has_relation(Issue{"1001"}, "creator", User{"bob"})
+ has_relation(Issue{"1001"}, "repository", Repository{"101"})
+ has_relation(Repository{"100"}, "organization", Organization{"1"})
+ has_relation(Repository{"101"}, "folder", Folder{"11"})
+ is_public(Issue{"1000"})
`, stderrHas: "dry run: 9 to insert, 1 to delete"},
		// A dry run changes nothing.
		{args: []string{"get", "is_public", "_"}, stdout: ""},
		{args: sync, stdout: "synced: 9 inserted, 1 deleted (9 facts bound)\n"},
		{args: append(sync, "--dry-run"), stdout: "", stderrHas: "dry run: 0 to insert, 0 to delete"},
		// An unbound fact of a bound predicate with another signature stays.
		{args: []string{"tell", "has_role", "User:alice", "member", "Organization:1"}, ignoreOut: true},
		// A fact the database backs, stored with a validity window: the
		// database holds it without one, so sync removes the window.
		{args: []string{"tell", "has_relation", "Issue:1001", "creator", "User:bob", "--until", "2030-01-01T00:00:00Z"}, ignoreOut: true},
		{args: append(sync, "--dry-run"), stdout: `+ has_relation(Issue{"1001"}, "creator", User{"bob"})  (replaces the stored until 2030-01-01T00:00:00Z)` + "\n", stderrHas: "dry run: 1 to insert, 0 to delete"},
		{args: sync, stdout: "synced: 1 inserted, 0 deleted (9 facts bound)\n"},
		{args: []string{"get", "has_relation", "Issue:1001", "creator", "_"}, stdout: `has_relation(Issue{"1001"}, "creator", User{"bob"})` + "\n"},
	})
	exec(`UPDATE issues SET public = true WHERE id = 1001; DELETE FROM issues WHERE id = 1000;`)
	runSteps(t, vars, []step{
		{args: sync, stdout: "synced: 1 inserted, 3 deleted (7 facts bound)\n"},
		{args: []string{"get", "is_public", "_"}, stdout: "is_public(Issue{\"1001\"})\n"},
		{args: []string{"get", "has_role", "_", "_", "_"}, stdout: "has_role(User{\"alice\"}, \"member\", Organization{\"1\"})\n"},
	})
	if code, _, stderr := runCLI(t, vars, "sync", "--bindings", "nope.yaml"); code != 2 || !strings.Contains(stderr, "nope.yaml") {
		t.Errorf("missing bindings file: exit %d: %s", code, stderr)
	}
}
