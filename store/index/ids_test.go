package index

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
)

// matchIDs collects the facts MatchIDs yields, as values read back
// through the snapshot.
func matchIDs(s *Snapshot, rel int, ids []uint32) []term.Fact {
	var out []term.Fact
	s.MatchIDs(rel, ids, func(a []uint32) bool {
		f := term.Fact{Predicate: "has_role"}
		for _, id := range a {
			f.Args = append(f.Args, s.Value(id))
		}
		out = append(out, f)
		return true
	})
	return out
}

// TestIDsAcrossSnapshots checks the id-level reads: a snapshot's ids keep
// reading its values while later revisions delete their facts and compact
// the table; once no snapshot sees them, the ids are freed and reused for
// other values, which later snapshots read and match under them.
func TestIDsAcrossSnapshots(t *testing.T) {
	x := New()
	x.compactMinDead = 1
	fact := func(round, i int) term.Fact {
		return term.Fact{Predicate: "has_role", Args: []term.Value{
			term.Entity("User", fmt.Sprint("u", round, "-", i)), term.String("viewer"),
			term.Entity("Repo", fmt.Sprint("r", round, "-", i))}}
	}
	const n = 20
	round := func(r int) {
		t.Helper()
		var op store.Op
		for i := range n {
			if r > 0 {
				f := fact(r-1, i)
				op.Delete = append(op.Delete, term.Pattern{Predicate: f.Predicate, Args: f.Args})
			}
			op.Insert = append(op.Insert, fact(r, i))
		}
		if _, err := writeBatch(x, []store.Op{op}); err != nil {
			t.Fatal(err)
		}
	}
	round(0)
	old := x.Snapshot()
	rel := old.Relation("has_role", 3)
	if rel < 0 {
		t.Fatal("no relation for has_role/3")
	}
	if got := old.Relation("has_role", 2); got != -1 {
		t.Errorf("Relation(has_role, 2) = %d, want -1", got)
	}
	if got := old.Relation("nothing", 3); got != -1 {
		t.Errorf("Relation(nothing, 3) = %d, want -1", got)
	}
	oldIDs := map[uint32]term.Value{}
	for i := range n {
		u := fact(0, i).Args[0]
		id, ok := old.Lookup(u)
		if !ok || id == 0 {
			t.Fatalf("Lookup(%v) = %d, %v", u, id, ok)
		}
		oldIDs[id] = u
	}
	u0, _ := old.Lookup(fact(0, 0).Args[0])
	viewer, _ := old.Lookup(term.String("viewer"))

	// Later revisions delete round 0's facts; old still reads them.
	for r := 1; r <= 3; r++ {
		round(r)
	}
	if got := matchIDs(old, rel, []uint32{u0, 0, 0}); len(got) != 1 || !got[0].Equal(fact(0, 0)) {
		t.Errorf("old snapshot: MatchIDs(u0, any, any) = %v, want [%v]", got, fact(0, 0))
	}
	if got := matchIDs(old, rel, []uint32{0, viewer, 0}); len(got) != n {
		t.Errorf("old snapshot: MatchIDs(any, viewer, any) = %d facts, want %d", len(got), n)
	}
	if got := matchIDs(old, rel, []uint32{u0, 0}); got != nil {
		t.Errorf("MatchIDs with the wrong arity = %v, want nothing", got)
	}
	if got := matchIDs(old, -1, []uint32{u0, 0, 0}); got != nil {
		t.Errorf("MatchIDs of relation -1 = %v, want nothing", got)
	}
	for id, v := range oldIDs {
		if got := old.Value(id); got != v {
			t.Fatalf("old snapshot: Value(%d) = %v, want %v", id, got, v)
		}
	}
	cur := x.Snapshot()
	if got := matchIDs(cur, rel, []uint32{u0, 0, 0}); got != nil {
		t.Errorf("latest snapshot: MatchIDs(u0 of a deleted fact) = %v, want nothing", got)
	}
	runtime.KeepAlive(old)

	// Once no snapshot sees round 0, its ids are freed, and reused by the
	// values of a large batch.
	old, cur = nil, nil
	for r := 4; r <= 6; r++ {
		released(t, x)
		round(r)
	}
	extra := func(i int) term.Fact {
		return term.Fact{Predicate: "has_role", Args: []term.Value{
			term.Entity("User", fmt.Sprint("extra-", i)), term.String("owner"), term.Entity("Repo", "x")}}
	}
	var op store.Op
	for i := range 10 * n {
		op.Insert = append(op.Insert, extra(i))
	}
	if _, err := writeBatch(x, []store.Op{op}); err != nil {
		t.Fatal(err)
	}
	snap := x.Snapshot()
	if _, ok := snap.Lookup(fact(0, 0).Args[0]); ok {
		t.Fatal("a value of round 0 is still interned")
	}
	reused := 0
	for i := range 10 * n {
		f := extra(i)
		id, ok := snap.Lookup(f.Args[0])
		if !ok {
			t.Fatalf("Lookup(%v) failed", f.Args[0])
		}
		if _, was := oldIDs[id]; !was {
			continue
		}
		reused++
		if got := snap.Value(id); got != f.Args[0] {
			t.Fatalf("reused id %d reads %v, want %v", id, got, f.Args[0])
		}
		if got := matchIDs(snap, rel, []uint32{id, 0, 0}); len(got) != 1 || !got[0].Equal(f) {
			t.Fatalf("reused id %d: MatchIDs = %v, want [%v]", id, got, f)
		}
	}
	if reused == 0 {
		t.Error("no id of round 0 was reused")
	}
	if _, ok := x.Snapshot().Lookup(term.Value{}); ok {
		t.Error("the zero Value has an id")
	}
}

