package store

import (
	"testing"
	"time"

	"github.com/castellan-authz/castellan/lang/term"
)

// TestPrepareSharesOnlyWhatIsCanonical: Prepare normalizes what needs it
// without changing the caller's batch, and keeps (shares) the arguments of
// a fact that is canonical already; PrepareBatch also an op's slice of
// facts that are all canonical.
func TestPrepareSharesOnlyWhatIsCanonical(t *testing.T) {
	canon := term.Fact{Predicate: "p", Args: []term.Value{term.Entity("User", "a"), term.Integer(7)}}
	odd := term.Fact{Predicate: "p", Args: []term.Value{term.Entity("User", "a"), {Type: term.TypeInteger, ID: "007"}}}
	at := time.Date(2030, 1, 1, 0, 0, 0, 123456789, time.FixedZone("x", 3600))
	windowed := term.Fact{Predicate: "p", Args: []term.Value{term.Entity("User", "b")}, Valid: term.Window{From: at}}

	all := []term.Fact{canon, canon}
	p, err := PrepareBatch([]Op{{Insert: all}})
	if err != nil {
		t.Fatal(err)
	}
	if &p.Ops()[0].Insert[0] != &all[0] {
		t.Error("PrepareBatch copied an op of canonical facts")
	}
	out, err := Prepare([]Op{{Insert: all}})
	if err != nil {
		t.Fatal(err)
	}
	if &out[0].Insert[0] == &all[0] {
		t.Error("Prepare shared an op's Insert slice (a store may reorder it)")
	}
	if &out[0].Insert[0].Args[0] != &all[0].Args[0] {
		t.Error("Prepare copied a canonical fact's arguments")
	}

	mixed := []term.Fact{canon, odd, windowed}
	out, err = Prepare([]Op{{Insert: mixed}})
	if err != nil {
		t.Fatal(err)
	}
	ins := out[0].Insert
	if &ins[0] == &mixed[0] {
		t.Fatal("an op with a fact to normalize was not copied")
	}
	if &ins[0].Args[0] != &canon.Args[0] {
		t.Error("a canonical fact's arguments were copied")
	}
	if got := ins[1].Args[1]; got != term.Integer(7) {
		t.Errorf("Integer 007 prepared as %v", got)
	}
	if mixed[1].Args[1].ID != "007" {
		t.Errorf("the caller's fact was changed: %v", mixed[1])
	}
	if got := ins[2].Valid.From; !got.Equal(at.Truncate(time.Microsecond)) || got.Location() != time.UTC {
		t.Errorf("window prepared as %v", got)
	}
	if mixed[2].Valid.From != at {
		t.Errorf("the caller's window was changed: %v", mixed[2].Valid.From)
	}

	for _, bad := range []term.Fact{
		{Predicate: "p", Args: []term.Value{{Type: "User", ID: "a\x00b"}}},
		{Predicate: "p", Args: []term.Value{{Type: "User", ID: "\xff"}}},
		{Predicate: "p", Args: []term.Value{{Type: term.TypeInteger, ID: "x"}}},
		{Predicate: "p", Args: []term.Value{{Type: "User"}}},
	} {
		if _, err := Prepare([]Op{{Insert: []term.Fact{canon, bad}}}); err == nil {
			t.Errorf("Prepare accepted %#v", bad)
		} else if fe, ok := err.(*InvalidFactError); !ok || fe.Index != 1 {
			t.Errorf("Prepare(%#v): %v, want an InvalidFactError at 1", bad, err)
		}
	}
}
