package postgres

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/pgtest"
)

// TestGroupDeleteByBoundID commits two batches in one transaction, as a
// group commit does: the second deletes by a bound id the facts the first
// inserted (which the in-memory index does not hold yet) and one stored
// before. The database, the index and the change log agree.
func TestGroupDeleteByBoundID(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, pgtest.NewDatabase(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	role := func(u, r string) term.Fact {
		return term.Fact{Predicate: "has_role", Args: []term.Value{term.Entity("User", u), term.String("reader"), term.Entity("Repo", r)}}
	}
	if _, err := s.Write(ctx, []store.Op{{Insert: []term.Fact{role("alice", "old"), role("bob", "old")}}}); err != nil {
		t.Fatal(err)
	}
	first, err := store.Prepare([]store.Op{{Insert: []term.Fact{role("alice", "new"), role("bob", "new")}}})
	if err != nil {
		t.Fatal(err)
	}
	second, err := store.Prepare([]store.Op{{Delete: []term.Pattern{{Predicate: "has_role", Args: []term.Value{{ID: "alice"}, {}, {}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	revs, err := s.commit(ctx, [][]store.Op{first, second})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for f := range s.index().Snapshot().Facts(term.Pattern{AnyArity: true}) {
		got = append(got, f.String())
	}
	want := []string{role("bob", "old").String(), role("bob", "new").String()}
	if !slices.Equal(got, want) {
		t.Errorf("index holds %v, want %v", got, want)
	}
	var n int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM facts WHERE arg_ids[1] = 'alice'").Scan(&n); err != nil || n != 0 {
		t.Errorf("alice's facts left in the database: %d (%v)", n, err)
	}
	changes, err := s.Changes(ctx, revs[0], 0)
	if err != nil {
		t.Fatal(err)
	}
	var deleted []string
	for _, c := range changes {
		if c.Op != store.OpDelete || c.Revision != revs[1] {
			t.Errorf("change %+v, want only deletes at %d", c, revs[1])
		}
		deleted = append(deleted, c.Fact.String())
	}
	if want := []string{role("alice", "old").String(), role("alice", "new").String()}; !slices.Equal(deleted, want) {
		t.Errorf("logged deletes %v, want %v", deleted, want)
	}
}

// TestCopyRoundTrip writes a batch large enough for COPY (hand-encoded
// binary rows) with multibyte ids, several arities and windows, and reads
// it back through a second store's load and the change log.
func TestCopyRoundTrip(t *testing.T) {
	ctx := t.Context()
	// The rows go to the database in many chunks.
	defer func(n int) { copyChunkBytes = n }(copyChunkBytes)
	copyChunkBytes = 1000
	url := pgtest.NewDatabase(t)
	s, err := Open(ctx, url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var facts []term.Fact
	from := time.Date(2026, 1, 2, 3, 4, 5, 678000, time.UTC)
	for i := range copyThreshold + 100 {
		id := fmt.Sprintf("ü-%d-%s", i, strings.Repeat("ß", i%40))
		f := term.Fact{Predicate: "p" + strconv.Itoa(i%3), Args: []term.Value{term.Entity("User", id)}}
		for range i % 5 {
			f.Args = append(f.Args, term.String("'\"\\, {}"+id))
		}
		if i%7 == 0 {
			f.Valid = term.Window{From: from, Until: from.Add(time.Duration(i+1) * time.Hour)}
		}
		facts = append(facts, f)
	}
	rev, err := s.Write(ctx, []store.Op{{Insert: facts}})
	if err != nil {
		t.Fatal(err)
	}
	all := func(s *Store) []string {
		var out []string
		for f := range s.index().Snapshot().Facts(term.Pattern{AnyArity: true}) {
			out = append(out, f.String()+" "+fmt.Sprint(f.Valid))
		}
		slices.Sort(out)
		return out
	}
	s2, err := Open(ctx, url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got, want := all(s2), all(s); !slices.Equal(got, want) || len(got) != len(facts) {
		t.Errorf("loaded %d facts, want %d equal to the writer's", len(got), len(want))
	}
	changes, err := s.Changes(ctx, rev-1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != len(facts) {
		t.Fatalf("%d changes, want %d", len(changes), len(facts))
	}
	byKey := map[string]term.Fact{}
	for _, f := range facts {
		byKey[f.String()] = f
	}
	for _, c := range changes {
		f, ok := byKey[c.Fact.String()]
		if !ok || c.Op != store.OpInsert || !f.Valid.From.Equal(c.Fact.Valid.From) || !f.Valid.Until.Equal(c.Fact.Valid.Until) {
			t.Fatalf("change %+v does not match a written fact", c)
		}
	}
	// Told again with new ones: only the new are stored and logged.
	more := append(slices.Clone(facts), term.Fact{Predicate: "p0", Args: []term.Value{term.String("new")}})
	rev2, err := s.Write(ctx, []store.Op{{Insert: more}})
	if err != nil {
		t.Fatal(err)
	}
	if changes, err := s.Changes(ctx, rev, 0); err != nil || len(changes) != 1 || changes[0].Revision != rev2 || changes[0].Fact.Args[0].ID != "new" {
		t.Errorf("telling the facts again logged %v (%v), want the one new fact", changes, err)
	}
	if got := s.index().Stats().Facts; got != len(more) {
		t.Errorf("the index holds %d facts, want %d", got, len(more))
	}
}

// TestDeleteByPattern deletes by patterns that bind no id (the facts table
// has no index on the predicate): through the keys the index finds, and,
// past maxScanKeys matches, by a scan of the table. The database, the index
// and the change log agree either way, also for facts told in the same
// transaction.
func TestDeleteByPattern(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, pgtest.NewDatabase(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fact := func(pred, u string) term.Fact {
		return term.Fact{Predicate: pred, Args: []term.Value{term.Entity("User", u), term.String("x")}}
	}
	for _, scan := range []bool{false, true} {
		if scan {
			defer func(n int) { maxScanKeys = n }(maxScanKeys)
			maxScanKeys = 2
		}
		if _, err := s.Clear(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Write(ctx, []store.Op{{Insert: []term.Fact{fact("a", "1"), fact("a", "2"), fact("a", "3"), fact("b", "1")}}}); err != nil {
			t.Fatal(err)
		}
		// Told and deleted in one transaction, as a group commit does.
		first, _ := store.Prepare([]store.Op{{Insert: []term.Fact{fact("a", "4"), fact("c", "1")}}})
		second, _ := store.Prepare([]store.Op{{Delete: []term.Pattern{{Predicate: "a", Args: []term.Value{{}, {}}}}}})
		revs, err := s.commit(ctx, [][]store.Op{first, second})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for f := range s.index().Snapshot().Facts(term.Pattern{AnyArity: true}) {
			got = append(got, f.String())
		}
		slices.Sort(got)
		if want := []string{fact("b", "1").String(), fact("c", "1").String()}; !slices.Equal(got, want) {
			t.Errorf("scan %v: the index holds %v, want %v", scan, got, want)
		}
		var n int
		if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM facts WHERE predicate = 'a'").Scan(&n); err != nil || n != 0 {
			t.Errorf("scan %v: %d facts of a left in the database (%v)", scan, n, err)
		}
		changes, err := s.Changes(ctx, revs[0], 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(changes) != 4 {
			t.Errorf("scan %v: logged %v, want the 4 deletes of a", scan, changes)
		}
		// A pattern by type only.
		if _, err := s.Write(ctx, []store.Op{{Delete: []term.Pattern{{AnyArity: true, Args: []term.Value{{Type: "User"}}}}}}); err != nil {
			t.Fatal(err)
		}
		if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM facts").Scan(&n); err != nil || n != 0 || s.index().Stats().Facts != 0 {
			t.Errorf("scan %v: %d facts left in the database (%v), %d in the index", scan, n, err, s.index().Stats().Facts)
		}
	}
}

// TestCopyFails makes a COPY fail halfway through its stream of rows (a
// fact stored behind the store's back, so its key is taken): the write
// fails whole, nothing of it is stored or logged, and the store writes on.
func TestCopyFails(t *testing.T) {
	ctx := t.Context()
	defer func(n int) { copyChunkBytes = n }(copyChunkBytes)
	copyChunkBytes = 1000
	s, err := Open(ctx, pgtest.NewDatabase(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var facts []term.Fact
	for i := range 3 * copyThreshold {
		facts = append(facts, term.Fact{Predicate: "p", Args: []term.Value{term.Entity("User", strconv.Itoa(i))}})
	}
	// The last in key order, so that most rows are sent before it.
	keyed := dedupe(facts, true)
	hidden := keyed[len(keyed)-1]
	if _, err := s.pool.Exec(ctx, "INSERT INTO facts (fact_key, predicate, arity, arg_types, arg_ids, revision) VALUES ($1, 'p', 1, '{User}', $2, 0)", hidden.key, []string{hidden.fact.Args[0].ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(ctx, []store.Op{{Insert: facts}}); err == nil {
		t.Fatal("a COPY onto a stored key succeeded")
	}
	var n, logged int
	if err := s.pool.QueryRow(ctx, "SELECT (SELECT count(*) FROM facts), (SELECT count(*) FROM changes)").Scan(&n, &logged); err != nil || n != 1 || logged != 0 {
		t.Errorf("after the failed COPY: %d facts, %d changes (%v); want 1 and 0", n, logged, err)
	}
	if s.index().Stats().Facts != 0 {
		t.Errorf("the index holds %d facts, want 0", s.index().Stats().Facts)
	}
	if _, err := s.pool.Exec(ctx, "DELETE FROM facts"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(ctx, []store.Op{{Insert: facts}}); err != nil {
		t.Fatal(err)
	}
	if s.index().Stats().Facts != len(facts) {
		t.Errorf("the index holds %d facts, want %d", s.index().Stats().Facts, len(facts))
	}
}

// TestDedupe keys a batch with repeated facts: each fact once, with the
// window it was told with last; sorted by key, or in the order first told.
func TestDedupe(t *testing.T) {
	var facts []term.Fact
	for i := range 6000 {
		f := term.Fact{Predicate: "p", Args: []term.Value{term.Entity("User", strconv.Itoa(i%2500))}}
		f.Valid.Until = time.Unix(int64(i), 0).UTC()
		facts = append(facts, f)
	}
	for _, sorted := range []bool{true, false} {
		got := dedupe(facts, sorted)
		if len(got) != 2500 {
			t.Fatalf("sorted %v: %d facts, want 2500", sorted, len(got))
		}
		for i, kf := range got {
			n, _ := strconv.Atoi(kf.fact.Args[0].ID)
			last := n + 2500*((6000-1-n)/2500)
			if kf.key != factKey(kf.fact.Predicate, kf.fact.Args) || kf.fact.Valid.Until.Unix() != int64(last) {
				t.Fatalf("sorted %v: %v with window until %d, want its key and %d", sorted, kf.fact, kf.fact.Valid.Until.Unix(), last)
			}
			if sorted && i > 0 && bytes.Compare(got[i-1].key[:], kf.key[:]) >= 0 {
				t.Fatalf("not sorted by key at %d", i)
			}
			if !sorted && n != i {
				t.Fatalf("fact %d is %v, want the order first told", i, kf.fact)
			}
		}
	}
}

// TestPipelinedWriteBehindAnotherStore writes through a store whose index
// missed another store's commit (its follower stopped, so no notification
// tells it): the one-round-trip write finds the head moved, commits
// nothing, and the group is written in a transaction that catches the
// index up first, so the delete by pattern finds the other store's fact.
func TestPipelinedWriteBehindAnotherStore(t *testing.T) {
	ctx := t.Context()
	url := pgtest.NewDatabase(t)
	s, err := Open(ctx, url, Options{PollInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	other, err := Open(ctx, url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	role := func(u, r string) term.Fact {
		return term.Fact{Predicate: "has_role", Args: []term.Value{term.Entity("User", u), term.String("reader"), term.Entity("Repo", r)}}
	}
	if rev, err := s.Write(ctx, []store.Op{{Insert: []term.Fact{role("alice", "anvil")}}}); err != nil || rev != 1 {
		t.Fatalf("first write: revision %d, %v; want 1", rev, err)
	}
	s.stop()
	<-s.done
	if rev, err := other.Write(ctx, []store.Op{{Insert: []term.Fact{role("bob", "anvil")}}}); err != nil || rev != 2 {
		t.Fatalf("the other store's write: revision %d, %v; want 2", rev, err)
	}
	if got := s.index().Revision(); got != 1 {
		t.Fatalf("the index of the store behind is at revision %d, want 1", got)
	}
	rev, err := s.Write(ctx, []store.Op{
		{Delete: []term.Pattern{{Predicate: "has_role", Args: []term.Value{{ID: "bob"}, {}, {}}}}},
		{Insert: []term.Fact{role("carol", "anvil")}},
	})
	if err != nil || rev != 3 {
		t.Fatalf("write behind the other store: revision %d, %v; want 3", rev, err)
	}
	var got []string
	for f := range s.index().Snapshot().Facts(term.Pattern{AnyArity: true}) {
		got = append(got, f.Args[0].ID)
	}
	if want := []string{"alice", "carol"}; !slices.Equal(got, want) || s.index().Revision() != 3 {
		t.Errorf("index at revision %d holds %v, want %v at 3", s.index().Revision(), got, want)
	}
	users := queryStrings(t, s, "SELECT arg_ids[1] FROM facts ORDER BY id")
	if want := []string{"alice", "carol"}; !slices.Equal(users, want) {
		t.Errorf("the database holds %v, want %v", users, want)
	}
}

// TestPipelinedGroupRefusedWhole commits a group in one round trip whose
// second batch the database refuses: nothing of the group is committed,
// neither the first batch nor a revision.
func TestPipelinedGroupRefusedWhole(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, pgtest.NewDatabase(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.pool.Exec(ctx, refusePoisonSQL); err != nil {
		t.Fatal(err)
	}
	good, err := store.Prepare([]store.Op{{Insert: []term.Fact{{Predicate: "fine", Args: []term.Value{term.String("x")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	bad, err := store.Prepare([]store.Op{{Insert: []term.Fact{{Predicate: "poison", Args: []term.Value{term.String("x")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if revs, err, done := s.commitPipelined(ctx, [][]store.Op{good, bad}); err == nil || !done {
		t.Fatalf("a group with a refused batch: revisions %v, %v, done %v; want an error", revs, err, done)
	}
	var head, facts, revisions int
	if err := s.pool.QueryRow(ctx, "SELECT (SELECT revision FROM castellan_head), (SELECT count(*) FROM facts), (SELECT count(*) FROM revisions)").Scan(&head, &facts, &revisions); err != nil {
		t.Fatal(err)
	}
	if head != 0 || facts != 0 || revisions != 0 || s.index().Revision() != 0 {
		t.Errorf("after the refused group: head %d, %d facts, %d revisions, index at %d; want nothing", head, facts, revisions, s.index().Revision())
	}
	// The store still writes (the connection was left outside a transaction).
	if revs, err, done := s.commitPipelined(ctx, [][]store.Op{good}); err != nil || !done || revs[0] != 1 {
		t.Errorf("the next write: revisions %v, %v, done %v; want revision 1 in one round trip", revs, err, done)
	}
}

// TestGroupOfInsertsOneStatement commits a group of batches that only
// insert, one of them telling again a fact an earlier batch of the group
// told: each fact is stored and logged at the revision of its first
// telling, every revision of the group has its row, and the change log
// read back gives the index's facts.
func TestGroupOfInsertsOneStatement(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, pgtest.NewDatabase(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fact := func(u string) term.Fact {
		return term.Fact{Predicate: "has_role", Args: []term.Value{term.Entity("User", u), term.String("reader"), term.Entity("Repo", "anvil")}}
	}
	var batches [][]store.Op
	for _, users := range [][]string{{"alice", "bob"}, {"alice"}, {"carol", "carol"}} {
		var fs []term.Fact
		for _, u := range users {
			fs = append(fs, fact(u))
		}
		ops, err := store.Prepare([]store.Op{{Insert: fs}})
		if err != nil {
			t.Fatal(err)
		}
		batches = append(batches, ops)
	}
	revs, err := s.commit(ctx, batches)
	if err != nil || !slices.Equal(revs, []uint64{1, 2, 3}) {
		t.Fatalf("revisions %v, %v; want 1, 2, 3", revs, err)
	}
	changes, err := s.Changes(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range changes {
		got = append(got, fmt.Sprintf("%d %d %s", c.Revision, c.Op, c.Fact.Args[0].ID))
	}
	if want := []string{"1 1 alice", "1 1 bob", "3 1 carol"}; !slices.Equal(got, want) {
		t.Errorf("change log %q, want %q", got, want)
	}
	rows := queryStrings(t, s, "SELECT revision::text FROM revisions ORDER BY revision")
	if want := []string{"1", "2", "3"}; !slices.Equal(rows, want) {
		t.Errorf("revisions %v, want %v", rows, want)
	}
	var users []string
	for f := range s.index().Snapshot().Facts(term.Pattern{AnyArity: true}) {
		users = append(users, f.Args[0].ID)
	}
	if want := []string{"alice", "bob", "carol"}; !slices.Equal(users, want) || s.index().Revision() != 3 {
		t.Errorf("index at %d holds %v, want %v at 3", s.index().Revision(), users, want)
	}
}

// TestManyInsertOpsInOneBatch writes one batch of many inserts each just
// under the COPY threshold, more facts in all than one statement can take
// parameters for: it is committed whole.
func TestManyInsertOpsInOneBatch(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, pgtest.NewDatabase(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var ops []store.Op
	for o := range 20 {
		var fs []term.Fact
		for i := range copyThreshold - 1 {
			fs = append(fs, term.Fact{Predicate: "has_role", Args: []term.Value{term.Entity("User", fmt.Sprintf("u%d-%d", o, i)), term.String("reader"), term.Entity("Repo", "anvil")}})
		}
		ops = append(ops, store.Op{Insert: fs})
	}
	rev, err := s.Write(ctx, ops)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM facts WHERE revision = $1", int64(rev)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if want := 20 * (copyThreshold - 1); n != want || s.index().Stats().Facts != want {
		t.Errorf("%d facts in the database, %d in the index; want %d", n, s.index().Stats().Facts, want)
	}
}

// queryStrings returns the one text column of the rows sql selects.
func queryStrings(t *testing.T, s *Store, sql string) []string {
	t.Helper()
	rows, err := s.pool.Query(t.Context(), sql)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// refusePoisonSQL makes the database refuse every fact of predicate
// "poison" (a trigger), to fail one write of a group on purpose.
const refusePoisonSQL = `
	CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		IF NEW.predicate = 'poison' THEN RAISE EXCEPTION 'poisoned'; END IF;
		RETURN NEW;
	END $$;
	CREATE TRIGGER refuse_poison BEFORE INSERT ON facts FOR EACH ROW EXECUTE FUNCTION refuse_poison();`
