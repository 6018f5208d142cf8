package index

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
)

// TestInsertAllLikeInsert: a list long enough for InsertAll's two
// goroutines (several runs, facts of tables of different arities mixed,
// facts told twice, facts told again with another window) leaves the index
// as inserting the facts one by one does: the same facts, the same answer
// to a Match on every value at every position, the same change log.
func TestInsertAllLikeInsert(t *testing.T) {
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var facts []term.Fact
	for i := range 5*insertRun + 77 {
		u := term.Entity("User", fmt.Sprint("u", i%701))
		r := term.Entity("Repo", fmt.Sprint("r", i%53))
		switch i % 5 {
		case 0, 1, 2:
			facts = append(facts, term.Fact{Predicate: "has_role", Args: []term.Value{u, term.String(fmt.Sprint("s", i%3)), r}})
		case 3:
			facts = append(facts, term.Fact{Predicate: "member", Args: []term.Value{u, r}})
		case 4:
			f := term.Fact{Predicate: "has_role", Args: []term.Value{u, term.String(fmt.Sprint("s", (i+1)%3)), r}}
			if i%10 == 4 {
				f.Valid = term.Window{Until: at.Add(time.Duration(i) * time.Second)}
			}
			facts = append(facts, f)
		}
	}
	facts = append(facts, facts[:300]...) // told again: no change
	retold := facts[len(facts)-1]
	retold.Valid = term.Window{From: at}
	facts = append(facts, retold) // the same fact with another window
	ops, err := store.Prepare([]store.Op{{Insert: facts}})
	if err != nil {
		t.Fatal(err)
	}
	facts = ops[0].Insert

	bulk, one := New(WithChangeLog()), New(WithChangeLog())
	tx, err := bulk.Begin(1)
	if err != nil {
		t.Fatal(err)
	}
	nBulk := tx.InsertAll(facts)
	tx.Commit()
	tx, err = one.Begin(1)
	if err != nil {
		t.Fatal(err)
	}
	nOne := 0
	for _, f := range facts {
		if tx.Insert(f) {
			nOne++
		}
	}
	tx.Commit()
	if nBulk != nOne {
		t.Errorf("InsertAll added %d facts, Insert %d", nBulk, nOne)
	}
	sb, so := bulk.Snapshot(), one.Snapshot()
	if diff := cmp.Diff(snapshotStrings(so), snapshotStrings(sb), cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("facts differ (-one by one +InsertAll):\n%s", diff)
	}
	seen := map[string]bool{}
	for _, f := range facts {
		for i, a := range f.Args {
			args := make([]term.Value, len(f.Args))
			args[i] = a
			k := fmt.Sprint(f.Predicate, len(args), i, a)
			if seen[k] {
				continue
			}
			seen[k] = true
			if b, o := matchCount(sb, f.Predicate, args), matchCount(so, f.Predicate, args); b != o {
				t.Errorf("Match(%s, %v): %d after InsertAll, %d one by one", f.Predicate, args, b, o)
			}
		}
	}
	if diff := cmp.Diff(one.Changes(0, 0), bulk.Changes(0, 0), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("change logs differ (-one by one +InsertAll):\n%s", diff)
	}
}
