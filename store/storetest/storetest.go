package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
)

// Run runs the conformance suite. newStore must return a new, empty store
// for each call; the suite closes it. Implementations of the capability
// interfaces (Clearer, PolicyStore, KeyStore) are required.
func Run(t *testing.T, newStore func(t testing.TB) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"WriteOrder", testWriteOrder},
		{"Atomicity", testAtomicity},
		{"Validator", testValidator},
		{"WildcardDeletes", testWildcardDeletes},
		{"IdempotentInserts", testIdempotentInserts},
		{"Normalization", testNormalization},
		{"MonotonicRevisions", testMonotonicRevisions},
		{"Consistency", testConsistency},
		{"SnapshotStable", testSnapshotStable},
		{"SnapshotIsolation", testSnapshotIsolation},
		{"ChangeLog", testChangeLog},
		{"Windows", testWindows},
		{"Match", testMatch},
		{"Facts", testFacts},
		{"Stats", testStats},
		{"PredicateCounts", testPredicateCounts},
		{"Clear", testClear},
		{"Policies", testPolicies},
		{"Keys", testKeys},
		{"Close", testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

// Helpers.

func user(id string) term.Value { return term.Entity("User", id) }
func repo(id string) term.Value { return term.Entity("Repo", id) }
func org(id string) term.Value  { return term.Entity("Org", id) }

func fact(pred string, args ...term.Value) term.Fact {
	return term.Fact{Predicate: pred, Args: args}
}

func pattern(pred string, args ...term.Value) term.Pattern {
	return term.Pattern{Predicate: pred, Args: args}
}

func role(u, r, rp string) term.Fact {
	return fact("has_role", user(u), term.String(r), repo(rp))
}

// MustWrite writes batch and fails the test on error.
func MustWrite(tb testing.TB, s store.Store, batch ...store.Op) store.Revision {
	tb.Helper()
	rev, err := s.Write(tb.Context(), batch)
	if err != nil {
		tb.Fatalf("Write: %v", err)
	}
	return rev
}

// MustSnapshot returns a snapshot at the latest revision.
func MustSnapshot(tb testing.TB, s store.Store, atLeast store.Revision) store.Snapshot {
	tb.Helper()
	snap, err := s.Snapshot(tb.Context(), store.Consistency{AtLeast: atLeast})
	if err != nil {
		tb.Fatalf("Snapshot(%d): %v", atLeast, err)
	}
	return snap
}

// AllFacts returns every fact of snap, as strings, in the store's order.
func AllFacts(snap store.Snapshot, p term.Pattern) []string {
	var out []string
	for f := range snap.Facts(p) {
		out = append(out, f.String())
	}
	return out
}

func everything() term.Pattern { return term.Pattern{AnyArity: true} }

func insert(fs ...term.Fact) store.Op     { return store.Op{Insert: fs} }
func del(ps ...term.Pattern) store.Op     { return store.Op{Delete: ps} }
func ground(f term.Fact) term.Pattern     { return term.Pattern{Predicate: f.Predicate, Args: f.Args} }
func strs(fs ...term.Fact) (out []string) { return appendStrs(nil, fs) }

func appendStrs(out []string, fs []term.Fact) []string {
	for _, f := range fs {
		out = append(out, f.String())
	}
	return out
}

func testWriteOrder(t *testing.T, s store.Store) {
	a, b := role("alice", "admin", "anvil"), role("bob", "reader", "anvil")
	tests := []struct {
		name  string
		batch []store.Op
		want  []string
	}{
		{"insert then delete", []store.Op{insert(a, b), del(ground(a))}, strs(b)},
		{"insert, delete, insert", []store.Op{insert(a), del(ground(a)), insert(a)}, strs(a)},
		{"delete before insert within an op", []store.Op{{Insert: []term.Fact{a}, Delete: []term.Pattern{ground(a)}}}, strs(a)},
		{"delete everything then insert", []store.Op{insert(a, b), del(everything()), insert(b)}, strs(b)},
		{"insert then delete by a bound id", []store.Op{insert(a, b), del(term.Pattern{Predicate: "has_role", Args: []term.Value{{ID: "alice"}, {}, {}}})}, strs(b)},
		{"insert then delete by a bound id, any arity", []store.Op{insert(a), insert(b), del(term.Pattern{Args: []term.Value{{}, {}, {ID: "anvil"}}, AnyArity: true}), insert(a)}, strs(a)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			MustWrite(t, s, del(everything()))
			rev := MustWrite(t, s, tc.batch...)
			got := AllFacts(MustSnapshot(t, s, rev), everything())
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("facts (-want +got):\n%s", diff)
			}
		})
	}
}

