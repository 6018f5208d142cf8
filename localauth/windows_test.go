package localauth_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/castellan-authz/castellan/evaluator"
	"github.com/castellan-authz/castellan/lang"
	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/localauth"
	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/index"
	"github.com/castellan-authz/castellan/store/pgtest"
)

const windowsPolicy = `actor User {}
resource Doc {
  roles = ["reader"];
  permissions = ["read"];
  relations = { viewer: User };
  "read" if "reader";
  "read" if "viewer";
}
`

// windowsBindings is the binding of docs/local-authorization.md: the
// application's grants carry their own window, which its query filters
// when PostgreSQL runs it.
const windowsBindings = `facts:
  has_relation(Doc:_, viewer, User:_):
    query: SELECT doc_id, user_id FROM grants
           WHERE (valid_from IS NULL OR valid_from <= now()) AND (valid_until IS NULL OR now() < valid_until)
`

// TestWindowsLocal checks expiring facts in local authorization, both
// kinds: a stored fact with a validity window is inlined in the SQL only
// at an instant inside its window (the instant of the question, injected
// here), and an application table that keeps its own window filters it in
// its binding's query.
func TestWindowsLocal(t *testing.T) {
	ctx := t.Context()
	prog, err := lang.Compile(lang.File{Filename: "w.polar", Src: []byte(windowsPolicy)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := localauth.ParseBindings(windowsBindings)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Check(prog); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	for _, sql := range []string{
		"CREATE TABLE docs (id text PRIMARY KEY)",
		"CREATE TABLE grants (doc_id text, user_id text, valid_from timestamptz, valid_until timestamptz)",
		"INSERT INTO docs VALUES ('1'), ('2'), ('3'), ('4')",
		// bob: doc 2 for another hour, doc 3 ended an hour ago, doc 4 from tomorrow.
		"INSERT INTO grants VALUES ('2', 'bob', NULL, now() + interval '1 hour'), ('3', 'bob', NULL, now() - interval '1 hour'), ('4', 'bob', now() + interval '1 day', NULL)",
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	friday := time.Date(2027, 1, 8, 17, 0, 0, 0, time.UTC)
	x := index.New()
	grant := term.Fact{Predicate: "has_role", Args: []term.Value{term.Entity("User", "alice"), term.String("reader"), term.Entity("Doc", "1")},
		Valid: term.Window{Until: friday}}
	ops, err := store.Prepare([]store.Op{{Insert: []term.Fact{grant}}})
	if err != nil {
		t.Fatal(err)
	}
	x.ApplyNext(ops)
	eval := evaluator.New(prog)
	readable := func(t *testing.T, user string, at time.Time) []string {
		t.Helper()
		read := "read"
		q := allow(term.Entity("User", user), &read, "Doc", nil)
		req := evaluator.Request{Source: x.Snapshot().At(at), Now: at}
		res, err := eval.Residual(ctx, req, b.Shapes(), q, []string{"resource"})
		if err != nil {
			t.Fatal(err)
		}
		sql := "SELECT id FROM docs WHERE " + b.ListSQL(res, "id")
		rows, err := conn.Query(ctx, sql)
		if err != nil {
			t.Fatalf("%v\n%s", err, sql)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("%v\n%s", err, sql)
		}
		slices.Sort(ids)
		return ids
	}
	if got := readable(t, "alice", friday.Add(-time.Hour)); !slices.Equal(got, []string{"1"}) {
		t.Errorf("alice before her window ends reads %v, want [1]", got)
	}
	if got := readable(t, "alice", friday); len(got) != 0 {
		t.Errorf("alice after her window ended reads %v, want none", got)
	}
	if got := readable(t, "bob", friday); !slices.Equal(got, []string{"2"}) {
		t.Errorf("bob reads %v, want [2] (the grant whose window holds when the SQL runs)", got)
	}
}
