package postgres

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/migrations"
	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/pgtest"
)

// TestBulkChangeLog checks the change log of bulk inserts (one row naming
// a block of facts ids, migration 11) when their facts are deleted later:
// in the same transaction (a group commit), by a later revision (a ground
// delete, a pattern, a new window, expiry). Read back, the log holds every
// insert of the bulk revision in the order the database stored them, then
// the deletes; a follower that reads the revisions only after the deletes
// committed sees, at the bulk revision, every fact it inserted; and the
// log reads the same after migration 11 goes down (one row per fact) and
// up again.
func TestBulkChangeLog(t *testing.T) {
	ctx := t.Context()
	url := pgtest.NewDatabase(t)
	s, err := Open(ctx, url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The follower polls rarely and sees no notification: it reads the
	// revisions when asked for them.
	f, err := Open(ctx, url, Options{PollInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	role := func(i int) term.Fact {
		return term.Fact{Predicate: "has_role", Args: []term.Value{term.Entity("User", fmt.Sprint("u", i%10)), term.String("reader"), term.Entity("Repo", fmt.Sprint("r", i))}}
	}
	var facts []term.Fact
	for i := range copyThreshold + 50 {
		fact := role(i)
		if i%100 == 7 {
			fact.Valid = term.Window{Until: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}
		}
		facts = append(facts, fact)
	}
	bulk, err := store.Prepare([]store.Op{{Insert: facts}})
	if err != nil {
		t.Fatal(err)
	}
	del, err := store.Prepare([]store.Op{{Delete: []term.Pattern{{Predicate: "has_role", Args: []term.Value{{ID: "u3"}, {}, {}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	revs, err := s.commit(ctx, [][]store.Op{bulk, del})
	if err != nil {
		t.Fatal(err)
	}
	bulkRev := revs[0]
	// The order in which the database stored the bulk insert's facts.
	var stored []string
	for _, fact := range bulk[0].Insert {
		stored = append(stored, fact.String())
	}
	later := []store.Op{
		{Delete: []term.Pattern{{Predicate: role(15).Predicate, Args: role(15).Args}}},
		{Delete: []term.Pattern{{Predicate: "has_role", Args: []term.Value{{}, {}, {ID: "r21"}}}}},
		{Insert: []term.Fact{{Predicate: role(44).Predicate, Args: role(44).Args, Valid: term.Window{From: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}}}},
	}
	for _, op := range later {
		if _, err := s.Write(ctx, []store.Op{op}); err != nil {
			t.Fatal(err)
		}
	}
	if _, n, err := s.Expire(ctx, time.Now()); err != nil || n == 0 {
		t.Fatalf("expire: %d facts (%v), want some", n, err)
	}
	read := func() []string {
		changes, err := s.Changes(ctx, bulkRev-1, 0)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range changes {
			out = append(out, fmt.Sprintf("%d %d %s %v", c.Revision, c.Op, c.Fact, c.Fact.Valid))
		}
		return out
	}
	got := read()
	var inserted []string
	for _, c := range got[:len(stored)] {
		var rev, op int
		var rest string
		fmt.Sscanf(c, "%d %d", &rev, &op)
		rest = c[len(fmt.Sprintf("%d %d ", rev, op)):]
		if uint64(rev) != bulkRev || op != int(store.OpInsert) {
			t.Fatalf("change %q, want the inserts of revision %d first", c, bulkRev)
		}
		inserted = append(inserted, rest[:len(rest)-len(fmt.Sprint(" ", term.Window{}))])
	}
	if !slices.Equal(inserted, stored) {
		t.Errorf("the bulk revision's inserts read back differ from what was stored (%d against %d)", len(inserted), len(stored))
	}
	want := s.index().Changes(bulkRev-1, 0)
	if len(want) > 0 && len(got) != len(want) {
		t.Errorf("the database logged %d changes, the index %d", len(got), len(want))
	}
	// The follower catches up from before the bulk revision.
	if _, err := f.Snapshot(ctx, store.Consistency{AtLeast: s.index().Revision()}); err != nil {
		t.Fatal(err)
	}
	at, err := f.index().SnapshotAt(bulkRev)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range at.Facts(term.Pattern{AnyArity: true}) {
		n++
	}
	if n != len(stored) {
		t.Errorf("the follower holds %d facts at the bulk revision, want %d", n, len(stored))
	}
	all := func(x *Store) []string {
		var out []string
		for fact := range x.index().Snapshot().Facts(term.Pattern{AnyArity: true}) {
			out = append(out, fact.String()+" "+fmt.Sprint(fact.Valid))
		}
		slices.Sort(out)
		return out
	}
	if a, b := all(f), all(s); !slices.Equal(a, b) {
		t.Errorf("the follower holds %d facts, the writer %d", len(a), len(b))
	}
	// Down to one row per fact (schema 10, through migration 12's down)
	// and up again: the log reads the same.
	if err := migrations.Steps(ctx, url, -int(migrations.Latest()-10)); err != nil {
		t.Fatal(err)
	}
	var bulkRows int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM changes WHERE revision = $1", int64(bulkRev)).Scan(&bulkRows); err != nil || bulkRows != len(stored) {
		t.Errorf("after migration 11 down, revision %d has %d rows (%v), want %d", bulkRev, bulkRows, err, len(stored))
	}
	if err := migrations.Up(ctx, url); err != nil {
		t.Fatal(err)
	}
	if again := read(); !slices.Equal(again, got) {
		t.Errorf("after migration 11 down and up the log reads differently (%d changes, was %d)", len(again), len(got))
	}
}
