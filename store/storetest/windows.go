package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
)

// windowed returns f with the validity window [from, until).
func windowed(f term.Fact, from, until time.Time) term.Fact {
	f.Valid = term.Window{From: from, Until: until}
	return f
}

// matchAt returns the facts of pred/3 that Match yields on snap at now, as
// strings, sorted.
func matchAt(snap store.Snapshot, now time.Time, pred string) []string {
	var out []string
	snap.At(now).Match(pred, make([]term.Value, 3), func(args []term.Value) bool {
		out = append(out, term.Fact{Predicate: pred, Args: slices.Clone(args)}.String())
		return true
	})
	slices.Sort(out)
	return out
}

// factsWithWindows returns the facts of snap with their windows.
func factsWithWindows(snap store.Snapshot) map[string]term.Window {
	out := map[string]term.Window{}
	for f := range snap.Facts(everything()) {
		out[f.String()] = f.Valid
	}
	return out
}

func testWindows(t *testing.T, s store.Store) {
	ctx := t.Context()
	t0 := time.Date(2027, 1, 1, 9, 0, 0, 0, time.UTC)
	h := time.Hour
	expiring := windowed(role("alice", "reader", "anvil"), time.Time{}, t0.Add(h))
	future := windowed(role("bob", "reader", "anvil"), t0.Add(h), time.Time{})
	always := role("carol", "reader", "anvil")
	r1 := MustWrite(t, s, insert(expiring, future, always))
	snap := MustSnapshot(t, s, r1)

	t.Run("held inside the window only", func(t *testing.T) {
		tests := []struct {
			name string
			at   time.Time
			want []term.Fact
		}{
			{"before the future fact", t0, []term.Fact{expiring, always}},
			{"at the end of one window, the start of the other", t0.Add(h), []term.Fact{future, always}},
			{"after", t0.Add(10 * h), []term.Fact{future, always}},
			{"long before", t0.Add(-1000 * h), []term.Fact{expiring, always}},
		}
		for _, tc := range tests {
			want := strs(tc.want...)
			slices.Sort(want)
			if diff := cmp.Diff(want, matchAt(snap, tc.at, "has_role")); diff != "" {
				t.Errorf("%s: Match at %s (-want +got):\n%s", tc.name, tc.at, diff)
			}
			got := AllFacts(snap.At(tc.at), everything())
			slices.Sort(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: Facts at %s (-want +got):\n%s", tc.name, tc.at, diff)
			}
		}
	})

	t.Run("a snapshot not At an instant shows every fact with its window", func(t *testing.T) {
		want := map[string]term.Window{expiring.String(): expiring.Valid, future.String(): future.Valid, always.String(): {}}
		if diff := cmp.Diff(want, factsWithWindows(snap)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if got := snap.Stats().Facts; got != 3 {
			t.Errorf("Stats().Facts = %d, want 3 (stored, whatever their windows)", got)
		}
	})

	t.Run("told again with another window, the new one replaces it", func(t *testing.T) {
		longer := windowed(expiring, time.Time{}, t0.Add(3*h))
		r2 := MustWrite(t, s, insert(longer))
		if got := matchAt(MustSnapshot(t, s, r2), t0.Add(2*h), "has_role"); !slices.Contains(got, expiring.String()) {
			t.Errorf("after extending, at t0+2h: %v, want %s", got, expiring)
		}
		if got := matchAt(snap, t0.Add(2*h), "has_role"); slices.Contains(got, expiring.String()) {
			t.Errorf("the earlier snapshot changed: %v", got)
		}
		changes, err := s.Changes(ctx, r1, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := []store.Change{{Revision: r2, Op: store.OpDelete, Fact: role("alice", "reader", "anvil")}, {Revision: r2, Op: store.OpInsert, Fact: longer}}
		if diff := cmp.Diff(want, changes); diff != "" {
			t.Errorf("Changes (-want +got):\n%s", diff)
		}
		r3 := MustWrite(t, s, insert(longer)) // the same window again: no change
		if changes, _ := s.Changes(ctx, r2, 0); len(changes) != 0 || r3 <= r2 {
			t.Errorf("the same window told again logged %v", changes)
		}
		// Told without a window, the fact holds forever again.
		r4 := MustWrite(t, s, insert(role("alice", "reader", "anvil")))
		if got := matchAt(MustSnapshot(t, s, r4), t0.Add(1000*h), "has_role"); !slices.Contains(got, expiring.String()) {
			t.Errorf("told without a window: %v, want %s", got, expiring)
		}
		MustWrite(t, s, insert(longer))
	})

	t.Run("windows are kept to the microsecond, in UTC", func(t *testing.T) {
		odd := windowed(fact("is_public", repo("odd")), time.Date(2027, 1, 1, 10, 0, 0, 123456789, time.FixedZone("X", 3600)), time.Time{})
		rev := MustWrite(t, s, insert(odd))
		got := factsWithWindows(MustSnapshot(t, s, rev))[odd.String()]
		want := time.Date(2027, 1, 1, 9, 0, 0, 123456000, time.UTC)
		if !got.From.Equal(want) || got.From.Location() != time.UTC {
			t.Errorf("valid_from stored as %v, want %v", got.From, want)
		}
		MustWrite(t, s, del(ground(odd)))
	})

	t.Run("a bad window is refused and nothing is written", func(t *testing.T) {
		head, _ := s.Head(ctx)
		for _, bad := range []term.Fact{
			windowed(fact("is_public", repo("x")), t0, t0),
			windowed(fact("is_public", repo("x")), t0.Add(h), t0),
			windowed(fact("is_public", repo("x")), time.Time{}, time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)),
			windowed(fact("is_public", repo("x")), time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), time.Time{}),
		} {
			_, err := s.Write(ctx, []store.Op{insert(fact("is_public", repo("y")), bad)})
			if !errors.Is(err, store.ErrInvalidFact) {
				t.Errorf("window %v..%v: err %v, want ErrInvalidFact", bad.Valid.From, bad.Valid.Until, err)
			}
		}
		if after, _ := s.Head(ctx); after != head {
			t.Errorf("head moved from %d to %d", head, after)
		}
	})

	t.Run("Expire removes the facts whose window has ended", func(t *testing.T) {
		e, ok := s.(store.Expirer)
		if !ok {
			t.Fatalf("%T does not implement store.Expirer", s)
		}
		head, _ := s.Head(ctx)
		if rev, n, err := e.Expire(ctx, t0.Add(2*h)); err != nil || rev != 0 || n != 0 {
			t.Fatalf("Expire before any window ended = %d, %d, %v; want 0, 0, nil", rev, n, err)
		}
		if after, _ := s.Head(ctx); after != head {
			t.Fatalf("an Expire with nothing to expire wrote revision %d", after)
		}
		rev, n, err := e.Expire(ctx, t0.Add(3*h))
		if err != nil || rev <= head || n != 1 {
			t.Fatalf("Expire = %d, %d, %v; want a revision after %d, 1", rev, n, err, head)
		}
		got := AllFacts(MustSnapshot(t, s, rev), everything())
		slices.Sort(got)
		want := strs(future, always)
		slices.Sort(want)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("after Expire (-want +got):\n%s", diff)
		}
		changes, err := s.Changes(ctx, head, 0)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]store.Change{{Revision: rev, Op: store.OpDelete, Fact: role("alice", "reader", "anvil")}}, changes); diff != "" {
			t.Errorf("Expire's changes (-want +got):\n%s", diff)
		}
	})
}