func testAtomicity(t *testing.T, s store.Store) {
	ctx := t.Context()
	good := role("alice", "admin", "anvil")
	before := MustWrite(t, s, insert(role("carol", "admin", "anvil")))
	tests := []struct {
		name      string
		batch     []store.Op
		wantIndex int
	}{
		{"empty id", []store.Op{insert(good, fact("has_role", user(""), term.String("x"), repo("r")))}, 1},
		{"empty type", []store.Op{insert(good), insert(fact("p", term.Value{ID: "x"}))}, 1},
		{"no arguments", []store.Op{insert(good, good, fact("p"))}, 2},
		{"bad integer", []store.Op{del(everything()), insert(fact("p", term.Value{Type: term.TypeInteger, ID: "x1"}))}, 0},
		{"too large", []store.Op{insert(good, fact("p", term.String(string(make([]byte, term.MaxArgBytes+1)))))}, 1},
		{"empty predicate", []store.Op{insert(good, term.Fact{Args: []term.Value{user("a")}})}, 1},
		{"NUL in an id", []store.Op{insert(good), insert(good, fact("p", user("a\x00b")))}, 2},
		{"invalid UTF-8", []store.Op{insert(fact("p", term.String("\xff")))}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Write(ctx, tc.batch)
			if !errors.Is(err, store.ErrInvalidFact) {
				t.Fatalf("Write: got %v, want ErrInvalidFact", err)
			}
			var ife *store.InvalidFactError
			if !errors.As(err, &ife) {
				t.Fatalf("Write: %T is not an *InvalidFactError", err)
			}
			if ife.Index != tc.wantIndex {
				t.Errorf("Index = %d, want %d (%v)", ife.Index, tc.wantIndex, err)
			}
			head, err := s.Head(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if head != before {
				t.Errorf("Head = %d after a refused batch, want %d", head, before)
			}
			got := AllFacts(MustSnapshot(t, s, 0), everything())
			if diff := cmp.Diff(strs(role("carol", "admin", "anvil")), got); diff != "" {
				t.Errorf("facts changed by a refused batch (-want +got):\n%s", diff)
			}
		})
	}
}

func testValidator(t *testing.T, s store.Store) {
	ctx := t.Context()
	errNoOrg := errors.New("Org facts are not allowed")
	v := store.WithValidator(func(f term.Fact) error {
		if f.Args[0].Type == "Org" {
			return errNoOrg
		}
		return nil
	})
	var seen []string
	record := store.WithValidator(func(f term.Fact) error { seen = append(seen, f.String()); return nil })
	batch := []store.Op{insert(role("a", "r", "x")), insert(fact("has_role", term.Value{Type: "User", ID: "b"}, term.String("r"), repo("x")), fact("member", org("o"), user("a")))}
	_, err := s.Write(ctx, batch, record, v)
	if !errors.Is(err, errNoOrg) || !errors.Is(err, store.ErrInvalidFact) {
		t.Fatalf("Write: got %v, want the validator's error wrapped in ErrInvalidFact", err)
	}
	var ife *store.InvalidFactError
	if errors.As(err, &ife) && ife.Index != 2 {
		t.Errorf("Index = %d, want 2", ife.Index)
	}
	if got := AllFacts(MustSnapshot(t, s, 0), everything()); len(got) != 0 {
		t.Errorf("facts after a refused batch: %v", got)
	}
	if diff := cmp.Diff(strs(role("a", "r", "x"), role("b", "r", "x"), fact("member", org("o"), user("a"))), seen); diff != "" {
		t.Errorf("validator saw (-want +got):\n%s", diff)
	}
	rev, err := s.Write(ctx, batch[:1], v)
	if err != nil {
		t.Fatal(err)
	}
	if got := AllFacts(MustSnapshot(t, s, rev), everything()); len(got) != 1 {
		t.Errorf("facts = %v, want one", got)
	}
}

func testWildcardDeletes(t *testing.T, s store.Store) {
	base := []term.Fact{
		role("alice", "admin", "anvil"),
		role("bob", "reader", "anvil"),
		role("alice", "reader", "forge"),
		fact("has_role", user("alice"), term.String("member"), org("acme")),
		fact("has_relation", repo("anvil"), term.String("parent"), org("acme")),
		fact("is_public", repo("forge")),
		fact("has_permission", user("alice"), term.String("read"), repo("anvil"), term.Bool(true)),
	}
	tests := []struct {
		name string
		p    term.Pattern
		want []term.Fact // what remains
	}{
		{"ground", ground(base[1]), slices.Delete(slices.Clone(base), 1, 2)},
		{"ground, no match", ground(role("zed", "admin", "anvil")), base},
		{"no match, NUL and invalid UTF-8", pattern("has_role", user("a\x00"), term.Value{ID: "\xff"}, term.Value{}), base},
		{"type only", pattern("has_role", term.Value{Type: "User"}, term.Value{}, term.Value{Type: "Repo"}), []term.Fact{base[3], base[4], base[5], base[6]}},
		{"id only", pattern("has_role", term.Value{ID: "alice"}, term.Value{}, term.Value{}), []term.Fact{base[1], base[4], base[5], base[6]}},
		{"one bound argument", pattern("has_role", term.Value{}, term.Value{}, repo("anvil")), []term.Fact{base[2], base[3], base[4], base[5], base[6]}},
		{"predicate only", pattern("has_role", term.Value{}, term.Value{}, term.Value{}), []term.Fact{base[4], base[5], base[6]}},
		{"predicate, other arity", pattern("has_role", term.Value{}), base},
		{"predicate, any arity", term.Pattern{Predicate: "has_permission", AnyArity: true}, base[:6]},
		{"any predicate", term.Pattern{Args: []term.Value{{}}}, slices.Delete(slices.Clone(base), 5, 6)},
		{"any predicate with a bound value", term.Pattern{Args: []term.Value{user("alice")}, AnyArity: true}, []term.Fact{base[1], base[4], base[5]}},
		{"fully wild", everything(), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			MustWrite(t, s, del(everything()), insert(base...))
			rev := MustWrite(t, s, del(tc.p))
			var want []string
			for _, f := range base { // keep the order of base
				if slices.ContainsFunc(tc.want, f.Equal) {
					want = append(want, f.String())
				}
			}
			got := AllFacts(MustSnapshot(t, s, rev), everything())
			slices.Sort(want)
			slices.Sort(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("remaining facts (-want +got):\n%s", diff)
			}
		})
	}
}

