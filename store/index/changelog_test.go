package index

import (
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/storetest"
)

// TestChangesWindows reads the change log from every revision with several
// limits, over a log long enough to span many chunks, with revisions that
// span chunk boundaries, deletes, and facts of several arities.
func TestChangesWindows(t *testing.T) {
	const n, perRev = 3000, 150
	x := New(WithChangeLog())
	fact := func(j int) term.Fact {
		if j%7 == 0 { // another arity
			return term.Fact{Predicate: "is_public", Args: []term.Value{term.Entity("Issue", strconv.Itoa(j))}}
		}
		return storetest.GitHubFact(j, n)
	}
	var want []store.Change
	for i := 0; i < n; i += perRev {
		var op store.Op
		var batch []store.Change
		if i > 0 { // delete one fact of the previous batch
			f := fact(i - 1)
			op.Delete = []term.Pattern{{Predicate: f.Predicate, Args: f.Args}}
			batch = append(batch, store.Change{Op: store.OpDelete, Fact: f})
		}
		for j := i; j < i+perRev; j++ {
			f := fact(j)
			if j%2 == 0 && j > i { // already stored: no change
				op.Insert = append(op.Insert, fact(j-1))
			}
			op.Insert = append(op.Insert, f)
			batch = append(batch, store.Change{Op: store.OpInsert, Fact: f})
		}
		got, err := writeBatch(x, []store.Op{op})
		if err != nil {
			t.Fatal(err)
		}
		for k := range batch {
			batch[k].Revision = got
		}
		want = append(want, batch...)
	}
	if _, err := writeBatch(x, nil); err != nil { // a revision with no change
		t.Fatal(err)
	}
	head := x.Revision()
	for since := range head + 1 {
		first := 0
		for first < len(want) && want[first].Revision <= since {
			first++
		}
		for _, limit := range []int{0, 1, 149, 151, 1000} {
			end := len(want)
			if limit > 0 {
				end = min(end, first+limit)
			}
			got := x.Changes(since, limit)
			if diff := cmp.Diff(want[first:end], got); diff != "" {
				t.Fatalf("Changes(%d, %d) (-want +got):\n%s", since, limit, diff)
			}
		}
	}
}

// TestPruneChanges prunes the change log at every revision of a log that
// spans many chunks, in order, checking after each prune that what is kept
// reads back as before, that whole chunks are given back, and that writes
// after a prune are logged as usual.
func TestPruneChanges(t *testing.T) {
	const revs, perRev = 40, 300
	x := New(WithChangeLog())
	for i := range revs {
		var op store.Op
		for j := range perRev {
			op.Insert = append(op.Insert, storetest.GitHubFact(i*perRev+j, revs*perRev))
		}
		if _, err := writeBatch(x, []store.Op{op}); err != nil {
			t.Fatal(err)
		}
	}
	all := x.Changes(0, 0)
	chunks := len(x.log.chunks)
	for through := uint64(0); through <= revs; through += 3 {
		x.PruneChanges(through)
		if got := x.ChangesPruned(); got != max(through, x.log.pruned) {
			t.Fatalf("ChangesPruned = %d after PruneChanges(%d)", got, through)
		}
		first := 0
		for first < len(all) && all[first].Revision <= through {
			first++
		}
		if diff := cmp.Diff(all[first:], x.Changes(through, 0)); diff != "" {
			t.Fatalf("Changes(%d) after PruneChanges(%d) (-want +got):\n%s", through, through, diff)
		}
	}
	if len(x.log.chunks) >= chunks {
		t.Errorf("%d chunks kept of %d after pruning all but the last revisions", len(x.log.chunks), chunks)
	}
	x.PruneChanges(revs) // everything
	if got := x.Changes(0, 0); len(got) != 0 || len(x.log.chunks) != 0 || x.log.size != 0 {
		t.Fatalf("after pruning everything: %d changes, %d chunks, %d bytes", len(got), len(x.log.chunks), x.log.size)
	}
	f := term.Fact{Predicate: "is_public", Args: []term.Value{term.Entity("Issue", "new")}}
	rev, err := writeBatch(x, []store.Op{{Insert: []term.Fact{f}}})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Change{{Revision: rev, Op: store.OpInsert, Fact: f}}
	if diff := cmp.Diff(want, x.Changes(revs, 0)); diff != "" {
		t.Fatalf("a write after pruning everything (-want +got):\n%s", diff)
	}
}
