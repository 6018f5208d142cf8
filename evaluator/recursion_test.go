package evaluator

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/castellan-authz/castellan/lang/term"
)

// TestRecursionAgainstClosure checks tabled recursion against transitive
// closure computed directly, on random graphs with cycles, for right-,
// left- and doubly-recursive definitions, asking ground goals and goals
// with a free argument in many orders within one request.
func TestRecursionAgainstClosure(t *testing.T) {
	e := New(mustCompile(t, `
		right(x, y) if edge(x, y);
		right(x, z) if edge(x, y) and right(y, z);
		left(x, y) if edge(x, y);
		left(x, z) if left(x, y) and edge(y, z);
		double(x, y) if edge(x, y);
		double(x, z) if double(x, y) and double(y, z);
		both(x, y) if right(x, y) and left(x, y) and double(x, y);`))
	const n = 7
	node := func(i int) term.Value { return term.Entity("N", fmt.Sprint(i)) }
	for seed := range uint64(40) {
		r := rand.New(rand.NewPCG(seed, 7))
		var edges [n][n]bool
		var fs []term.Fact
		for range r.IntN(12) + 3 {
			a, b := r.IntN(n), r.IntN(n)
			edges[a][b] = true
			fs = append(fs, term.Fact{Predicate: "edge", Args: []term.Value{node(a), node(b)}})
		}
		// closure: reach[a][b] when a path of length >= 1 leads from a to b.
		reach := edges
		for k := range n {
			for i := range n {
				for j := range n {
					if reach[i][k] && reach[k][j] {
						reach[i][j] = true
					}
				}
			}
		}
		src := &sliceSource{facts: fs}
		for _, pred := range []string{"right", "left", "double", "both"} {
			// Ground goals, one request each.
			for i := range n {
				for j := range n {
					rows, err := e.Query(t.Context(), Request{Source: src}, Query{
						Predicate: Call{Name: pred, Args: []string{"a", "b"}},
						Constraints: map[string]Constraint{
							"a": {Type: "N", IDs: []string{fmt.Sprint(i)}},
							"b": {Type: "N", IDs: []string{fmt.Sprint(j)}},
						}})
					if err != nil {
						t.Fatal(err)
					}
					if got := len(rows) > 0; got != reach[i][j] {
						t.Errorf("seed %d: %s(%d, %d) = %v, want %v", seed, pred, i, j, got, reach[i][j])
					}
				}
			}
			// All pairs at once, in one request: ground and free goals
			// share the request's tables.
			rows, err := e.Query(t.Context(), Request{Source: src}, Query{
				Predicate: Call{Name: pred, Args: []string{"a", "b"}},
				Calls:     []Call{{Name: pred, Args: []string{"b", "a"}}},
				Constraints: map[string]Constraint{
					"a": {Type: "N"}, "b": {Type: "N"},
				}})
			if err != nil {
				t.Fatal(err)
			}
			var got, want []string
			for _, row := range rows {
				got = append(got, *row["a"]+">"+*row["b"])
			}
			for i := range n {
				for j := range n {
					if reach[i][j] && reach[j][i] {
						want = append(want, fmt.Sprintf("%d>%d", i, j))
					}
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("seed %d: %s both ways: got %v, want %v", seed, pred, got, want)
			}
		}
	}
}