func testIdempotentInserts(t *testing.T, s store.Store) {
	a := role("alice", "admin", "anvil")
	r1 := MustWrite(t, s, insert(a, a), insert(a))
	r2 := MustWrite(t, s, insert(a))
	snap := MustSnapshot(t, s, r2)
	if diff := cmp.Diff(strs(a), AllFacts(snap, everything())); diff != "" {
		t.Errorf("facts (-want +got):\n%s", diff)
	}
	if got := snap.Stats().Facts; got != 1 {
		t.Errorf("Stats().Facts = %d, want 1", got)
	}
	changes, err := s.Changes(t.Context(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Change{{Revision: r1, Op: store.OpInsert, Fact: a}}
	if diff := cmp.Diff(want, changes); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
}

func testNormalization(t *testing.T, s store.Store) {
	MustWrite(t, s, insert(
		fact("limit", repo("a"), term.Value{Type: term.TypeInteger, ID: "+007"}),
		fact("limit", repo("a"), term.Value{Type: term.TypeInteger, ID: "7"}),
		fact("flag", repo("a"), term.Value{Type: term.TypeBoolean, ID: "true"}),
	))
	snap := MustSnapshot(t, s, 0)
	want := []string{`flag(Repo{"a"}, true)`, `limit(Repo{"a"}, 7)`}
	if diff := cmp.Diff(want, AllFacts(snap, everything())); diff != "" {
		t.Errorf("facts (-want +got):\n%s", diff)
	}
	rev := MustWrite(t, s, del(pattern("limit", repo("a"), term.Value{Type: term.TypeInteger, ID: "07"})))
	if got := AllFacts(MustSnapshot(t, s, rev), pattern("limit", term.Value{}, term.Value{})); len(got) != 0 {
		t.Errorf("limit facts after deleting Integer 07: %v", got)
	}
}

func testMonotonicRevisions(t *testing.T, s store.Store) {
	ctx := t.Context()
	head, err := s.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if head != 0 {
		t.Errorf("Head of an empty store = %d, want 0", head)
	}
	if snap := MustSnapshot(t, s, 0); snap.Revision() != 0 {
		t.Errorf("snapshot of an empty store at revision %d", snap.Revision())
	}
	for i := range 5 {
		var batch []store.Op
		if i%2 == 0 {
			batch = []store.Op{insert(role(fmt.Sprint("u", i), "r", "x"))}
		} // odd: an empty batch still commits a revision
		rev := MustWrite(t, s, batch...)
		if rev != head+1 {
			t.Errorf("write %d: revision %d, want %d", i, rev, head+1)
		}
		head = rev
		got, err := s.Head(ctx)
		if err != nil || got != rev {
			t.Errorf("Head = %d, %v; want %d", got, err, rev)
		}
		if snap := MustSnapshot(t, s, rev); snap.Revision() < rev {
			t.Errorf("Snapshot(AtLeast %d) at revision %d", rev, snap.Revision())
		}
	}
	// Concurrent writers each get a distinct revision.
	const writers, each = 4, 10
	var mu sync.Mutex
	var revs []store.Revision
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				rev, err := s.Write(ctx, []store.Op{insert(role(fmt.Sprintf("w%d-%d", w, i), "r", "x"))})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				revs = append(revs, rev)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(revs)
	for i, r := range revs {
		if r != head+1+uint64(i) {
			t.Fatalf("concurrent writes got revisions %v, want %d..%d", revs, head+1, head+writers*each)
		}
	}
}

func testConsistency(t *testing.T, s store.Store) {
	rev := MustWrite(t, s, insert(role("alice", "admin", "anvil")))
	snap := MustSnapshot(t, s, rev)
	if snap.Revision() < rev {
		t.Errorf("Snapshot(AtLeast %d).Revision() = %d", rev, snap.Revision())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err := s.Snapshot(ctx, store.Consistency{AtLeast: rev + 1000})
	if !errors.Is(err, store.ErrRevisionUnavailable) {
		t.Errorf("Snapshot(AtLeast head+1000): got %v, want ErrRevisionUnavailable", err)
	}
}

func testSnapshotStable(t *testing.T, s store.Store) {
	a, b := role("alice", "admin", "anvil"), role("bob", "admin", "anvil")
	r1 := MustWrite(t, s, insert(a))
	old := MustSnapshot(t, s, r1)
	churn := make([]term.Fact, 100)
	for i := range 40 { // enough churn to compact the table
		for j := range churn {
			churn[j] = role(fmt.Sprint("c", i, "-", j), "x", "y")
		}
		MustWrite(t, s, insert(b), insert(churn...), del(ground(a)))
		MustWrite(t, s, del(pattern("has_role", term.Value{}, term.String("x"), term.Value{})), insert(a))
		if i%10 != 0 {
			continue
		}
		if diff := cmp.Diff(strs(a), AllFacts(old, everything())); diff != "" {
			t.Fatalf("old snapshot changed after %d writes (-want +got):\n%s", i, diff)
		}
	}
	if old.Revision() != r1 {
		t.Errorf("old snapshot's revision moved to %d", old.Revision())
	}
	n := 0
	old.Match("has_role", []term.Value{{}, term.String("admin"), {}}, func([]term.Value) bool { n++; return true })
	if n != 1 || old.Stats().Facts != 1 {
		t.Errorf("old snapshot: Match found %d, Stats %+v; want 1 fact", n, old.Stats())
	}
	cur := MustSnapshot(t, s, 0)
	if diff := cmp.Diff(strs(b, a), AllFacts(cur, everything())); diff != "" {
		t.Errorf("latest snapshot (-want +got):\n%s", diff)
	}
}

// testSnapshotIsolation runs writers that insert and delete pairs of facts
// in one batch while readers check that they never see half a pair.
func testSnapshotIsolation(t *testing.T, s store.Store) {
	ctx := t.Context()
	const writers, rounds = 3, 40
	var done atomic.Bool
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range rounds {
				id := fmt.Sprintf("w%d-%d", w, i)
				left, right := fact("left", user(id)), fact("right", user(id))
				batch := []store.Op{insert(left), insert(right)}
				if i%3 == 2 { // delete an earlier pair
					old := fmt.Sprintf("w%d-%d", w, i-1)
					batch = []store.Op{del(ground(fact("left", user(old)))), insert(left, right), del(ground(fact("right", user(old))))}
				}
				if _, err := s.Write(ctx, batch); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	var readers sync.WaitGroup
	var checked atomic.Int64
	for range 2 {
		readers.Go(func() {
			for !done.Load() || checked.Load() == 0 {
				snap, err := s.Snapshot(ctx, store.Consistency{})
				if err != nil {
					t.Error(err)
					return
				}
				lefts, rights := map[string]bool{}, map[string]bool{}
				snap.Match("left", []term.Value{{}}, func(a []term.Value) bool { lefts[a[0].ID] = true; return true })
				snap.Match("right", []term.Value{{}}, func(a []term.Value) bool { rights[a[0].ID] = true; return true })
				if diff := cmp.Diff(lefts, rights); diff != "" {
					t.Errorf("snapshot at revision %d shows half a batch (-left +right):\n%s", snap.Revision(), diff)
					return
				}
				if st := snap.Stats(); st.Facts != 2*len(lefts) {
					t.Errorf("snapshot at revision %d: Stats().Facts = %d, Match found %d", snap.Revision(), st.Facts, 2*len(lefts))
					return
				}
				checked.Add(1)
			}
		})
	}
	wg.Wait()
	done.Store(true)
	readers.Wait()
}

func testChangeLog(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b, c := role("alice", "admin", "anvil"), role("bob", "admin", "anvil"), fact("is_public", repo("anvil"))
	r1 := MustWrite(t, s, insert(a, b))
	r2 := MustWrite(t, s, del(ground(a)), insert(c), del(ground(role("nobody", "x", "y"))))
	r3 := MustWrite(t, s) // empty: a revision, no changes
	r4 := MustWrite(t, s, insert(a), del(pattern("has_role", term.Value{}, term.Value{}, term.Value{})))
	all := []store.Change{
		{Revision: r1, Op: store.OpInsert, Fact: a},
		{Revision: r1, Op: store.OpInsert, Fact: b},
		{Revision: r2, Op: store.OpDelete, Fact: a},
		{Revision: r2, Op: store.OpInsert, Fact: c},
		{Revision: r4, Op: store.OpInsert, Fact: a},
		{Revision: r4, Op: store.OpDelete, Fact: b},
		{Revision: r4, Op: store.OpDelete, Fact: a},
	}
	tests := []struct {
		name  string
		since store.Revision
		limit int
		want  []store.Change
	}{
		{"all", 0, 0, all},
		{"since", r1, 0, all[2:]},
		{"since an empty revision", r3, 0, all[4:]},
		{"limit", 0, 3, all[:3]},
		{"since and limit", r1, 1, all[2:3]},
		{"nothing new", r4, 10, nil},
	}
	sortWithin := func(cs []store.Change) { // order within one delete pattern is unspecified
		slices.SortStableFunc(cs, func(x, y store.Change) int {
			if x.Revision != y.Revision || x.Op != y.Op || x.Op != store.OpDelete || x.Revision != r4 {
				return 0
			}
			return strings.Compare(x.Fact.String(), y.Fact.String())
		})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Changes(ctx, tc.since, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Clone(tc.want)
			if tc.limit == 0 {
				sortWithin(got)
				sortWithin(want)
			}
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty(), cmp.Comparer(func(x, y term.Fact) bool { return x.Equal(y) })); diff != "" {
				t.Errorf("Changes(%d, %d) (-want +got):\n%s", tc.since, tc.limit, diff)
			}
		})
	}
	// Replaying the log gives the stored facts.
	changes, err := s.Changes(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	for _, ch := range changes {
		set[ch.Fact.String()] = ch.Op == store.OpInsert
	}
	var replayed []string
	for f, ok := range set {
		if ok {
			replayed = append(replayed, f)
		}
	}
	slices.Sort(replayed)
	if diff := cmp.Diff(strs(c), replayed); diff != "" {
		t.Errorf("replayed change log (-want +got):\n%s", diff)
	}
}

func testMatch(t *testing.T, s store.Store) {
	MustWrite(t, s, insert(
		role("alice", "admin", "anvil"),
		role("alice", "reader", "forge"),
		role("bob", "reader", "anvil"),
		fact("has_role", user("alice"), term.String("member"), org("acme")),
		fact("has_relation", repo("anvil"), term.String("parent"), org("acme")),
		fact("is_public", repo("forge")),
		fact("has_role", user("alice"), term.String("admin")),
	))
	snap := MustSnapshot(t, s, 0)
	tests := []struct {
		name string
		pred string
		args []term.Value
		want []string
	}{
		{"all of an arity", "has_role", []term.Value{{}, {}, {}}, []string{
			`User{"alice"} "admin" Repo{"anvil"}`, `User{"alice"} "reader" Repo{"forge"}`,
			`User{"bob"} "reader" Repo{"anvil"}`, `User{"alice"} "member" Org{"acme"}`}},
		{"other arity", "has_role", []term.Value{{}, {}}, []string{`User{"alice"} "admin"`}},
		{"first bound", "has_role", []term.Value{user("alice"), {}, {}}, []string{
			`User{"alice"} "admin" Repo{"anvil"}`, `User{"alice"} "reader" Repo{"forge"}`, `User{"alice"} "member" Org{"acme"}`}},
		{"two bound", "has_role", []term.Value{user("alice"), {}, repo("anvil")}, []string{`User{"alice"} "admin" Repo{"anvil"}`}},
		{"all bound", "has_role", []term.Value{user("bob"), term.String("reader"), repo("anvil")}, []string{`User{"bob"} "reader" Repo{"anvil"}`}},
		{"all bound, absent", "has_role", []term.Value{user("bob"), term.String("admin"), repo("anvil")}, nil},
		{"unknown value", "has_role", []term.Value{user("zed"), {}, {}}, nil},
		{"same id, other type", "is_public", []term.Value{org("forge")}, nil},
		{"unknown predicate", "nope", []term.Value{{}}, nil},
		{"bound middle", "has_role", []term.Value{{}, term.String("reader"), {}}, []string{
			`User{"alice"} "reader" Repo{"forge"}`, `User{"bob"} "reader" Repo{"anvil"}`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			snap.Match(tc.pred, tc.args, func(args []term.Value) bool {
				got = append(got, fmt.Sprint(args[0], " ", args[1:]))
				return true
			})
			for i := range got { // "a [b c]" -> "a b c"
				got[i] = trimBrackets(got[i])
			}
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Match(%s, %v) (-want +got):\n%s", tc.pred, tc.args, diff)
			}
		})
	}
	t.Run("stops early", func(t *testing.T) {
		n := 0
		snap.Match("has_role", []term.Value{{}, {}, {}}, func([]term.Value) bool { n++; return false })
		if n != 1 {
			t.Errorf("yield called %d times after returning false", n)
		}
	})
	t.Run("nested", func(t *testing.T) {
		n := 0
		snap.Match("has_role", []term.Value{{}, {}, {}}, func(a []term.Value) bool {
			snap.Match("has_relation", []term.Value{a[2], {}, {}}, func([]term.Value) bool { n++; return true })
			return true
		})
		if n != 2 {
			t.Errorf("nested Match found %d, want 2", n)
		}
	})
}

func trimBrackets(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '[' && s[i] != ']' {
			out = append(out, s[i])
		}
	}
	return string(out)
}

func testFacts(t *testing.T, s store.Store) {
	all := []term.Fact{
		role("bob", "reader", "anvil"),
		role("alice", "admin", "anvil"),
		fact("has_role", user("alice"), term.String("member"), org("acme")),
		fact("has_relation", repo("anvil"), term.String("parent"), org("acme")),
		fact("is_public", repo("forge")),
		fact("has_role", user("alice"), term.String("admin")),
		fact("has_permission", user("alice"), term.String("read"), repo("anvil"), term.Bool(true)),
	}
	rev := MustWrite(t, s, insert(all[:3]...))
	rev = max(rev, MustWrite(t, s, insert(all[3:]...)))
	snap := MustSnapshot(t, s, rev)
	tests := []struct {
		name string
		p    term.Pattern
		want []term.Fact
	}{
		{"everything, in order", everything(), []term.Fact{all[6], all[3], all[5], all[0], all[1], all[2], all[4]}},
		{"predicate, exact arity", pattern("has_role", term.Value{}, term.Value{}, term.Value{}), all[:3]},
		{"predicate, any arity", term.Pattern{Predicate: "has_role", AnyArity: true}, []term.Fact{all[5], all[0], all[1], all[2]}},
		{"predicate only, no args", term.Pattern{Predicate: "has_role"}, nil},
		{"first argument, any arity", term.Pattern{Predicate: "has_role", Args: []term.Value{user("alice")}, AnyArity: true}, []term.Fact{all[5], all[1], all[2]}},
		{"type only", term.Pattern{Predicate: "has_role", Args: []term.Value{{}, {}, {Type: "Org"}}}, all[2:3]},
		{"id only", term.Pattern{Args: []term.Value{{ID: "anvil"}}, AnyArity: true}, all[3:4]},
		{"third argument, any predicate", term.Pattern{Args: []term.Value{{}, {}, repo("anvil")}, AnyArity: true}, []term.Fact{all[6], all[0], all[1]}},
		{"absent value", term.Pattern{Predicate: "has_role", Args: []term.Value{user("zed")}, AnyArity: true}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(strs(tc.want...), AllFacts(snap, tc.p)); diff != "" {
				t.Errorf("Facts(%+v) (-want +got):\n%s", tc.p, diff)
			}
		})
	}
	t.Run("stops early", func(t *testing.T) {
		n := 0
		for range snap.Facts(everything()) {
			n++
			break
		}
		if n != 1 {
			t.Errorf("got %d facts", n)
		}
	})
}

