package postgres_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/pgtest"
	"github.com/castellan-authz/castellan/store/postgres"
)

// TestGroupCommit writes from many goroutines at once, so that writes are
// committed in groups: every acknowledged write has its own revision, the
// revisions are 1..n without a gap, each revision holds exactly its
// writer's fact (in the database's change log and in a second store that
// follows it), and a batch the database refuses fails alone.
func TestGroupCommit(t *testing.T) {
	url := pgtest.NewDatabase(t)
	s := open(t, url, postgres.Options{})
	// The database refuses any fact with the predicate "poison" (a
	// trigger), as it would refuse a batch for a reason Prepare cannot
	// see; the writes grouped with it must still succeed.
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	if _, err := conn.Exec(t.Context(), postgres.RefusePoisonSQL); err != nil {
		t.Fatal(err)
	}

	const writers, perWriter = 16, 40
	fact := func(w, i int) term.Fact {
		return term.Fact{Predicate: "has_role", Args: []term.Value{term.Entity("User", fmt.Sprintf("w%d-%d", w, i)), term.String("reader"), term.Entity("Repo", "r")}}
	}
	var (
		mu    sync.Mutex
		byRev = map[store.Revision]string{}
		wg    sync.WaitGroup
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				if w == 0 && i%10 == 5 {
					if _, err := s.Write(t.Context(), []store.Op{{Insert: []term.Fact{{Predicate: "poison", Args: []term.Value{term.String("x")}}}}}); err == nil {
						t.Error("a poisoned batch was committed")
					}
				}
				f := fact(w, i)
				rev, err := s.Write(t.Context(), []store.Op{{Insert: []term.Fact{f}}})
				if err != nil {
					t.Errorf("writer %d, write %d: %v", w, i, err)
					return
				}
				mu.Lock()
				if other, ok := byRev[rev]; ok {
					t.Errorf("revision %d acknowledged twice: %s and %s", rev, other, f.Args[0].ID)
				}
				byRev[rev] = f.Args[0].ID
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	n := writers * perWriter
	revs := make([]store.Revision, 0, n)
	for r := range byRev {
		revs = append(revs, r)
	}
	slices.Sort(revs)
	if len(revs) != n || revs[0] != 1 || revs[n-1] != store.Revision(n) {
		t.Fatalf("%d revisions from %d to %d; want 1 to %d without a gap", len(revs), revs[0], revs[len(revs)-1], n)
	}
	// The change log: one stored fact per revision, the one whose write
	// was acknowledged at it.
	rows, err := conn.Query(t.Context(), `SELECT revision, arg_ids[1] FROM changes WHERE op = 1 ORDER BY revision`)
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for rows.Next() {
		var rev int64
		var user string
		if err := rows.Scan(&rev, &user); err != nil {
			t.Fatal(err)
		}
		if want := byRev[store.Revision(rev)]; user != want {
			t.Errorf("revision %d stored %s; the write acknowledged at it was %s", rev, user, want)
		}
		got++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if got != n {
		t.Errorf("%d changes, want %d", got, n)
	}
	// Grouped: a transaction's revisions share its start time.
	var commits int
	if err := conn.QueryRow(t.Context(), `SELECT count(DISTINCT committed_at) FROM revisions`).Scan(&commits); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d writes in %d transactions", n, commits)
	if commits >= n {
		t.Errorf("%d writes in %d transactions: no write was grouped", n, commits)
	}
	// A second store, following the database, holds the same facts at
	// every revision.
	other := open(t, url, postgres.Options{})
	for _, st := range []store.Store{s, other} {
		snap, err := st.Snapshot(t.Context(), store.Consistency{AtLeast: store.Revision(n)})
		if err != nil {
			t.Fatal(err)
		}
		if got := len(facts(t, snap)); got != n {
			t.Errorf("%d facts, want %d", got, n)
		}
	}
}
