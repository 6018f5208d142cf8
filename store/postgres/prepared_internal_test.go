package postgres

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/pgtest"
)

// TestWritePrepared writes a bulk batch prepared by the store's own
// PrepareBatch (keys computed and sorted before the write, as an import
// does on its reading goroutine): the caller's facts are left as they
// were, a fact told twice in the batch is stored once with the window told
// last, a fact stored already is not stored again, the same prepared batch
// written again changes nothing, and PrepareBatch refuses a fact the
// validator refuses as store.PrepareBatch does.
func TestWritePrepared(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, pgtest.NewDatabase(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	role := func(i int) term.Fact {
		return term.Fact{Predicate: "has_role", Args: []term.Value{term.Entity("User", fmt.Sprint("u", i)), term.String("reader"), term.Entity("Repo", fmt.Sprint("r", i))}}
	}
	if _, err := s.Write(ctx, []store.Op{{Insert: []term.Fact{role(5)}}}); err != nil {
		t.Fatal(err)
	}
	var facts []term.Fact
	for i := range copyThreshold + 100 {
		facts = append(facts, role(i))
	}
	until := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	again := role(0)
	again.Valid = term.Window{Until: until}
	facts = append(facts, again)
	before := slices.Clone(facts)

	p, err := s.PrepareBatch([]store.Op{{Insert: facts}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Extra().([][]keyedFact); !ok {
		t.Fatalf("PrepareBatch did not key the batch: %T", p.Extra())
	}
	count := func() (n int) {
		if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM facts").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for range 2 { // the second write of the same batch changes nothing
		if _, err := s.WritePrepared(ctx, p); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != copyThreshold+100 {
			t.Errorf("%d facts stored, want %d", n, copyThreshold+100)
		}
	}
	if !slices.EqualFunc(facts, before, func(a, b term.Fact) bool { return a.String() == b.String() && a.Valid == b.Valid }) {
		t.Error("WritePrepared changed the caller's facts")
	}
	var stored time.Time
	if err := s.pool.QueryRow(ctx, "SELECT valid_until FROM facts WHERE fact_key = $1", factKey(again.Predicate, again.Args)).Scan(&stored); err != nil || !stored.Equal(until) {
		t.Errorf("role 0 stored until %v (%v), want %v (told last)", stored, err, until)
	}
	if n := s.Index().Stats().Facts; n != copyThreshold+100 {
		t.Errorf("the index holds %d facts, want %d", n, copyThreshold+100)
	}

	refuse := errors.New("refused")
	_, err = s.PrepareBatch([]store.Op{{Insert: facts}}, store.WithValidator(func(f term.Fact) error {
		if f.Args[0].ID == "u3" {
			return refuse
		}
		return nil
	}))
	if fe, ok := errors.AsType[*store.InvalidFactError](err); !ok || fe.Index != 3 || !errors.Is(err, refuse) {
		t.Errorf("PrepareBatch with a refusing validator: %v, want an InvalidFactError at index 3", err)
	}
}
