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
	"github.com/castellan-authz/castellan/store/index"
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
	prog, err := lang.Compile(lang.File{Filename: "app.polar", Src: []byte(readFile(tb, "testdata/app.polar"))})
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
	idx := index.New()
	if err := idx.Apply(1, []store.Op{{Insert: bigStored()}}); err != nil {
		tb.Fatal(err)
	}
	return &bigApp{prog: prog, eval: evaluator.New(prog), src: idx.Snapshot(), bindings: readFile(tb, "testdata/app.yaml"), conn: conn}
}

// parse parses and checks the bindings, what the server does when a
// file is not in its cache.
func (a *bigApp) parse() (*localauth.Bindings, error) {
	b, err := localauth.ParseBindings(a.bindings)
	if err != nil {
		return nil, err
	}
	return b, b.Check(a.prog)
}

// listSQL does what the server does for /api/list_query once the bindings
// are parsed: the residual, then the condition.
func (a *bigApp) listSQL(ctx context.Context, b *localauth.Bindings, shapes []evaluator.LocalShape, user string) (string, error) {
	read := "read"
	res, err := a.eval.Residual(ctx, evaluator.Request{Source: a.src}, shapes, allow(term.Entity("User", user), &read, "Issue", nil), []string{"resource"})
	if err != nil {
		return "", err
	}
	return b.ListSQL(res, "issues.id"), nil
}

func (a *bigApp) listQuery(tb testing.TB) string {
	tb.Helper()
	b, err := a.parse()
	if err != nil {
		tb.Fatal(err)
	}
	cond, err := a.listSQL(tb.Context(), b, b.Shapes(), "alice")
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
// 100,000 issues: parsing and checking the bindings (a miss of the
// server's bindings cache), generating the SQL from parsed bindings (the
// residual and the SQL text: what /api/list_query does on a cache hit),
// and running it on PostgreSQL (all 1,000 ids read). The CPU-bound
// sub-benchmarks also report process CPU time per operation, which a busy
// machine inflates less than wall time.
func BenchmarkLocalList(b *testing.B) {
	a := newBigApp(b)
	ctx := b.Context()
	bindings, err := a.parse()
	if err != nil {
		b.Fatal(err)
	}
	shapes := bindings.Shapes()
	cpu := func(b *testing.B, op func() (string, error)) {
		b.ReportAllocs()
		start, ok := processCPU()
		n := 0
		for b.Loop() {
			s, err := op()
			if err != nil {
				b.Fatal(err)
			}
			sink = s
			n++
		}
		if end, ok2 := processCPU(); ok && ok2 && n > 0 {
			b.ReportMetric(float64(end-start)/float64(n), "cpu-ns/op")
		}
	}
	b.Run("parse-bindings", func(b *testing.B) {
		cpu(b, func() (string, error) {
			p, err := a.parse()
			return p.Facts[0].Query, err
		})
	})
	b.Run("generate", func(b *testing.B) {
		cpu(b, func() (string, error) { return a.listSQL(ctx, bindings, shapes, "alice") })
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
