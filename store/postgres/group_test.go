package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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

// TestGroupCommitCanceled writes from many goroutines whose requests give
// up at random moments: before their batch is taken by a group, while its
// group commits, or not at all. A write is acknowledged only once
// committed, at its own revision; a write that was withdrawn before a
// group took it answers its context's error and is never committed; a
// group goes on while any of its writers still waits. Whatever the
// cancellations, the database and the store's index agree, and the
// acknowledged revisions hold their writers' facts.
func TestGroupCommitCanceled(t *testing.T) {
	url := pgtest.NewDatabase(t)
	s := open(t, url, postgres.Options{})
	const writers, perWriter = 16, 60
	var (
		mu       sync.Mutex
		acked    = map[store.Revision]string{}
		failed   = map[string]bool{}
		canceled int
		wg       sync.WaitGroup
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range perWriter {
				id := fmt.Sprintf("w%d-%d", w, i)
				ctx, cancel := context.WithCancel(t.Context())
				switch rng.IntN(3) {
				case 0: // gives up at once, or nearly
					time.AfterFunc(time.Duration(rng.IntN(50))*time.Microsecond, cancel)
				case 1: // gives up about while its group commits
					time.AfterFunc(time.Duration(200+rng.IntN(3000))*time.Microsecond, cancel)
				}
				rev, err := s.Write(ctx, []store.Op{{Insert: []term.Fact{{Predicate: "has_role", Args: []term.Value{term.Entity("User", id), term.String("reader"), term.Entity("Repo", "r")}}}}})
				gaveUp := ctx.Err() != nil // a writer that did not give up must succeed
				cancel()
				mu.Lock()
				switch {
				case err == nil:
					if other, ok := acked[rev]; ok {
						t.Errorf("revision %d acknowledged twice: %s and %s", rev, other, id)
					}
					acked[rev] = id
				case errors.Is(err, context.Canceled) && gaveUp:
					failed[id] = true
					canceled++
				default:
					t.Errorf("write %s (gave up: %t): %v, want success, or context.Canceled when it gave up", id, gaveUp, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	t.Logf("%d writes acknowledged, %d canceled", len(acked), canceled)
	if len(acked) == 0 || canceled == 0 {
		t.Fatalf("%d acknowledged and %d canceled writes: the test needs both", len(acked), canceled)
	}
	// The database: each acknowledged revision holds its writer's fact;
	// a canceled write is in it only when its group committed it as the
	// cancellation came (an outcome its writer could not learn), and then
	// at a revision nobody else was acknowledged at.
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	rows, err := conn.Query(t.Context(), `SELECT revision, arg_ids[1] FROM changes WHERE op = 1 ORDER BY revision`)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	var head int64
	for rows.Next() {
		var rev int64
		var user string
		if err := rows.Scan(&rev, &user); err != nil {
			t.Fatal(err)
		}
		stored[user] = true
		head = rev
		if want, ok := acked[store.Revision(rev)]; ok && user != want {
			t.Errorf("revision %d stored %s; the write acknowledged at it was %s", rev, user, want)
		}
		if _, ok := acked[store.Revision(rev)]; !ok && !failed[user] {
			t.Errorf("revision %d stored %s, which was neither acknowledged nor canceled", rev, user)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	late := 0
	for id := range failed {
		if stored[id] {
			late++
		}
	}
	t.Logf("%d canceled writes were committed by their group as they gave up", late)
	for rev, id := range acked {
		if !stored[id] {
			t.Errorf("write %s was acknowledged at revision %d but is not stored", id, rev)
		}
	}
	// The store's index, and a second store that loads the database, hold
	// what the database holds.
	other := open(t, url, postgres.Options{})
	for _, st := range []store.Store{s, other} {
		snap, err := st.Snapshot(t.Context(), store.Consistency{AtLeast: store.Revision(head)})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		snap.Match("has_role", make([]term.Value, 3), func(args []term.Value) bool {
			got[args[0].ID] = true
			return true
		})
		if diff := cmp.Diff(stored, got); diff != "" {
			t.Errorf("the index and the database differ (-database +index):\n%s", diff)
		}
	}
}
