package index

import (
	"runtime"
	"slices"
	"testing"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
)

// TestHoldReads checks a view of HoldReads: it reads what its snapshot
// reads without taking the lock (so its reads go on while a writer waits
// for the lock, where taking the lock again would deadlock), it holds
// writers off but for PauseReads, and a released view is reused.
func TestHoldReads(t *testing.T) {
	x := New()
	role := func(u, r string) term.Fact {
		return term.Fact{Predicate: "has_role", Args: []term.Value{term.Entity("User", u), term.String("viewer"), term.Entity("Repo", r)}}
	}
	if _, err := writeBatch(x, []store.Op{{Insert: []term.Fact{role("alice", "a"), role("alice", "b"), role("bob", "a")}}}); err != nil {
		t.Fatal(err)
	}
	snap := x.Snapshot()
	alice := term.Entity("User", "alice")
	reads := func(s *Snapshot) (ids [][]uint32, n int) {
		rel := s.Relation("has_role", 3)
		id, ok := s.Lookup(alice)
		if rel < 0 || !ok {
			t.Fatalf("Relation %d, Lookup(alice) %v", rel, ok)
		}
		s.MatchIDs(rel, []uint32{id, 0, 0}, func(r []uint32) bool {
			ids = append(ids, slices.Clone(r))
			return true
		})
		s.Match("has_role", []term.Value{{}, term.String("viewer"), term.Entity("Repo", "a")}, func([]term.Value) bool {
			n++
			return true
		})
		return ids, n
	}
	wantIDs, wantN := reads(snap)
	if len(wantIDs) != 2 || wantN != 2 {
		t.Fatalf("the snapshot reads %d facts of alice and %d of Repo a, want 2 and 2", len(wantIDs), wantN)
	}

	v := snap.HoldReads(nil).(*Snapshot)
	wrote := make(chan uint64)
	go func() {
		rev, _ := writeBatch(x, []store.Op{{Insert: []term.Fact{role("alice", "c")}}})
		wrote <- rev
	}()
	for x.mu.TryRLock() { // until the writer waits for the lock
		x.mu.RUnlock()
		runtime.Gosched()
	}
	ids, n := reads(v) // would deadlock if the view took the lock
	if !slices.EqualFunc(ids, wantIDs, slices.Equal) || n != wantN {
		t.Fatalf("the held view reads %v and %d, the snapshot %v and %d", ids, n, wantIDs, wantN)
	}
	select {
	case <-wrote:
		t.Fatal("a write committed while a view held the read lock")
	default:
	}
	// A write takes the lock more than once (its inserts, its commit):
	// each pause lets it take the lock once.
	var rev uint64
	for done := false; !done; {
		v.PauseReads()
		select {
		case rev = <-wrote:
			done = true
		default:
			runtime.Gosched()
		}
	}
	if rev != snap.Revision()+1 {
		t.Fatalf("the write committed revision %d, want %d", rev, snap.Revision()+1)
	}
	if ids, _ := reads(v); len(ids) != 2 {
		t.Fatalf("after the pause the view reads %d facts of alice, want its revision's 2", len(ids))
	}
	v.ReleaseReads()
	if !x.mu.TryLock() {
		t.Fatal("the lock is still held after ReleaseReads")
	}
	x.mu.Unlock()
	v.ReleaseReads() // a second release does nothing

	if w := x.Snapshot().HoldReads(v); w != v {
		t.Fatal("HoldReads did not reuse a released view")
	} else {
		if ids, _ := reads(v); len(ids) != 3 {
			t.Fatalf("the view of the new snapshot reads %d facts of alice, want 3", len(ids))
		}
		v.ReleaseReads()
	}
	if w := snap.HoldReads(v); w == v { // v is released: reused; hold it and ask again
		if u := snap.HoldReads(w); u == w {
			t.Fatal("HoldReads reused a view still holding the lock")
		} else {
			u.(*Snapshot).ReleaseReads()
		}
		w.(*Snapshot).ReleaseReads()
	}
}
