package index

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
)

// model is the obvious implementation of a fact store: a list of facts.
type model struct{ facts []term.Fact }

func (m *model) apply(ops []store.Op) {
	for _, op := range ops {
		for _, p := range op.Delete {
			m.facts = slices.DeleteFunc(m.facts, p.Matches)
		}
		for _, f := range op.Insert {
			if !slices.ContainsFunc(m.facts, f.Equal) {
				m.facts = append(m.facts, f)
			}
		}
	}
}

func (m *model) strings() []string {
	out := make([]string, 0, len(m.facts))
	for _, f := range m.facts {
		out = append(out, f.String())
	}
	slices.Sort(out)
	return out
}

func snapshotStrings(s store.Snapshot) []string {
	var out []string
	for f := range s.Facts(term.Pattern{AnyArity: true}) {
		out = append(out, f.String())
	}
	slices.Sort(out)
	return out
}

// writeBatch applies batch as store/memory's Write does: validated and
// normalized by store.Prepare, then applied as the next revision.
func writeBatch(x *Index, batch []store.Op) (uint64, error) {
	ops, err := store.Prepare(batch)
	if err != nil {
		return 0, err
	}
	return x.ApplyNext(ops), nil
}

func matchCount(s store.Snapshot, pred string, args []term.Value) int {
	n := 0
	s.Match(pred, args, func([]term.Value) bool { n++; return true })
	return n
}

// TestAgainstModel applies random batches to an Index that keeps its change
// log and to the model and compares them, including snapshots kept from earlier revisions while
// tables are compacted.
// TestAgainstModel applies random batches to an index and to a naive model
// and compares them after every batch; snapshots kept across batches must
// not change. With prune, the change log is pruned as it goes, so interned
// values are freed and their ids reused while the test runs.
func TestAgainstModel(t *testing.T) {
	t.Run("log", func(t *testing.T) { testAgainstModel(t, false) })
	t.Run("pruned log", func(t *testing.T) { testAgainstModel(t, true) })
}

