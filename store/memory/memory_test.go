package memory_test

import (
	"errors"
	"testing"
	"time"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/memory"
	"github.com/castellan-authz/castellan/store/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(testing.TB) store.Store { return memory.New() })
}

// TestChangeRetention drops the revisions older than the retention at each
// write, by the store's clock; Changes since a dropped revision fails with
// store.ErrPruned, the rest reads as before.
func TestChangeRetention(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := memory.New(memory.WithClock(func() time.Time { return now }), memory.WithChangeRetention(90*time.Second))
	ctx := t.Context()
	var revs []store.Revision
	for i := range 3 {
		rev, err := s.Write(ctx, []store.Op{{Insert: []term.Fact{storetest.GitHubFact(i, 10)}}})
		if err != nil {
			t.Fatal(err)
		}
		revs = append(revs, rev)
		now = now.Add(time.Minute)
	}
	// Revision 1 was committed 2 minutes before the third write: dropped.
	if _, err := s.Changes(ctx, 0, 0); !errors.Is(err, store.ErrPruned) {
		t.Fatalf("Changes(0) = %v, want ErrPruned", err)
	}
	got, err := s.Changes(ctx, revs[0], 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Revision != revs[1] || got[1].Revision != revs[2] {
		t.Fatalf("Changes(%d) = %v, want revisions %d and %d", revs[0], got, revs[1], revs[2])
	}
	// The facts are all there: only the log was pruned.
	snap, err := s.Snapshot(ctx, store.Consistency{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(storetest.AllFacts(snap, term.Pattern{AnyArity: true})); n != 3 {
		t.Fatalf("%d facts, want 3", n)
	}
}
