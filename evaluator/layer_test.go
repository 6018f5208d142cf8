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
