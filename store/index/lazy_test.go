package index

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"testing"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
)

// TestMatchDuringWrites checks the lazy iteration of Match and Facts: a
// snapshot's walk, interrupted after each chunk by writes that delete
// every fact it is walking, insert others and compact the table, still
// yields each fact of its revision once, in record order.
func TestMatchDuringWrites(t *testing.T) {
	x := New()
	x.compactMinDead = 1
	const n = 5 * matchChunk
	var facts []term.Fact
	for i := range n {
		facts = append(facts, churnFact(i))
	}
	// Dead records before the walked ones, which the first compaction
	// drops: the walked records are renumbered under the walk.
	var pre []term.Fact
	for i := range 50 {
		pre = append(pre, churnFact(-1-i))
	}
	x.ApplyNext([]store.Op{{Insert: pre}})
	rev := x.ApplyNext([]store.Op{{Insert: facts}})
	for _, f := range pre {
		rev = x.ApplyNext([]store.Op{{Delete: []term.Pattern{pattern(f)}}})
	}
	snap := x.Snapshot()
	records := func() int {
		x.mu.RLock()
		defer x.mu.RUnlock()
		return int(x.tables[tableKey{"has_role", 3}].n)
	}
	before, inserted := records(), 0
	want := make([]string, n)
	for i := range n {
		want[i] = fmt.Sprint("u", i)
	}
	for _, bound := range []bool{true, false} {
		var got []string
		args := []term.Value{{}, {}, {}}
		if bound {
			args[2] = term.Entity("Repo", "r")
		}
		snap.Match("has_role", args, func(a []term.Value) bool {
			got = append(got, a[0].ID)
			if len(got)%matchChunk == 1 {
				// Delete what is left, insert new facts: the table is
				// compacted down to what the snapshot still sees.
				var more []term.Fact
				for i := range 10 {
					more = append(more, churnFact(100_000*len(got)+i))
				}
				rev = x.ApplyNext([]store.Op{{Delete: []term.Pattern{{Predicate: "has_role", Args: []term.Value{{}, {}, {}}}}, Insert: more}})
				inserted += len(more)
			}
			return true
		})
		if !slices.Equal(got, want) {
			t.Errorf("bound %v: Match during writes yields %d facts, want the %d of its revision in order", bound, len(got), n)
		}
		var fromFacts []string
		for f := range snap.Facts(term.Pattern{Predicate: "has_role", Args: args}) {
			fromFacts = append(fromFacts, f.Args[0].ID)
			if len(fromFacts)%matchChunk == 1 {
				rev = x.ApplyNext([]store.Op{{Insert: []term.Fact{churnFact(900_000 + len(fromFacts))}}})
				inserted++
			}
		}
		if !slices.Equal(fromFacts, want) {
			t.Errorf("bound %v: Facts during writes yields %d facts, want %d", bound, len(fromFacts), n)
		}
	}
	if after := records(); after >= before+inserted {
		t.Errorf("no compaction under the walk (%d records, %d before): the test tests nothing", after, before)
	}
	// Stopping early yields no more.
	k := 0
	snap.Match("has_role", []term.Value{{}, {}, {}}, func([]term.Value) bool { k++; return k < 3 })
	if k != 3 {
		t.Errorf("Match went on after its yield returned false: %d calls", k)
	}
	_ = rev
}

// TestSnapshotAt checks that a past revision reads as it did until
// compaction drops what it saw, then is store.ErrRevisionGone.
func TestSnapshotAt(t *testing.T) {
	x := New()
	x.compactMinDead = 1
	r1 := x.ApplyNext([]store.Op{{Insert: []term.Fact{churnFact(1), churnFact(2), keeper()}}})
	r2 := x.ApplyNext([]store.Op{{Delete: []term.Pattern{pattern(churnFact(1))}}})
	old, err := x.SnapshotAt(r1)
	if err != nil {
		t.Fatalf("SnapshotAt(%d): %v", r1, err)
	}
	if got := matchAll(old); !slices.Equal(got, []string{"keep", "u1", "u2"}) {
		t.Errorf("revision %d reads %v", r1, got)
	}
	if s, err := x.SnapshotAt(r2); err != nil || !slices.Equal(matchAll(s), []string{"keep", "u2"}) {
		t.Errorf("SnapshotAt(latest) = %v", err)
	}
	if _, err := x.SnapshotAt(r2 + 1); err == nil {
		t.Error("SnapshotAt after the latest revision succeeded")
	}
	// While old is reachable, compaction keeps what it sees.
	x.ApplyNext([]store.Op{{Delete: []term.Pattern{pattern(churnFact(2))}}})
	if got := matchAll(old); !slices.Equal(got, []string{"keep", "u1", "u2"}) {
		t.Errorf("revision %d after more deletes reads %v", r1, got)
	}
	runtime.KeepAlive(old)
	old = nil
	runtime.GC()
	runtime.GC()
	x.ApplyNext([]store.Op{{Delete: []term.Pattern{pattern(keeper())}}})
	if _, err := x.SnapshotAt(r1); !errors.Is(err, store.ErrRevisionGone) {
		t.Errorf("SnapshotAt(%d) after compaction: err = %v, want ErrRevisionGone", r1, err)
	}
}

func pattern(f term.Fact) term.Pattern { return term.Pattern{Predicate: f.Predicate, Args: f.Args} }