func testStats(t *testing.T, s store.Store) {
	r := MustWrite(t, s, insert(
		role("alice", "admin", "anvil"),
		role("bob", "reader", "anvil"),
		fact("has_relation", repo("anvil"), term.String("parent"), org("acme")),
		fact("is_public", repo("forge")),
	))
	if diff := cmp.Diff(store.Stats{Facts: 4, Roles: 2, Relations: 1}, MustSnapshot(t, s, r).Stats()); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
	r = MustWrite(t, s, del(ground(role("bob", "reader", "anvil")), term.Pattern{Predicate: "is_public", AnyArity: true}))
	if diff := cmp.Diff(store.Stats{Facts: 2, Roles: 1, Relations: 1}, MustSnapshot(t, s, r).Stats()); diff != "" {
		t.Errorf("Stats after deletes (-want +got):\n%s", diff)
	}
}

// testPredicateCounts checks, for a store whose snapshots count facts per
// predicate (store.PredicateCounter), that the counts are those of the
// facts the snapshot holds, before and after deletes.
func testPredicateCounts(t *testing.T, s store.Store) {
	r1 := MustWrite(t, s, insert(
		role("alice", "admin", "anvil"),
		role("bob", "reader", "anvil"),
		fact("has_relation", repo("anvil"), term.String("parent"), org("acme")),
		fact("is_public", repo("forge")),
		fact("is_public", repo("anvil"), term.Bool(true)),
	))
	snap1 := MustSnapshot(t, s, r1)
	pc, ok := snap1.(store.PredicateCounter)
	if !ok {
		t.Skip("the store's snapshots do not count facts per predicate")
	}
	r2 := MustWrite(t, s, del(ground(role("bob", "reader", "anvil")), term.Pattern{Predicate: "is_public", Args: []term.Value{{}}}))
	want1 := []store.PredicateCount{{Predicate: "has_relation", Arity: 3, Facts: 1}, {Predicate: "has_role", Arity: 3, Facts: 2},
		{Predicate: "is_public", Arity: 1, Facts: 1}, {Predicate: "is_public", Arity: 2, Facts: 1}}
	if diff := cmp.Diff(want1, pc.PredicateCounts()); diff != "" {
		t.Errorf("PredicateCounts (-want +got):\n%s", diff)
	}
	want2 := []store.PredicateCount{{Predicate: "has_relation", Arity: 3, Facts: 1}, {Predicate: "has_role", Arity: 3, Facts: 1},
		{Predicate: "is_public", Arity: 2, Facts: 1}}
	if diff := cmp.Diff(want2, MustSnapshot(t, s, r2).(store.PredicateCounter).PredicateCounts()); diff != "" {
		t.Errorf("PredicateCounts after deletes (-want +got):\n%s", diff)
	}
}

