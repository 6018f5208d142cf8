package index

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
)

func TestInterner(t *testing.T) {
	in := newInterner()
	types := []string{"User", "Repository", term.TypeString}
	const n = 5000
	val := func(i int) term.Value {
		// A fresh copy of the type name, as a decoded request holds.
		typ := string([]byte(types[i%len(types)]))
		return term.Value{Type: typ, ID: strconv.Itoa(i / len(types))}
	}
	for i := range n {
		if got, want := in.intern(val(i)), uint32(i+1); got != want {
			t.Fatalf("intern(%v) = %d, want %d", val(i), got, want)
		}
	}
	for i := range n {
		if got := in.intern(val(i)); got != uint32(i+1) {
			t.Fatalf("intern(%v) again = %d, want %d", val(i), got, i+1)
		}
		id, ok := in.lookup(val(i))
		if !ok || id != uint32(i+1) {
			t.Fatalf("lookup(%v) = %d, %t, want %d, true", val(i), id, ok, i+1)
		}
	}
	for _, v := range []term.Value{{}, {Type: "User", ID: strconv.Itoa(n)}, {Type: "Organization", ID: "0"}} {
		if id, ok := in.lookup(v); ok {
			t.Errorf("lookup(%v) = %d, true; it was never interned", v, id)
		}
	}
	if got := len(in.types); got != len(types) {
		t.Errorf("%d type names kept, want %d", got, len(types))
	}
	for i := len(types); i < n; i++ {
		a, b := in.value(uint32(i+1)).Type, in.value(uint32(i+1-len(types))).Type
		if unsafe.StringData(a) != unsafe.StringData(b) {
			t.Fatalf("values %d and %d hold separate copies of type %q", i+1, i+1-len(types), a)
		}
	}
}

// TestInternerFreesValues churns facts with values never seen before: once
// the facts are deleted and compacted (and the change log that names them
// pruned), their values are freed and their ids reused, so the interner
// stays as large as one round's values while the store answers right.
func TestInternerFreesValues(t *testing.T) {
	for _, withLog := range []bool{false, true} {
		t.Run(fmt.Sprintf("log=%v", withLog), func(t *testing.T) {
			var opts []Option
			if withLog {
				opts = append(opts, WithChangeLog())
			}
			x := New(opts...)
			x.compactMinDead = 8
			const perRound = 100
			fact := func(round, i int) term.Fact {
				return term.Fact{Predicate: "has_role", Args: []term.Value{
					term.Entity("User", fmt.Sprint("u", round, "-", i)), term.String("viewer"),
					term.Entity("Repo", fmt.Sprint("r", round, "-", i))}}
			}
			check := func(round int) { // its snapshot is unreachable once it returns
				snap := x.Snapshot()
				for i := range perRound {
					if n := matchCount(snap, "has_role", fact(round, i).Args); n != 1 {
						t.Fatalf("round %d: fact %d found %d times", round, i, n)
					}
				}
			}
			maxVals := 0
			for round := range 30 {
				// Each batch deletes the last round's facts and inserts new ones.
				var op store.Op
				for i := range perRound {
					if round > 0 {
						f := fact(round-1, i)
						op.Delete = append(op.Delete, term.Pattern{Predicate: f.Predicate, Args: f.Args})
					}
					op.Insert = append(op.Insert, fact(round, i))
				}
				released(t, x) // older snapshots go: compaction may drop their records
				rev, err := writeBatch(x, []store.Op{op})
				if err != nil {
					t.Fatal(err)
				}
				x.PruneChanges(rev)
				check(round)
				// The last round's records are dropped at the next compaction
				// (the latest snapshot holds them until this round's commit);
				// the round before's are gone with their values.
				if round > 1 {
					for _, v := range []term.Value{fact(round-2, 0).Args[0], fact(round-2, 0).Args[2]} {
						if _, ok := x.lookup(v); ok {
							t.Fatalf("round %d: %v of two rounds ago is still interned", round, v)
						}
					}
				}
				maxVals = max(maxVals, x.nvals)
			}
			// The values of 30 rounds went through; about one round's stay.
			if maxVals > 8*perRound {
				t.Errorf("the interner grew to %d ids for at most %d values in use at once", maxVals, 6*perRound+1)
			}
			if live := x.live(); live > 4*perRound+1 {
				t.Errorf("%d values live after the churn, want at most %d (two rounds' users and repositories, and \"viewer\")", live, 4*perRound+1)
			}
		})
	}
}

// released waits until no snapshot older than the latest is reachable (the
// cleanups of collected snapshots run after a garbage collection).
func released(t *testing.T, x *Index) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for x.horizon() < x.Revision() {
		if time.Now().After(deadline) {
			t.Fatalf("snapshots older than revision %d are still reachable", x.Revision())
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}

// TestInternerCompactsArenas frees most of many long values: the arenas
// holding their strings are copied anew, the values kept read and look up
// the same, and a reader taken before the copy still reads them.
func TestInternerCompactsArenas(t *testing.T) {
	in := newInterner()
	long := strings.Repeat("x", 100)
	val := func(i int) term.Value { return term.Value{Type: "User", ID: fmt.Sprint(long, i)} }
	const n = 5000 // about 520 KB of strings
	ids := make([]uint32, n)
	for i := range n {
		ids[i] = in.intern(val(i))
		in.ref(ids[i])
	}
	before := in.reader()
	for i := range n {
		if i%10 != 0 {
			in.unref(ids[i])
		}
	}
	if got, limit := len(in.arenas), 2*(n/10*104)/arenaSize+2; got > limit {
		t.Errorf("%d arenas hold %d bytes of live strings, want at most %d", got, in.bytes, limit)
	}
	for i := range n {
		id, ok := in.lookup(val(i))
		if i%10 != 0 {
			if ok {
				t.Fatalf("lookup(%v) = %d after it was freed", val(i), id)
			}
			continue
		}
		if !ok || id != ids[i] {
			t.Fatalf("lookup(%v) = %d, %t, want %d", val(i), id, ok, ids[i])
		}
		if got := in.value(id); got != val(i) {
			t.Fatalf("value(%d) = %v, want %v", id, got, val(i))
		}
		if got := before.value(id); got != val(i) {
			t.Fatalf("reader taken before the copy: value(%d) = %v, want %v", id, got, val(i))
		}
	}
	// New values reuse the freed ids and read back.
	for i := n; i < 2*n; i++ {
		id := in.intern(val(i))
		if i < 2*n-n/10 && int(id) > n { // 4,500 ids were freed
			t.Fatalf("intern(%v) = %d: a freed id was not reused", val(i), id)
		}
		if got := in.value(id); got != val(i) {
			t.Fatalf("value(%d) = %v, want %v", id, got, val(i))
		}
		in.ref(id)
	}
}
