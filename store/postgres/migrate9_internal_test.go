package postgres

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/migrations"
	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/pgtest"
)

// TestMigrateBulkFacts upgrades a database holding facts from schema 8
// (the GIN index on arg_ids) to the latest (migration 9: no GIN index, an
// index on id): the facts stay, a store loads them in insertion order, a
// delete by a bound id (which used the GIN index) removes what it should,
// and the migration goes down and up again (with migration 10, which drops
// the index on (predicate, arity)).
func TestMigrateBulkFacts(t *testing.T) {
	ctx := t.Context()
	url, c := databaseAt(t, 8)
	// Facts as schema 8 stored them (fact_key has not changed).
	var keys [][]byte
	for g := 1; g <= 500; g++ {
		k := factKeySHA256("has_role", []term.Value{term.Entity("User", fmt.Sprint("u", g%7)), term.String("reader"), term.Entity("Repo", fmt.Sprint("r", g))})
		keys = append(keys, k[:])
	}
	if _, err := c.Exec(ctx, `
		INSERT INTO facts (fact_key, predicate, arity, arg_types, arg_ids, revision)
		SELECT ($1::bytea[])[g], 'has_role', 3, ARRAY['User', 'String', 'Repo'], ARRAY['u' || (g % 7), 'reader', 'r' || g], 1
		FROM generate_series(1, 500) g ORDER BY g`, keys); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "INSERT INTO revisions (revision) VALUES (1); UPDATE castellan_head SET revision = 1"); err != nil {
		t.Fatal(err)
	}
	indexes := func() []string {
		rows, _ := c.Query(ctx, "SELECT indexname FROM pg_indexes WHERE tablename = 'facts' ORDER BY 1")
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return names
	}
	if got := indexes(); !slices.Contains(got, "facts_arg_ids") {
		t.Fatalf("schema 8 has indexes %v, want facts_arg_ids among them", got)
	}
	for range 2 { // up, then down to 8 and up again
		if err := migrations.Up(ctx, url); err != nil {
			t.Fatal(err)
		}
		if got := indexes(); slices.Contains(got, "facts_arg_ids") || !slices.Contains(got, "facts_id") || slices.Contains(got, "facts_predicate") {
			t.Fatalf("after migrations 9 and 10 the indexes are %v, want facts_id and neither facts_arg_ids nor facts_predicate", got)
		}
		if err := migrations.Steps(ctx, url, -int(migrations.Latest()-8)); err != nil {
			t.Fatal(err)
		}
		if got := indexes(); !slices.Contains(got, "facts_arg_ids") || slices.Contains(got, "facts_id") || !slices.Contains(got, "facts_predicate") {
			t.Fatalf("after migration 9 down the indexes are %v", got)
		}
	}
	if err := migrations.Up(ctx, url); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got []string
	for f := range s.Index().Snapshot().Facts(term.Pattern{Predicate: "has_role", Args: []term.Value{{}, {}, {}}}) {
		got = append(got, f.Args[2].ID)
	}
	if len(got) != 500 || got[0] != "r1" || got[499] != "r500" {
		t.Fatalf("loaded %d facts (%v ...), want 500 in insertion order", len(got), got[:min(3, len(got))])
	}
	rev, err := s.Write(ctx, []store.Op{{Delete: []term.Pattern{{Predicate: "has_role", Args: []term.Value{{Type: "User", ID: "u3"}, {}, {}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	var left, logged int
	if err := c.QueryRow(ctx, "SELECT (SELECT count(*) FROM facts), (SELECT count(*) FROM changes WHERE revision = $1 AND op = 2)", int64(rev)).Scan(&left, &logged); err != nil {
		t.Fatal(err)
	}
	if left != 500-72 || logged != 72 {
		t.Errorf("after deleting u3's roles: %d facts left, %d deletes logged; want %d and 72", left, logged, 500-72)
	}
	if n := s.Index().Stats().Facts; n != 500-72 {
		t.Errorf("the index holds %d facts, want %d", n, 500-72)
	}
}

// databaseAt creates a database (dropped at the end of the test) migrated
// to schema version, and returns its URL and a connection to it.
func databaseAt(t *testing.T, version int) (string, *pgx.Conn) {
	t.Helper()
	ctx := t.Context()
	url := pgtest.NewEmptyDatabase(t)
	if err := migrations.Steps(ctx, url, version); err != nil {
		t.Fatal(err)
	}
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return url, c
}
