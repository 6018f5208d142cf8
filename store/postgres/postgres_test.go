package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/migrations"

	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/pgtest"
	"github.com/castellan-authz/castellan/store/postgres"
	"github.com/castellan-authz/castellan/store/storetest"
)

func open(tb testing.TB, url string, opts postgres.Options) *postgres.Store {
	tb.Helper()
	s, err := postgres.Open(tb.Context(), url, opts)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(tb testing.TB) store.Store {
		return open(tb, pgtest.NewDatabase(tb), postgres.Options{})
	})
}

func fact(pred string, args ...term.Value) term.Fact { return term.Fact{Predicate: pred, Args: args} }

func role(u, r, repo string) term.Fact {
	return fact("has_role", term.Entity("User", u), term.String(r), term.Entity("Repo", repo))
}

func write(tb testing.TB, s store.Store, ops ...store.Op) store.Revision {
	tb.Helper()
	rev, err := s.Write(tb.Context(), ops)
	if err != nil {
		tb.Fatalf("Write: %v", err)
	}
	return rev
}

func facts(tb testing.TB, snap store.Snapshot) []string {
	tb.Helper()
	out := storetest.AllFacts(snap, term.Pattern{AnyArity: true})
	slices.Sort(out)
	return out
}

// eventually polls cond until it holds or 20 s have passed.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	within(tb, 20*time.Second, what, cond)
}

// within polls cond until it holds or d has passed.
func within(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("gave up waiting %v: %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTwoStoresFollowEachOther(t *testing.T) {
	url := pgtest.NewDatabase(t)
	a := open(t, url, postgres.Options{})
	b := open(t, url, postgres.Options{})
	r1 := write(t, a, store.Op{Insert: []term.Fact{role("alice", "admin", "anvil")}})
	// The follower brings b to r1 without b being asked.
	eventually(t, "b's index reaches a's write", func() bool { return b.IndexRevision() >= r1 })
	r2 := write(t, b, store.Op{Insert: []term.Fact{role("bob", "reader", "anvil")}, Delete: []term.Pattern{{Predicate: "has_role", Args: []term.Value{term.Entity("User", "alice"), {}, {}}}}})
	// Read-your-writes across stores: a snapshot at least at r2 waits for it.
	snap, err := a.Snapshot(t.Context(), store.Consistency{AtLeast: r2})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`has_role(User{"bob"}, "reader", Repo{"anvil"})`}
	if diff := cmp.Diff(want, facts(t, snap)); diff != "" {
		t.Errorf("a at revision %d (-want +got):\n%s", snap.Revision(), diff)
	}
	if diff := cmp.Diff(facts(t, storetest.MustSnapshot(t, b, r2)), facts(t, snap)); diff != "" {
		t.Errorf("a and b differ (-b +a):\n%s", diff)
	}
	eventually(t, "a is writable without lag", func() bool { return a.Ready() && a.Writable() && a.Lag() == 0 })
}