func testAgainstModel(t *testing.T, prune bool) {
	rng := rand.New(rand.NewPCG(1, 2))
	epoch := 0 // with prune, the ids drawn move on as the batches go: values come and go
	val := func() term.Value {
		switch rng.IntN(4) {
		case 0:
			return term.Entity("User", fmt.Sprint("u", epoch+rng.IntN(6)))
		case 1:
			return term.Entity("Repo", fmt.Sprint("r", epoch+rng.IntN(6)))
		case 2:
			return term.String(fmt.Sprint("s", rng.IntN(3)))
		}
		return term.Integer(int64(rng.IntN(3)))
	}
	preds := []string{"p", "q", "has_role"}
	randFact := func() term.Fact {
		args := make([]term.Value, 1+rng.IntN(5)) // arities 1..5: narrow and wide tables
		for i := range args {
			args[i] = val()
		}
		return term.Fact{Predicate: preds[rng.IntN(len(preds))], Args: args}
	}
	randPattern := func() term.Pattern {
		f := randFact()
		p := term.Pattern{Predicate: f.Predicate, Args: f.Args}
		if rng.IntN(4) == 0 {
			p.Predicate = ""
		}
		for i := range p.Args {
			switch rng.IntN(4) {
			case 0:
				p.Args[i] = term.Value{}
			case 1:
				p.Args[i].ID = ""
			case 2:
				p.Args[i].Type = ""
			}
		}
		if rng.IntN(3) == 0 {
			p.Args = p.Args[:rng.IntN(len(p.Args)+1)]
			p.AnyArity = true
		}
		return p
	}
	x := New(WithChangeLog())
	x.compactMinDead = 32 // compact often
	m := &model{}
	type kept struct {
		snap  store.Snapshot
		want  []string
		facts []term.Fact
	}
	var keep []kept
	for i := range 2000 {
		if prune {
			epoch = i / 40
		}
		var ops []store.Op
		for range 1 + rng.IntN(3) {
			var op store.Op
			for range rng.IntN(4) {
				op.Delete = append(op.Delete, randPattern())
			}
			for range rng.IntN(8) {
				op.Insert = append(op.Insert, randFact())
			}
			ops = append(ops, op)
		}
		rev, err := writeBatch(x, ops)
		if err != nil {
			t.Fatal(err)
		}
		m.apply(ops)
		if prune && i%20 == 0 && rev > 10 {
			// What pruning frees depends on which snapshots are still
			// reachable, and the index learns that a snapshot went only
			// when a collection ran its cleanup: collect and wait for the
			// cleanups, so that the test does not depend on when the
			// collector happens to run (with GOGC=800 it did not run
			// before the end, and nothing was freed).
			oldest := rev
			for _, k := range keep {
				oldest = min(oldest, k.snap.Revision())
			}
			for deadline := time.Now().Add(10 * time.Second); x.horizon() < oldest && time.Now().Before(deadline); {
				runtime.GC()
				time.Sleep(time.Millisecond)
			}
			if h := x.horizon(); h < oldest {
				t.Fatalf("batch %d: the index holds revision %d back; the oldest snapshot the test keeps is at %d", i, h, oldest)
			}
			x.PruneChanges(rev - 10)
		}
		var snap store.Snapshot = x.Snapshot()
		if snap.Revision() != rev {
			t.Fatalf("batch %d: snapshot at revision %d, want %d", i, snap.Revision(), rev)
		}
		want := m.strings()
		if diff := cmp.Diff(want, snapshotStrings(snap), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("batch %d (revision %d): store and model differ (-model +store):\n%s", i, rev, diff)
		}
		if got := snap.Stats().Facts; got != len(want) {
			t.Fatalf("batch %d: Stats().Facts = %d, want %d", i, got, len(want))
		}
		f := randFact()
		for j := range f.Args {
			if rng.IntN(2) == 0 {
				f.Args[j] = term.Value{}
			}
		}
		wantN := 0
		for _, g := range m.facts {
			if (term.Pattern{Predicate: f.Predicate, Args: f.Args}).Matches(g) {
				wantN++
			}
		}
		if got := matchCount(snap, f.Predicate, f.Args); got != wantN {
			t.Fatalf("batch %d: Match(%v) found %d, want %d", i, f, got, wantN)
		}
		switch {
		case i%300 == 0:
			keep = append(keep, kept{snap, want, slices.Clone(m.facts)})
		case i%1000 == 999: // let go of the old snapshots: compaction can drop their records
			keep = []kept{keep[len(keep)-1]} // a new array: a reslice would keep the old ones reachable
			runtime.GC()
		}
		if i%50 != 0 {
			continue
		}
		for _, k := range keep {
			if diff := cmp.Diff(k.want, snapshotStrings(k.snap), cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("batch %d: snapshot at revision %d changed (-then +now):\n%s", i, k.snap.Revision(), diff)
			}
			// Ground matches: each fact of the kept revision once (whether
			// it was deleted, or deleted and added again, since), and a
			// fact of the latest revision it lacks not at all.
			for _, f := range k.facts[:min(len(k.facts), 20)] {
				if got := matchCount(k.snap, f.Predicate, f.Args); got != 1 {
					t.Fatalf("batch %d: snapshot at revision %d: Match(%v) found %d, want 1", i, k.snap.Revision(), f, got)
				}
			}
			for _, f := range m.facts[:min(len(m.facts), 20)] {
				want := 0
				if slices.ContainsFunc(k.facts, f.Equal) {
					want = 1
				}
				if got := matchCount(k.snap, f.Predicate, f.Args); got != want {
					t.Fatalf("batch %d: snapshot at revision %d: Match(%v) found %d, want %d", i, k.snap.Revision(), f, got, want)
				}
			}
		}
	}
	if prune {
		// Values of deleted facts were freed and their ids reused: the
		// values kept are those of live facts and of the retained log.
		if len(x.free) == 0 {
			t.Errorf("%d values, none freed", x.live())
		}
		used := map[uint32]bool{}
		for _, tb := range x.tables {
			for r := range tb.n {
				for _, id := range tb.ids(r) {
					used[id] = true
				}
			}
		}
		for id := uint32(1); id < uint32(x.nvals); id++ {
			if x.value(id).IsZero() != (x.refs[id] == 0) {
				t.Fatalf("value %d (%v) has %d references", id, x.value(id), x.refs[id])
			}
			if used[id] && x.value(id).IsZero() {
				t.Fatalf("value %d is used by a record but was freed", id)
			}
		}
		return
	}
	changes := x.Changes(0, 0)
	inserted, records := 0, 0
	for _, c := range changes {
		if c.Op == store.OpInsert {
			inserted++
		}
	}
	for _, tb := range x.tables {
		records += int(tb.n)
	}
	if records >= inserted {
		t.Errorf("tables hold %d records for %d inserts: nothing was compacted", records, inserted)
	}
	replay := &model{}
	for _, c := range changes {
		if c.Op == store.OpInsert {
			replay.facts = append(replay.facts, c.Fact)
		} else {
			replay.facts = slices.DeleteFunc(replay.facts, c.Fact.Equal)
		}
	}
	if diff := cmp.Diff(m.strings(), replay.strings(), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("replayed change log (-model +replay):\n%s", diff)
	}
}
