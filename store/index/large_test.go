package index

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
)

// TestLargeTables checks the index against a model on a table large
// enough to span several record chunks, with posting lists long enough for
// blocks and postings frozen several times, through deletes, compaction
// and snapshots kept across them.
func TestLargeTables(t *testing.T) {
	fact := func(i int) term.Fact {
		return term.Fact{Predicate: "has_role", Args: []term.Value{
			term.Entity("User", fmt.Sprint("u", i%3000)), term.String(fmt.Sprint("s", i%3)), term.Entity("Repo", fmt.Sprint("r", i))}}
	}
	x := New(WithChangeLog())
	x.compactMinDead = 256
	m := map[string]term.Fact{} // the model
	modelStrings := func() []string { return slices.Sorted(maps.Keys(m)) }
	type kept struct {
		snap *Snapshot
		want []string
	}
	var keep []kept
	records := func() uint32 {
		if tb := x.tables[tableKey{"has_role", 3}]; tb != nil {
			return tb.n
		}
		return 0
	}
	const batch = 2500
	for b := range 10 {
		var op store.Op
		ground := func(i int) {
			op.Delete = append(op.Delete, term.Pattern{Predicate: "has_role", Args: fact(i).Args})
			delete(m, fact(i).String())
		}
		switch b {
		case 4: // all the facts of one user, and every fifth of the first batch
			op.Delete = append(op.Delete, term.Pattern{Predicate: "has_role", Args: []term.Value{term.Entity("User", "u7"), {}, {}}})
			maps.DeleteFunc(m, func(_ string, f term.Fact) bool { return f.Args[0].ID == "u7" })
			for i := 0; i < batch; i += 5 {
				ground(i)
			}
		case 6: // most of the first four batches, which no snapshot sees any
			// more (none was taken after batch 5): compacted at once
			keep = nil
			released(t, x)
			for i := range 4 * batch {
				if i%4 != 0 {
					ground(i)
				}
			}
		}
		for i := b * batch; i < (b+1)*batch; i++ {
			op.Insert = append(op.Insert, fact(i))
			m[fact(i).String()] = fact(i)
		}
		op.Insert = append(op.Insert, fact(b*batch)) // told twice: stored once
		before := records()
		if _, err := writeBatch(x, []store.Op{op}); err != nil {
			t.Fatal(err)
		}
		if b == 6 && records() >= before {
			t.Errorf("batch 6: %d records before, %d after: nothing was compacted", before, records())
		}
		if b == 5 {
			continue
		}
		snap := x.Snapshot()
		want := modelStrings()
		if diff := cmp.Diff(want, snapshotStrings(snap), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("batch %d: store and model differ (-model +store):\n%s", b, diff)
		}
		if b%3 == 0 || b == 9 {
			keep = append(keep, kept{snap, want})
		}
		for _, p := range []term.Pattern{
			{Predicate: "has_role", Args: []term.Value{{}, term.String("s1"), {}}},
			{Predicate: "has_role", Args: []term.Value{term.Entity("User", "u8"), {}, {}}},
			{Predicate: "has_role", Args: []term.Value{term.Entity("User", "u9"), term.String("s0"), {}}},
			{Predicate: "has_role", Args: fact(b * batch).Args},
			{Predicate: "has_role", Args: fact(batch + 4).Args},
			{Predicate: "has_role", Args: make([]term.Value, 3)},
		} {
			wantN := 0
			for _, f := range m {
				if p.Matches(f) {
					wantN++
				}
			}
			if got := matchCount(snap, p.Predicate, p.Args); got != wantN {
				t.Fatalf("batch %d: Match(%v) found %d, want %d", b, p, got, wantN)
			}
		}
	}
	for _, k := range keep {
		if diff := cmp.Diff(k.want, snapshotStrings(k.snap), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("snapshot at revision %d changed (-then +now):\n%s", k.snap.Revision(), diff)
		}
	}
	if n := records(); n < 3*recChunk {
		t.Errorf("the table holds %d records, want more than three chunks", n)
	}
}