func testClear(t *testing.T, s store.Store) {
	c, ok := s.(store.Clearer)
	if !ok {
		t.Fatalf("%T does not implement store.Clearer", s)
	}
	r1 := MustWrite(t, s, insert(role("alice", "admin", "anvil"), fact("is_public", repo("forge"))))
	r2, err := c.Clear(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if r2 <= r1 {
		t.Errorf("Clear revision %d, want > %d", r2, r1)
	}
	snap := MustSnapshot(t, s, r2)
	if got := AllFacts(snap, everything()); len(got) != 0 || snap.Stats() != (store.Stats{}) {
		t.Errorf("after Clear: facts %v, stats %+v", got, snap.Stats())
	}
}

func testPolicies(t *testing.T, s store.Store) {
	ctx := t.Context()
	ps, ok := s.(store.PolicyStore)
	if !ok {
		t.Fatalf("%T does not implement store.PolicyStore", s)
	}
	if _, err := ps.LivePolicy(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LivePolicy of an empty store: %v, want ErrNotFound", err)
	}
	if h, err := ps.PolicyHistory(ctx); err != nil || len(h) != 0 {
		t.Errorf("PolicyHistory of an empty store: %v, %v", h, err)
	}
	v1, err := ps.SavePolicy(ctx, store.Policy{Files: []store.PolicyFile{{Filename: "main.polar", Src: "actor User {}"}}, CreatedBy: "key-1"})
	if err != nil {
		t.Fatal(err)
	}
	v2, err := ps.SavePolicy(ctx, store.Policy{Files: []store.PolicyFile{{Filename: "a.polar", Src: "a"}, {Filename: "b.polar", Src: "b"}}, CreatedBy: "key-2",
		Source: store.PolicySourceGit, Commit: "0123456789abcdef0123456789abcdef01234567", TestCount: 3})
	if err != nil {
		t.Fatal(err)
	}
	if v1.Version != 1 || v2.Version != 2 || !v2.Live || v1.CreatedAt.IsZero() || v2.Status != store.PolicyLive {
		t.Errorf("saved versions %+v and %+v", v1, v2)
	}
	if v2.Source != store.PolicySourceGit || v2.Commit != "0123456789abcdef0123456789abcdef01234567" || v2.TestCount != 3 || v1.Source != "" {
		t.Errorf("saved versions lost their source: %+v and %+v", v1, v2)
	}
	ignoreTime := cmp.Comparer(func(a, b time.Time) bool { return true })
	live, err := ps.LivePolicy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(v2, live, ignoreTime); diff != "" {
		t.Errorf("LivePolicy (-want +got):\n%s", diff)
	}
	v1.Live, v1.Status = false, store.PolicyPrevious
	hist, err := ps.PolicyHistory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.Policy{v2, v1}, hist, ignoreTime); diff != "" {
		t.Errorf("PolicyHistory (-want +got):\n%s", diff)
	}
	// Rollback.
	back, err := ps.ActivatePolicy(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if back.Version != 1 || !back.Live {
		t.Errorf("ActivatePolicy(1) = %+v", back)
	}
	live, err = ps.LivePolicy(ctx)
	if err != nil || live.Version != 1 || live.Files[0].Src != "actor User {}" {
		t.Errorf("LivePolicy after rollback = %+v, %v", live, err)
	}
	got2, err := ps.GetPolicy(ctx, 2)
	if err != nil || got2.Live || len(got2.Files) != 2 || got2.CreatedBy != "key-2" {
		t.Errorf("GetPolicy(2) after rollback = %+v, %v", got2, err)
	}
	for _, v := range []int64{0, 3, -1} {
		if _, err := ps.GetPolicy(ctx, v); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetPolicy(%d): %v, want ErrNotFound", v, err)
		}
		if _, err := ps.ActivatePolicy(ctx, v); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ActivatePolicy(%d): %v, want ErrNotFound", v, err)
		}
	}
	v3, err := ps.SavePolicy(ctx, store.Policy{Files: []store.PolicyFile{{Filename: "c.polar", Src: "c"}}})
	if err != nil || v3.Version != 3 {
		t.Fatalf("SavePolicy after rollback = %+v, %v", v3, err)
	}
	hist, err = ps.PolicyHistory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var lives []bool
	for _, p := range hist {
		lives = append(lives, p.Live)
	}
	if diff := cmp.Diff([]bool{true, false, false}, lives); diff != "" {
		t.Errorf("live flags newest first (-want +got):\n%s", diff)
	}
	testListPolicies(t, ps)
}

