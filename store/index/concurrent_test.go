package index

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
)

// TestReadersDuringChurn reads the index while a writer churns facts with
// long ids: records are compacted, values freed, their ids reused and the
// interner's arenas copied anew, and readers, which copy values out after
// releasing the lock, must still read exactly the facts of their snapshot.
func TestReadersDuringChurn(t *testing.T) {
	x := New(WithChangeLog())
	x.compactMinDead = 64
	pad := strings.Repeat("x", 300)
	fact := func(round, i int) term.Fact {
		id := fmt.Sprint(round, "-", i, "-", pad)
		return term.Fact{Predicate: "has_role", Args: []term.Value{
			term.Entity("User", "u"+id), term.String("viewer"), term.Entity("Repo", "r"+id)}}
	}
	keep := term.Fact{Predicate: "has_role", Args: []term.Value{term.Entity("User", "keep"), term.String("viewer"), term.Entity("Repo", "keep")}}
	if _, err := writeBatch(x, []store.Op{{Insert: []term.Fact{keep}}}); err != nil {
		t.Fatal(err)
	}
	const perRound = 50
	var done atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for range 2 {
		wg.Go(func() {
			for !done.Load() {
				snap := x.Snapshot()
				n := 0
				snap.Match("has_role", make([]term.Value, 3), func(args []term.Value) bool {
					n++
					u, r := args[0].ID, args[2].ID
					if u != "keep" && (len(u) < len(pad) || u[1:] != r[1:] || !strings.HasSuffix(u, pad)) {
						select {
						case errs <- fmt.Sprintf("revision %d: read %v", snap.Revision(), args):
						default:
						}
						return false
					}
					return true
				})
				if n != 1 && n != 1+perRound {
					select {
					case errs <- fmt.Sprintf("revision %d: %d facts, want 1 or %d", snap.Revision(), n, 1+perRound):
					default:
					}
				}
			}
		})
	}
	for round := range 200 {
		var op store.Op
		for i := range perRound {
			if round > 0 {
				f := fact(round-1, i)
				op.Delete = append(op.Delete, term.Pattern{Predicate: f.Predicate, Args: f.Args})
			}
			op.Insert = append(op.Insert, fact(round, i))
		}
		rev, err := writeBatch(x, []store.Op{op})
		if err != nil {
			t.Fatal(err)
		}
		x.PruneChanges(rev)
	}
	done.Store(true)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.interner.garbage > x.interner.bytes+arenaSize {
		t.Errorf("%d bytes of freed strings kept for %d live ones: the arenas were not copied", x.interner.garbage, x.interner.bytes)
	}
}
