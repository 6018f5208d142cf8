package index

import (
	"fmt"
	"slices"
	"testing"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
)

// TestMatchIDsAfter checks that MatchIDsAfter yields what MatchIDs yields
// after the given fact, for short and long posting lists and every
// record, at a revision whose facts were deleted and added since (the
// snapshot reads its own), and that it refuses a fact it does not hold
// live (then the caller reads from the start).
func TestMatchIDsAfter(t *testing.T) {
	x := New()
	role := func(u, r int) term.Fact {
		return term.Fact{Predicate: "has_role", Args: []term.Value{
			term.Entity("User", fmt.Sprint("u", u)), term.String("viewer"), term.Entity("Repo", fmt.Sprint("r", r))}}
	}
	var op store.Op
	for i := range 600 {
		op.Insert = append(op.Insert, role(i%3, (i*7)%600)) // u0 and u1 read 200 each, u2 200
	}
	op.Insert = append(op.Insert, role(9, 1), role(9, 2), role(9, 3))
	if _, err := writeBatch(x, []store.Op{op}); err != nil {
		t.Fatal(err)
	}
	snap := x.Snapshot()
	// Later writes: snap reads its revision still.
	del := role(0, 0)
	if _, err := writeBatch(x, []store.Op{{Delete: []term.Pattern{{Predicate: del.Predicate, Args: del.Args}}, Insert: []term.Fact{role(0, 1000)}}}); err != nil {
		t.Fatal(err)
	}
	rel := snap.Relation("has_role", 3)
	id := func(v term.Value) uint32 {
		i, ok := snap.Lookup(v)
		if !ok {
			t.Fatalf("no id for %v", v)
		}
		return i
	}
	viewer := id(term.String("viewer"))
	deleted := []uint32{id(term.Entity("User", "u0")), viewer, id(term.Entity("Repo", "r0"))}
	for _, want := range [][]uint32{
		{id(term.Entity("User", "u0")), viewer, 0}, // 200 records
		{id(term.Entity("User", "u9")), viewer, 0}, // 3: the short path of MatchIDs
		{0, viewer, 0}, // a long list, two users
		{0, 0, 0},      // every record
	} {
		var all [][]uint32
		snap.MatchIDs(rel, want, func(ids []uint32) bool {
			all = append(all, slices.Clone(ids))
			return true
		})
		if len(all) == 0 {
			t.Fatalf("%v: no facts", want)
		}
		for k, after := range all {
			var got [][]uint32
			ok := snap.MatchIDsAfter(rel, want, after, func(ids []uint32) bool {
				got = append(got, slices.Clone(ids))
				return true
			})
			if !ok {
				if slices.Equal(after, deleted) {
					continue // deleted since the snapshot: not live
				}
				t.Fatalf("%v after %v: refused", want, after)
			}
			if !slices.EqualFunc(got, all[k+1:], slices.Equal) {
				t.Fatalf("%v after record %d %v: %d facts, want the %d after it", want, k, after, len(got), len(all)-k-1)
			}
		}
	}
	if snap.MatchIDsAfter(rel, []uint32{0, viewer, 0}, deleted, func([]uint32) bool { return true }) {
		t.Error("after a fact deleted since the snapshot: not refused")
	}
}
