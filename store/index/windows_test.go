package index

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
)

// windowModel is the obvious store of facts with windows: a list, where
// telling a fact again replaces its window and expiry deletes the facts
// whose window ended.
type windowModel struct{ facts []term.Fact }

func (m *windowModel) apply(ops []store.Op) {
	for _, op := range ops {
		if !op.ExpiredBy.IsZero() {
			m.facts = slices.DeleteFunc(m.facts, func(f term.Fact) bool {
				return !f.Valid.Until.IsZero() && !f.Valid.Until.After(op.ExpiredBy)
			})
		}
		for _, p := range op.Delete {
			m.facts = slices.DeleteFunc(m.facts, p.Matches)
		}
		for _, f := range op.Insert {
			if i := slices.IndexFunc(m.facts, f.Equal); i >= 0 {
				m.facts[i] = f
			} else {
				m.facts = append(m.facts, f)
			}
		}
	}
}

// at returns the facts holding at t (all when t is zero), with their
// windows, sorted.
func (m *windowModel) at(t time.Time) []string {
	out := []string{}
	for _, f := range m.facts {
		if t.IsZero() || f.Valid.Contains(t) {
			out = append(out, windowString(f))
		}
	}
	slices.Sort(out)
	return out
}

func windowString(f term.Fact) string {
	return fmt.Sprintf("%s [%d, %d)", f, f.Valid.From.Unix(), f.Valid.Until.Unix())
}

func snapshotWindows(s store.Snapshot) []string {
	out := []string{}
	for f := range s.Facts(term.Pattern{AnyArity: true}) {
		out = append(out, windowString(f))
	}
	slices.Sort(out)
	return out
}

// TestWindowsAgainstModel applies random batches of facts with random
// windows, re-windowings, deletes and expiries to an Index and to the
// model, and compares what they show at random instants through Match
// and Facts, the raw snapshot, and the replayed change log.
func TestWindowsAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	t0 := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	hour := func() time.Time { return t0.Add(time.Duration(rng.IntN(6)) * time.Hour) }
	randFact := func() term.Fact {
		f := term.Fact{Predicate: "has_role", Args: []term.Value{
			term.Entity("User", fmt.Sprint("u", rng.IntN(5))), term.String("reader"), term.Entity("Repo", fmt.Sprint("r", rng.IntN(3)))}}
		switch rng.IntN(4) {
		case 0:
			f.Valid.Until = hour().Add(time.Hour)
		case 1:
			f.Valid.From = hour()
		case 2:
			f.Valid.From = hour()
			f.Valid.Until = f.Valid.From.Add(time.Duration(1+rng.IntN(3)) * time.Hour)
		}
		return f
	}
	x := New(WithChangeLog())
	x.compactMinDead = 8
	m := &windowModel{}
	for i := range 1500 {
		var op store.Op
		for range rng.IntN(3) {
			f := randFact()
			if rng.IntN(2) == 0 {
				f.Args[0] = term.Value{}
			}
			op.Delete = append(op.Delete, term.Pattern{Predicate: f.Predicate, Args: f.Args})
		}
		for range rng.IntN(5) {
			op.Insert = append(op.Insert, randFact())
		}
		if rng.IntN(10) == 0 {
			op.ExpiredBy = hour()
		}
		if _, err := writeBatch(x, []store.Op{op}); err != nil {
			t.Fatal(err)
		}
		m.apply([]store.Op{op})
		snap := x.Snapshot()
		if diff := cmp.Diff(m.at(time.Time{}), snapshotWindows(snap), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("batch %d: every stored fact (-model +index):\n%s", i, diff)
		}
		at := hour().Add(time.Duration(rng.IntN(3)) * 30 * time.Minute)
		want := m.at(at)
		if diff := cmp.Diff(want, snapshotWindows(snap.At(at)), cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("batch %d: facts at %s (-model +index):\n%s", i, at, diff)
		}
		user := term.Entity("User", fmt.Sprint("u", rng.IntN(5)))
		wantN := 0
		for _, f := range m.facts {
			if f.Args[0] == user && f.Valid.Contains(at) {
				wantN++
			}
		}
		if got := matchCount(snap.At(at), "has_role", []term.Value{user, {}, {}}); got != wantN {
			t.Fatalf("batch %d: Match(%s) at %s found %d, want %d", i, user, at, got, wantN)
		}
	}
	replay := &windowModel{}
	for _, c := range x.Changes(0, 0) {
		if c.Op == store.OpInsert {
			replay.facts = append(replay.facts, c.Fact)
		} else {
			replay.facts = slices.DeleteFunc(replay.facts, c.Fact.Equal)
		}
	}
	if diff := cmp.Diff(m.at(time.Time{}), replay.at(time.Time{}), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("replayed change log (-model +replay):\n%s", diff)
	}
}
