package evaluator

import (
	"slices"
	"testing"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/google/go-cmp/cmp"
)

func TestLayer(t *testing.T) {
	base := &sliceSource{facts: facts(t, "p User:a x", "p User:b x", "q User:a")}
	ctx := facts(t, "p User:b x", "p User:c x", "p User:c x", "p User:d y", "r User:z")
	l := Layer(base, ctx)
	tests := []struct {
		name    string
		pred    string
		pattern []term.Value
		want    []string
	}{
		{name: "both layers, each fact once", pred: "p", pattern: []term.Value{{}, term.String("x")},
			want: []string{`p(User{"a"}, "x")`, `p(User{"b"}, "x")`, `p(User{"c"}, "x")`}},
		{name: "context only", pred: "r", pattern: []term.Value{{}}, want: []string{`r(User{"z"})`}},
		{name: "base only", pred: "q", pattern: []term.Value{{}}, want: []string{`q(User{"a"})`}},
		{name: "ground", pred: "p", pattern: []term.Value{term.Entity("User", "d"), term.String("y")}, want: []string{`p(User{"d"}, "y")`}},
		{name: "arity must match", pred: "p", pattern: []term.Value{{}}, want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			l.Match(tc.pred, tc.pattern, func(a []term.Value) bool {
				got = append(got, term.Fact{Predicate: tc.pred, Args: a}.String())
				return true
			})
			slices.Sort(got)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Match (-want +got):\n%s", diff)
			}
		})
	}
	c := l.(contextual)
	if !c.fromContext("p", []term.Value{term.Entity("User", "c"), term.String("x")}) || c.fromContext("p", []term.Value{term.Entity("User", "a"), term.String("x")}) {
		t.Error("fromContext does not tell context facts from stored ones")
	}
	if Layer(base, nil) != Source(base) {
		t.Error("Layer without context facts should return the base source")
	}
}

// TestLayerIDs checks a Layer over an IDSource (a memory store's
// snapshot): it is one itself, its facts match on ids as Match does, the
// values only the context facts hold get request-local ids that the store
// never sees, and a value of both layers matches under either id.
func TestLayerIDs(t *testing.T) {
	base := loadMemory(t, facts(t, "p User:a x", "p User:b x", "q User:a"))
	ctx := facts(t, "p User:b x", "p User:c x", "p User:c x", "p User:d y", "r User:z")
	l, ok := Layer(base, ctx).(IDSource)
	if !ok {
		t.Fatal("a Layer over an IDSource is not an IDSource")
	}
	baseIDs := base.(IDSource)
	match := func(pred string, ids []uint32) []string {
		var got []string
		rel := l.Relation(pred, len(ids))
		if rel < 0 {
			return nil
		}
		l.MatchIDs(rel, ids, func(a []uint32) bool {
			f := term.Fact{Predicate: pred}
			for _, id := range a {
				f.Args = append(f.Args, l.Value(id))
			}
			got = append(got, f.String())
			return true
		})
		slices.Sort(got)
		return got
	}
	id := func(v term.Value) uint32 {
		id, ok := l.Lookup(v)
		if !ok {
			t.Fatalf("Lookup(%v) failed", v)
		}
		return id
	}
	x := id(term.String("x"))
	tests := []struct {
		name string
		pred string
		ids  []uint32
		want []string
	}{
		{name: "both layers, each fact once", pred: "p", ids: []uint32{0, x},
			want: []string{`p(User{"a"}, "x")`, `p(User{"b"}, "x")`, `p(User{"c"}, "x")`}},
		{name: "context only", pred: "r", ids: []uint32{0}, want: []string{`r(User{"z"})`}},
		{name: "base only", pred: "q", ids: []uint32{0}, want: []string{`q(User{"a"})`}},
		{name: "ground, a value only the context has", pred: "p", ids: []uint32{id(term.Entity("User", "d")), id(term.String("y"))},
			want: []string{`p(User{"d"}, "y")`}},
		{name: "a value of both layers, its local id", pred: "p", ids: []uint32{id(term.Entity("User", "b")), 0},
			want: []string{`p(User{"b"}, "x")`}},
		{name: "a value of the base only", pred: "p", ids: []uint32{id(term.Entity("User", "a")), 0},
			want: []string{`p(User{"a"}, "x")`}},
		{name: "arity must match", pred: "p", ids: []uint32{0}, want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, match(tc.pred, tc.ids)); diff != "" {
				t.Errorf("MatchIDs (-want +got):\n%s", diff)
			}
		})
	}
	// A value of both layers also matches under the base's id.
	bid, ok := baseIDs.Lookup(term.Entity("User", "b"))
	if !ok {
		t.Fatal("the store has no id for User:b")
	}
	if diff := cmp.Diff([]string{`p(User{"b"}, "x")`}, match("p", []uint32{bid, 0})); diff != "" {
		t.Errorf("MatchIDs under the base's id (-want +got):\n%s", diff)
	}
	// The context's own values never reach the store.
	for _, v := range []term.Value{term.Entity("User", "c"), term.Entity("User", "z"), term.String("y")} {
		if _, ok := baseIDs.Lookup(v); ok {
			t.Errorf("the store has an id for %v, a value only the context holds", v)
		}
	}
	if _, ok := l.Lookup(term.Entity("User", "nobody")); ok {
		t.Error("Lookup of a value no fact holds succeeded")
	}
	// A layer over a layer matches on values (its local ids would clash).
	if _, ok := Layer(l, facts(t, "r User:y")).(IDSource); ok {
		t.Error("a Layer over a Layer is an IDSource")
	}
}