// TestMatchIDsGroundAndShortLists checks the fast paths of MatchIDs
// against the revisions: a ground question answered from the live set
// (a fact deleted after a snapshot, and told again, is seen once by the
// snapshot and by the later ones as they should; a fact deleted before is
// not), and a short posting list with dead records and records added
// after the snapshot, with another bound position compared.
func TestMatchIDsGroundAndShortLists(t *testing.T) {
	x := New()
	x.compactMinDead = 1 << 20 // keep the dead records
	f := func(u, r string) term.Fact {
		return term.Fact{Predicate: "has_role", Args: []term.Value{term.Entity("User", u), term.String("viewer"), term.Entity("Repo", r)}}
	}
	a, b, c := f("a", "r1"), f("b", "r1"), f("c", "r1")
	x.ApplyNext([]store.Op{{Insert: []term.Fact{a, b, c, f("a", "r2")}}})
	s1 := x.Snapshot()
	x.ApplyNext([]store.Op{{Delete: []term.Pattern{{Predicate: "has_role", Args: b.Args}}}})
	s2 := x.Snapshot()
	x.ApplyNext([]store.Op{{Insert: []term.Fact{b, f("d", "r1")}}})
	s3 := x.Snapshot()
	rel := s3.Relation("has_role", 3)
	id := func(v term.Value) uint32 {
		id, ok := s3.Lookup(v)
		if !ok {
			t.Fatalf("no id for %v", v)
		}
		return id
	}
	ground := []uint32{id(b.Args[0]), id(b.Args[1]), id(b.Args[2])}
	r1 := []uint32{0, 0, id(b.Args[2])}
	userA := []uint32{id(a.Args[0]), 0, id(a.Args[2])}
	for _, tc := range []struct {
		s                 *Snapshot
		ground, r1, userA int
	}{
		{s1, 1, 3, 1},
		{s2, 0, 2, 1},
		{s3, 1, 4, 1},
	} {
		if got := len(matchIDs(tc.s, rel, ground)); got != tc.ground {
			t.Errorf("revision %d: ground %v found %d, want %d", tc.s.Revision(), b, got, tc.ground)
		}
		if got := len(matchIDs(tc.s, rel, r1)); got != tc.r1 {
			t.Errorf("revision %d: the roles on r1 found %d, want %d", tc.s.Revision(), got, tc.r1)
		}
		if got := matchIDs(tc.s, rel, userA); len(got) != tc.userA || !got[0].Equal(a) {
			t.Errorf("revision %d: a's roles on r1 = %v, want [%v]", tc.s.Revision(), got, a)
		}
	}
	runtime.KeepAlive(s1)
}
