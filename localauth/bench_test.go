package localauth_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/castellan-authz/castellan/evaluator"
	"github.com/castellan-authz/castellan/lang"
	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/localauth"
	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/memory"
	"github.com/castellan-authz/castellan/store/pgtest"
)

// The large world of the benchmark and of the index test: the test
// application's schema (testdata/schema.sql, an index on every foreign
// key) with 100,000 issues in 1,000 repositories (100 each), 100 folders
// in chains of 10, 10 organizations, one public issue in 1,000; and 1,000
// users with stored roles. The user "alice" reads about 1,000 issues: she
// is a reader of 6 repositories (600), a viewer of folder 10, which holds
// 3 repositories (300), and reads the 100 public issues.
const (
	bigIssues = 100_000
	bigUsers  = 1_000
)

var bigWorldSQL = []string{
	`INSERT INTO organizations SELECT i, 'org' || i FROM generate_series(1, 10) AS i`,
	`INSERT INTO folders SELECT i, NULL, CASE WHEN i % 10 = 1 THEN (i / 10) % 10 + 1 END FROM generate_series(1, 100) AS i`,
	`UPDATE folders SET parent_id = id - 1 WHERE id % 10 <> 1`,
	`INSERT INTO repositories SELECT r, CASE WHEN r % 3 = 0 THEN r % 10 + 1 END, CASE WHEN r % 3 = 1 THEN r % 100 + 1 END FROM generate_series(1, 1000) AS r`,
	fmt.Sprintf(`INSERT INTO issues SELECT i, (i - 1) / 100 + 1, 'u' || (i %% %d), i %% 1000 = 0 FROM generate_series(1, %d) AS i`, bigUsers, bigIssues),
	`ANALYZE`,
}

// bigStored returns the stored facts of the large world: alice's roles,
// and two roles for each other user.
func bigStored() []term.Fact {
	role := func(u, name string, on term.Value) term.Fact {
		return term.Fact{Predicate: "has_role", Args: []term.Value{term.Entity("User", u), term.String(name), on}}
	}
	var fs []term.Fact
	for _, r := range []string{"2", "5", "11", "12", "501", "999"} {
		fs = append(fs, role("alice", "reader", term.Entity("Repository", r)))
	}
	fs = append(fs, role("alice", "viewer", term.Entity("Folder", "10")))
	for u := range bigUsers {
		id := fmt.Sprint("u", u)
		fs = append(fs, role(id, "reader", term.Entity("Repository", fmt.Sprint(1+u%1000))),
			role(id, "member", term.Entity("Organization", fmt.Sprint(1+u%10))))
	}
	return fs
}

// bigApp is the large world: the database and what generates its SQL.
type bigApp struct {
	prog     *lang.Program
	eval     *evaluator.Evaluator
	src      evaluator.Source
	bindings string
	conn     *pgx.Conn
}

func newBigApp(tb testing.TB) *bigApp {
	tb.Helper()
	prog, err := lang.Compile(lang.Source{Filename: "app.polar", Src: []byte(readFile(tb, "testdata/app.polar"))})
	if err != nil {
		tb.Fatal(err)
	}
	ctx := tb.Context()
	conn, err := pgx.Connect(ctx, pgtest.NewDatabase(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
	for _, sql := range append([]string{readFile(tb, "testdata/schema.sql")}, bigWorldSQL...) {
		if _, err := conn.Exec(ctx, sql); err != nil {
			tb.Fatalf("%s: %v", sql, err)
		}
	}
	idx := memory.NewIndex()
	if err := idx.Apply(1, []store.Op{{Insert: bigStored()}}); err != nil {
		tb.Fatal(err)
	}
	return &bigApp{prog: prog, eval: evaluator.New(prog), src: idx.Snapshot(), bindings: readFile(tb, "testdata/app.yaml"), conn: conn}
}

// listSQL does what the server does for /api/list_query: parse and check
// the bindings, take the residual, write the condition.
func (a *bigApp) listSQL(ctx context.Context, user string) (string, error) {
	b, err := localauth.ParseBindings(a.bindings)
	if err != nil {
		return "", err
	}
	if err := b.Check(a.prog); err != nil {
		return "", err
	}
	read := "read"
	res, err := a.eval.Residual(ctx, evaluator.Request{Source: a.src}, b.Shapes(), allow(term.Entity("User", user), &read, "Issue", nil), []string{"resource"})
	if err != nil {
		return "", err
	}
	return b.ListSQL(res, "issues.id"), nil
}

func (a *bigApp) listQuery(tb testing.TB) string {
	tb.Helper()
	cond, err := a.listSQL(tb.Context(), "alice")
	if err != nil {
		tb.Fatal(err)
	}
	return "SELECT id FROM issues WHERE " + cond
}

// TestListUsesIndexes checks that PostgreSQL plans the list SQL on the
// large world through the application's indexes: EXPLAIN shows an index
// scan on issues and no sequential scan of it. It does not time anything.
func TestListUsesIndexes(t *testing.T) {
	a := newBigApp(t)
	q := a.listQuery(t)
	rows, err := a.conn.Query(t.Context(), "EXPLAIN "+q)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	plan := strings.Join(lines, "\n")
	if strings.Contains(plan, "Seq Scan on issues") {
		t.Errorf("the list query scans all of issues:\n%s\n\n%s", plan, q)
	}
	if !strings.Contains(plan, "Index Scan using issues_") && !strings.Contains(plan, "Index Only Scan using issues_") &&
		!strings.Contains(plan, "Bitmap Index Scan on issues_") {
		t.Errorf("the list query uses no index of issues:\n%s\n\n%s", plan, q)
	}
	var n int
	if err := a.conn.QueryRow(t.Context(), "SELECT count(*) FROM ("+q+") AS x").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1000 {
		t.Errorf("alice sees %d issues, want 1000", n)
	}
	t.Logf("alice sees %d of %d issues; plan:\n%s", n, bigIssues, plan)
}

var sink string

// BenchmarkLocalList measures the list SQL for a user who sees 1,000 of
// 100,000 issues: its generation (what /api/list_query does: parse and
// check the bindings, the residual, the SQL text) and its execution on
// PostgreSQL (all 1,000 ids read).
func BenchmarkLocalList(b *testing.B) {
	a := newBigApp(b)
	ctx := b.Context()
	b.Run("generate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s, err := a.listSQL(ctx, "alice")
			if err != nil {
				b.Fatal(err)
			}
			sink = s
		}
	})
	q := a.listQuery(b)
	b.Run("store=postgres/issues=100k/visible=1k/query", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rows, err := a.conn.Query(ctx, q)
			if err != nil {
				b.Fatal(err)
			}
			ids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
			if err != nil {
				b.Fatal(err)
			}
			if len(ids) != 1000 {
				b.Fatalf("%d ids", len(ids))
			}
		}
	})
}