func TestRestartRebuildsIndex(t *testing.T) {
	url := pgtest.NewDatabase(t)
	a, err := postgres.Open(t.Context(), url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var batch []term.Fact
	for f := range storetest.GitHubFacts(2000) {
		batch = append(batch, f)
	}
	write(t, a, store.Op{Insert: batch})
	rev := write(t, a, store.Op{Delete: []term.Pattern{{Predicate: "has_relation", AnyArity: true}}}, store.Op{Insert: []term.Fact{fact("is_public", term.Entity("Repository", "repo-1"))}})
	write(t, a) // an empty revision at the end
	before := a.Index().Snapshot()
	a.Close()

	b := open(t, url, postgres.Options{})
	after, err := b.Snapshot(t.Context(), store.Consistency{})
	if err != nil {
		t.Fatal(err)
	}
	if after.Revision() != rev+1 {
		t.Errorf("restarted store at revision %d, want %d", after.Revision(), rev+1)
	}
	if diff := cmp.Diff(storetest.AllFacts(before, term.Pattern{AnyArity: true}), storetest.AllFacts(after, term.Pattern{AnyArity: true})); diff != "" {
		t.Errorf("rebuilt index (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(before.Stats(), after.Stats()); diff != "" {
		t.Errorf("rebuilt stats (-before +after):\n%s", diff)
	}
}

func TestBulkWrite(t *testing.T) {
	url := pgtest.NewDatabase(t)
	s := open(t, url, postgres.Options{})
	var batch []term.Fact
	for f := range storetest.GitHubFacts(3000) {
		batch = append(batch, f)
	}
	write(t, s, store.Op{Insert: batch[:1000]})
	// Overlapping, with duplicates inside the batch: only new facts are logged.
	rev := write(t, s, store.Op{Insert: append(slices.Clone(batch[500:]), batch[2999], batch[0])})
	changes, err := s.Changes(t.Context(), rev-1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 2000 {
		t.Errorf("bulk write logged %d changes, want 2000", len(changes))
	}
	snap := storetest.MustSnapshot(t, s, rev)
	if got := snap.Stats().Facts; got != 3000 {
		t.Errorf("Stats().Facts = %d, want 3000", got)
	}
	other := open(t, url, postgres.Options{})
	if diff := cmp.Diff(facts(t, snap), facts(t, storetest.MustSnapshot(t, other, rev))); diff != "" {
		t.Errorf("a second store's index differs (-writer +other):\n%s", diff)
	}
}

func TestSchemaVersion(t *testing.T) {
	ctx := t.Context()
	url := pgtest.NewEmptyDatabase(t)
	_, err := postgres.Open(ctx, url, postgres.Options{})
	if !errors.Is(err, postgres.ErrSchemaVersion) || !strings.Contains(err.Error(), fmt.Sprintf("database schema is at version 0, this castellan needs %d: run `castellan migrate up` or start with --migrate", migrations.Latest())) {
		t.Fatalf("Open of an unmigrated database: %v", err)
	}
	if err := migrations.Steps(ctx, url, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Open(ctx, url, postgres.Options{}); !errors.Is(err, postgres.ErrSchemaVersion) || !strings.Contains(err.Error(), "at version 1") {
		t.Fatalf("Open of a partly migrated database: %v", err)
	}
	s, err := postgres.Open(ctx, url, postgres.Options{Migrate: true})
	if err != nil {
		t.Fatalf("Open with Migrate: %v", err)
	}
	s.Close()
	if v, dirty, err := migrations.Version(ctx, url); err != nil || dirty || v != migrations.Latest() {
		t.Fatalf("after Open with Migrate: version %d, dirty %v, %v", v, dirty, err)
	}
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(ctx, "UPDATE schema_migrations SET version = version + 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Open(ctx, url, postgres.Options{}); !errors.Is(err, postgres.ErrSchemaVersion) || !strings.Contains(err.Error(), "newer than this castellan") {
		t.Fatalf("Open of a newer schema: %v", err)
	}
}

// TestConcurrentWritersTwoStores has many writers on two stores with small
// pools: a store's index often lags behind the other's commits when it
// writes, and no writer may wait for a connection while holding the index.
func TestConcurrentWritersTwoStores(t *testing.T) {
	url := pgtest.NewDatabase(t)
	a := open(t, url, postgres.Options{MaxConns: 2})
	b := open(t, url, postgres.Options{MaxConns: 2})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for w := range 8 {
		s := a
		if w%2 == 1 {
			s = b
		}
		wg.Go(func() {
			for i := range 15 {
				f := role(fmt.Sprintf("w%d-%d", w, i), "reader", "anvil")
				rev, err := s.Write(ctx, []store.Op{{Insert: []term.Fact{f}}})
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				snap, err := s.Snapshot(ctx, store.Consistency{AtLeast: rev})
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				n := 0
				snap.Match("has_role", f.Args, func([]term.Value) bool { n++; return true })
				if n != 1 {
					t.Errorf("writer %d does not read its write at revision %d", w, snap.Revision())
				}
			}
		})
	}
	wg.Wait()
	head, err := a.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sa, sb := storetest.MustSnapshot(t, a, head), storetest.MustSnapshot(t, b, head)
	if got := sa.Stats().Facts; got != 8*15 {
		t.Errorf("%d facts, want %d", got, 8*15)
	}
	if diff := cmp.Diff(facts(t, sa), facts(t, sb)); diff != "" {
		t.Errorf("the stores differ (-a +b):\n%s", diff)
	}
}