// testListPolicies runs on a store holding versions 1..3 with 3 live.
func testListPolicies(t *testing.T, ps store.PolicyStore) {
	ctx := t.Context()
	if _, err := ps.ActivatePolicy(ctx, 2); err != nil { // 3 is now rolled back
		t.Fatal(err)
	}
	all, err := ps.PolicyHistory(ctx)
	if err != nil || len(all) != 3 {
		t.Fatalf("PolicyHistory = %v, %v", all, err)
	}
	versions := func(ps []store.Policy) []int64 {
		out := []int64{}
		for _, p := range ps {
			out = append(out, p.Version)
		}
		return out
	}
	mid := all[1].CreatedAt // version 2
	for _, tc := range []struct {
		name string
		f    store.PolicyFilter
		want []int64
	}{
		{"all", store.PolicyFilter{}, []int64{3, 2, 1}},
		{"live", store.PolicyFilter{Status: store.PolicyLive}, []int64{2}},
		{"previous", store.PolicyFilter{Status: store.PolicyPrevious}, []int64{1}},
		{"rolled back", store.PolicyFilter{Status: store.PolicyRolledBack}, []int64{3}},
		{"page 1", store.PolicyFilter{Limit: 2}, []int64{3, 2}},
		{"page 2", store.PolicyFilter{Limit: 2, Before: 2}, []int64{1}},
		{"since", store.PolicyFilter{Since: mid}, nil},
		{"until", store.PolicyFilter{Until: mid.Add(time.Microsecond)}, nil},
		{"empty range", store.PolicyFilter{Since: mid, Until: mid}, []int64{}},
	} {
		got, err := ps.ListPolicies(ctx, tc.f)
		if err != nil {
			t.Errorf("ListPolicies(%s): %v", tc.name, err)
			continue
		}
		want := tc.want
		if want == nil { // computed from the stored times, which may tie
			want = []int64{}
			for _, p := range all {
				if tc.f.Keeps(p) {
					want = append(want, p.Version)
				}
			}
		}
		if diff := cmp.Diff(want, versions(got)); diff != "" {
			t.Errorf("ListPolicies(%s) versions (-want +got):\n%s", tc.name, diff)
		}
	}
	got, err := ps.ListPolicies(ctx, store.PolicyFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range got {
		want := all[i]
		for j := range want.Files {
			want.Files[j].Src = ""
		}
		if diff := cmp.Diff(want, p, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
			t.Errorf("ListPolicies entry %d (-want +got):\n%s", i, diff)
		}
	}
	if got[0].Status != store.PolicyRolledBack || got[1].Status != store.PolicyLive || got[2].Status != store.PolicyPrevious {
		t.Errorf("statuses %s %s %s, want rolled_back live previous", got[0].Status, got[1].Status, got[2].Status)
	}
}

func testKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	ks, ok := s.(store.KeyStore)
	if !ok {
		t.Fatalf("%T does not implement store.KeyStore", s)
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	k1 := store.Key{ID: "k1", Name: "ci", Scope: "write", Hash: []byte{1, 2, 3}, CreatedAt: t0}
	k2 := store.Key{ID: "k2", Name: "admin", Scope: "admin", Hash: []byte{4, 5, 6}, CreatedAt: t0.Add(time.Second)}
	for _, k := range []store.Key{k2, k1} {
		if err := ks.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if err := ks.CreateKey(ctx, k1); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateKey of an existing ID: %v, want ErrConflict", err)
	}
	timeEq := cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })
	got, err := ks.KeyByID(ctx, "k1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(k1, got, timeEq); diff != "" {
		t.Errorf("KeyByID (-want +got):\n%s", diff)
	}
	list, err := ks.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]store.Key{k1, k2}, list, timeEq); diff != "" {
		t.Errorf("ListKeys (-want +got):\n%s", diff)
	}
	if n, err := ks.CountKeys(ctx); err != nil || n != 2 {
		t.Errorf("CountKeys = %d, %v", n, err)
	}
	if err := ks.DeleteKey(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	if err := ks.DeleteKey(ctx, "k1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteKey twice: %v, want ErrNotFound", err)
	}
	if _, err := ks.KeyByID(ctx, "k1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("KeyByID of a deleted key: %v, want ErrNotFound", err)
	}
	for _, id := range []string{"\xffk2", "k\x002"} {
		if _, err := ks.KeyByID(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("KeyByID(%q): %v, want ErrNotFound", id, err)
		}
		if err := ks.DeleteKey(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("DeleteKey(%q): %v, want ErrNotFound", id, err)
		}
	}
	if n, err := ks.CountKeys(ctx); err != nil || n != 1 {
		t.Errorf("CountKeys = %d, %v", n, err)
	}
}

func testClose(t *testing.T, s store.Store) {
	ctx := t.Context()
	rev := MustWrite(t, s, insert(role("alice", "admin", "anvil")))
	snap := MustSnapshot(t, s, rev)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(ctx, []store.Op{insert(role("bob", "admin", "anvil"))}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Write after Close: %v, want ErrClosed", err)
	}
	if _, err := s.Snapshot(ctx, store.Consistency{}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Snapshot after Close: %v, want ErrClosed", err)
	}
	if _, err := s.Head(ctx); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Head after Close: %v, want ErrClosed", err)
	}
	if got := AllFacts(snap, everything()); len(got) != 1 {
		t.Errorf("a snapshot taken before Close reads %v", got)
	}
}
