package postgres

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/migrations"
	"github.com/castellan-authz/castellan/store"
)

// TestMigrateShortFactKey upgrades a database holding facts from schema 11
// (fact_key the whole SHA-256) to the latest (migration 12: its first 16
// bytes as a uuid): every fact keeps its row and its key is the one a
// store computes now, so a store deletes it by key and a tell of it again
// is a no-op; facts written after the upgrade (with long and non-ASCII
// strings, whose length prefixes take two bytes) get back the whole
// SHA-256 a store before migration 12 computed when it goes down, and the
// data survives down and up again.
func TestMigrateShortFactKey(t *testing.T) {
	ctx := t.Context()
	url, c := databaseAt(t, 11)
	role := func(g int) term.Fact {
		return term.Fact{Predicate: "has_role", Args: []term.Value{term.Entity("User", fmt.Sprint("u", g)), term.String("reader"), term.Entity("Repo", fmt.Sprint("r", g))}}
	}
	// Facts as schema 11 stored them.
	var keys [][]byte
	for g := 1; g <= 100; g++ {
		f := role(g)
		k := factKeySHA256(f.Predicate, f.Args)
		keys = append(keys, k[:])
	}
	if _, err := c.Exec(ctx, `
		INSERT INTO facts (fact_key, predicate, arity, arg_types, arg_ids, revision)
		SELECT ($1::bytea[])[g], 'has_role', 3, ARRAY['User', 'String', 'Repo'], ARRAY['u' || g, 'reader', 'r' || g], 1
		FROM generate_series(1, 100) g ORDER BY g`, keys); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "INSERT INTO revisions (revision) VALUES (1); UPDATE castellan_head SET revision = 1"); err != nil {
		t.Fatal(err)
	}
	// keysMatch checks that every stored fact's key is the one want computes.
	keysMatch := func(when string, want func(term.Fact) string) int {
		t.Helper()
		rows, err := c.Query(ctx, "SELECT fact_key::text, predicate, arg_types, arg_ids FROM facts ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		var k, pred string
		var types, ids []string
		if _, err := pgx.ForEachRow(rows, []any{&k, &pred, &types, &ids}, func() error {
			f := term.Fact{Predicate: pred}
			for i := range types {
				f.Args = append(f.Args, term.Value{Type: types[i], ID: ids[i]})
			}
			if w := want(f); k != w {
				t.Errorf("%s: %s has fact_key %s, want %s", when, f, k, w)
			}
			n++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	short := func(f term.Fact) string { // as PostgreSQL writes a uuid
		k := factKey(f.Predicate, f.Args)
		return fmt.Sprintf("%x-%x-%x-%x-%x", k[:4], k[4:6], k[6:8], k[8:10], k[10:])
	}
	whole := func(f term.Fact) string { k := factKeySHA256(f.Predicate, f.Args); return fmt.Sprintf("\\x%x", k) }

	if err := migrations.Up(ctx, url); err != nil {
		t.Fatal(err)
	}
	if n := keysMatch("after migration 12", short); n != 100 {
		t.Fatalf("%d facts after migration 12, want 100", n)
	}
	s, err := Open(ctx, url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	long := term.Fact{Predicate: "has_role", Args: []term.Value{term.Entity("User", strings.Repeat("ü", 100)), term.String("réader"), term.Entity("Repo", "r1")}}
	rev, err := s.Write(ctx, []store.Op{{
		Delete: []term.Pattern{{Predicate: "has_role", Args: role(7).Args}},
		Insert: []term.Fact{role(8), long}, // role(8) is stored already
	}})
	if err != nil {
		t.Fatal(err)
	}
	var inserted, deleted int
	if err := c.QueryRow(ctx, "SELECT count(*) FILTER (WHERE op = 1), count(*) FILTER (WHERE op = 2) FROM changes WHERE revision = $1", int64(rev)).Scan(&inserted, &deleted); err != nil {
		t.Fatal(err)
	}
	if inserted != 1 || deleted != 1 {
		t.Errorf("the write logged %d inserts and %d deletes, want 1 and 1 (role 8 was stored already)", inserted, deleted)
	}
	if n := keysMatch("after writes on schema 12", short); n != 100 {
		t.Fatalf("%d facts after the write, want 100", n)
	}
	s.Close()

	for range 2 { // down, up, and again
		if err := migrations.Steps(ctx, url, -1); err != nil {
			t.Fatal(err)
		}
		if n := keysMatch("after migration 12 down", whole); n != 100 {
			t.Fatalf("%d facts after migration 12 down, want 100", n)
		}
		if err := migrations.Up(ctx, url); err != nil {
			t.Fatal(err)
		}
		if n := keysMatch("after migration 12 up again", short); n != 100 {
			t.Fatalf("%d facts after migration 12 up again, want 100", n)
		}
	}
	s, err = Open(ctx, url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Write(ctx, []store.Op{{Delete: []term.Pattern{{Predicate: long.Predicate, Args: long.Args}}}}); err != nil {
		t.Fatal(err)
	}
	if n := s.Index().Stats().Facts; n != 99 {
		t.Errorf("the index holds %d facts after deleting the long one by key, want 99", n)
	}
	var left int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM facts").Scan(&left); err != nil || left != 99 {
		t.Errorf("%d facts left in the table (%v), want 99", left, err)
	}
}
