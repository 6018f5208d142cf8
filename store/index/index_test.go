package index

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
)

func churnFact(i int) term.Fact {
	return term.Fact{Predicate: "has_role", Args: []term.Value{term.Entity("User", fmt.Sprint("u", i)), term.String("x"), term.Entity("Repo", "r")}}
}

func keeper() term.Fact {
	return term.Fact{Predicate: "has_role", Args: []term.Value{term.Entity("User", "keep"), term.String("admin"), term.Entity("Repo", "r")}}
}

func matchAll(s *Snapshot) []string {
	var out []string
	s.Match("has_role", []term.Value{{}, {}, term.Entity("Repo", "r")}, func(a []term.Value) bool {
		out = append(out, a[0].ID)
		return true
	})
	slices.Sort(out)
	return out
}

// TestCompaction checks that dead records are dropped once no snapshot can
// see them, and kept while one can.
func TestCompaction(t *testing.T) {
	x := New()
	rev := uint64(0)
	apply := func(ops ...store.Op) {
		t.Helper()
		rev++
		if err := x.Apply(rev, ops); err != nil {
			t.Fatal(err)
		}
	}
	apply(store.Op{Insert: []term.Fact{keeper()}})
	churn := func(from int) {
		t.Helper()
		for i := range 10 {
			var fs []term.Fact
			for j := range 300 {
				fs = append(fs, churnFact(from+i*300+j))
			}
			apply(store.Op{Insert: fs})
			apply(store.Op{Delete: []term.Pattern{{Predicate: "has_role", Args: []term.Value{{}, term.String("x"), {}}}}})
		}
	}
	records := func() int {
		x.mu.RLock()
		defer x.mu.RUnlock()
		return int(x.tables[tableKey{"has_role", 3}].n)
	}

	// A snapshot in the middle of churn keeps its records.
	apply(store.Op{Insert: []term.Fact{churnFact(-1)}})
	held := x.Snapshot()
	apply(store.Op{Delete: []term.Pattern{{Predicate: "has_role", Args: []term.Value{{}, term.String("x"), {}}}}})
	churn(0)
	if diff := cmp.Diff([]string{"keep", "u-1"}, matchAll(held)); diff != "" {
		t.Errorf("held snapshot after churn (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"keep"}, matchAll(x.Snapshot())); diff != "" {
		t.Errorf("latest snapshot (-want +got):\n%s", diff)
	}

	// Once it is gone, churn compacts the table.
	runtime.KeepAlive(held)
	held = nil
	apply()             // drops the shared latest snapshot too
	for i := 0; ; i++ { // wait for the snapshot's cleanup to run
		runtime.GC()
		x.mu.RLock()
		h := x.horizon()
		x.mu.RUnlock()
		if h == rev {
			break
		}
		if i == 1000 {
			t.Fatalf("snapshots still tracked after %d collections: horizon %d, revision %d", i, h, rev)
		}
		time.Sleep(time.Millisecond)
	}
	churn(100_000)
	if n := records(); n > 2*x.compactMinDead {
		t.Errorf("table holds %d records after compaction, want few", n)
	}
	if diff := cmp.Diff([]string{"keep"}, matchAll(x.Snapshot())); diff != "" {
		t.Errorf("after compaction (-want +got):\n%s", diff)
	}
	if got := x.Stats(); got != (store.Stats{Facts: 1, Roles: 1}) {
		t.Errorf("Stats = %+v", got)
	}
	// The dedup map still works after renumbering.
	apply(store.Op{Insert: []term.Fact{keeper()}})
	if got := x.Stats().Facts; got != 1 {
		t.Errorf("re-inserting a stored fact after compaction: %d facts", got)
	}
}

// TestPredicateCounts checks the counts per predicate against the facts
// each snapshot holds, before and after deletes.
func TestPredicateCounts(t *testing.T) {
	x := New()
	pub := term.Fact{Predicate: "is_public", Args: []term.Value{term.Entity("Repo", "r")}}
	if err := x.Apply(1, []store.Op{{Insert: []term.Fact{keeper(), churnFact(1), churnFact(2), pub}}}); err != nil {
		t.Fatal(err)
	}
	before := x.Snapshot()
	if err := x.Apply(2, []store.Op{{Delete: []term.Pattern{{Predicate: "is_public", Args: []term.Value{{}}}, {Predicate: "has_role", Args: []term.Value{term.Entity("User", "u1"), {}, {}}}}}}); err != nil {
		t.Fatal(err)
	}
	want1 := []store.PredicateCount{{Predicate: "has_role", Arity: 3, Facts: 3}, {Predicate: "is_public", Arity: 1, Facts: 1}}
	if d := cmp.Diff(want1, before.PredicateCounts()); d != "" {
		t.Errorf("revision 1 (-want +got):\n%s", d)
	}
	want2 := []store.PredicateCount{{Predicate: "has_role", Arity: 3, Facts: 2}}
	if d := cmp.Diff(want2, x.Snapshot().PredicateCounts()); d != "" {
		t.Errorf("revision 2 (-want +got):\n%s", d)
	}
}
