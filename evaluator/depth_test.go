package evaluator

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/castellan-authz/castellan/evaluator/evaltest"
	"github.com/castellan-authz/castellan/lang"
	"github.com/castellan-authz/castellan/lang/term"
)

// TestDeepChainAgrees is the regression test of a parent chain deeper
// than MaxDepth: List used to walk it from the actor in one table and
// list the deepest folder, while Authorize, Actions and Query nested one
// table per link and failed with ErrDepthExceeded. Every entry point must
// give the same answer.
func TestDeepChainAgrees(t *testing.T) {
	tests := []struct {
		name  string
		depth int // 0: the default
		n     int
	}{
		{name: "lowered limit", depth: 64, n: 1000},
		{name: "default limit", n: 5000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := New(mustCompile(t, evaltest.FolderPolicy), WithLimits(Limits{MaxDepth: tc.depth}))
			u := term.Entity("User", "u")
			req := Request{Source: loadMemory(t, evaltest.FolderChain(tc.n, u))}
			ctx := t.Context()
			leaf := term.Entity("Folder", fmt.Sprint(tc.n))
			mid := term.Entity("Folder", fmt.Sprint(tc.n/2))
			root := term.Entity("Folder", "0")
			if got := deepAnswers(ctx, e, req, u, leaf); got != "allowed" {
				t.Errorf("Authorize(leaf) = %s", got)
			}
			each, err := e.AuthorizeEach(ctx, req, u, "read", []term.Value{leaf, mid, root})
			if err != nil || !slices.Equal(each, []bool{true, true, true}) {
				t.Errorf("AuthorizeEach = %v, %v", each, err)
			}
			acts, err := e.Actions(ctx, req, u, leaf)
			if err != nil || !slices.Equal(acts, []string{"read"}) {
				t.Errorf("Actions(leaf) = %v, %v", acts, err)
			}
			lr, err := e.List(ctx, req, u, "read", "Folder", Page{})
			if err != nil || len(lr.IDs) != tc.n+1 || !slices.Contains(lr.IDs, leaf.ID) {
				t.Errorf("List = %d ids, %v", len(lr.IDs), err)
			}
			rows, err := e.Query(ctx, req, Query{
				Predicate: Call{Name: "allow", Args: []string{"u", "a", "f"}},
				Constraints: map[string]Constraint{
					"u": {Type: "User", IDs: []string{"u"}},
					"a": {Type: term.TypeString, IDs: []string{"read"}},
					"f": {Type: "Folder", IDs: []string{leaf.ID}},
				}})
			if err != nil || len(rows) != 1 {
				t.Errorf("Query(allow(u, read, leaf)) = %d rows, %v", len(rows), err)
			}
			// A user with no role is denied everywhere, as deep.
			other := term.Entity("User", "other")
			if got := deepAnswers(ctx, e, req, other, leaf); got != "denied" {
				t.Errorf("Authorize(other, leaf) = %s", got)
			}
		})
	}
}

func deepAnswers(ctx context.Context, e *Evaluator, req Request, u, res term.Value) string {
	d, err := e.Authorize(ctx, req, u, "read", res)
	switch {
	case err != nil:
		return err.Error()
	case d.Allowed:
		return "allowed"
	}
	return "denied"
}

// TestDeepChainConservativeNegation covers a deep chain the abstraction
// cannot answer: an admin reads every folder that is not hidden, and in
// the abstracted subgoal (any folder) that negation is over a wildcard,
// where it is conservative (see the package comment), so the ground goal
// fails with ErrDepthExceeded; Authorize then answers from the goal List
// asks, and the two agree.
func TestDeepChainConservativeNegation(t *testing.T) {
	e := New(mustCompile(t, evaltest.FolderPolicy+`
		has_role(u: User, "viewer", f: Folder) if is_admin(u) and not hidden(f);`),
		WithLimits(Limits{MaxDepth: 16}))
	u := term.Entity("User", "u")
	fs := evaltest.FolderChain(100, u)
	for i := 1; i <= 100; i++ {
		fs = append(fs, term.Fact{Predicate: "hidden", Args: []term.Value{term.Entity("Folder", fmt.Sprint(i))}})
	}
	fs = append(fs, term.Fact{Predicate: "is_admin", Args: []term.Value{u}})
	req := Request{Source: &sliceSource{facts: fs}}
	lr, err := e.List(t.Context(), req, u, "read", "Folder", Page{})
	if err != nil || len(lr.IDs) != 101 {
		t.Fatalf("List = %d ids, %v", len(lr.IDs), err)
	}
	for _, id := range []string{"100", "3", "0"} {
		if got := deepAnswers(t.Context(), e, req, u, term.Entity("Folder", id)); got != "allowed" {
			t.Errorf("Authorize(Folder %s) = %s, List includes it", id, got)
		}
	}
}

// withoutNegation matches the negations and comparisons randomPolicy adds.
var withoutNegation = regexp.MustCompile(` and (not [a-z0-9]+\([^)]*\)|[xyz] != [xyz])`)

// TestRandomProgramsTightDepth is a property test over random recursive
// programs, with a chain in the facts and a MaxDepth that ground goals
// nest past: no entry point allows what the naive oracle denies, and on
// programs without negation every entry point (Authorize, List, Actions,
// Query) answers, with the oracle's answer. With a negation over a
// wildcard (conservative, see the package comment) a deep query may fail
// with ErrDepthExceeded instead; never with another error.
func TestRandomProgramsTightDepth(t *testing.T) {
	const n = 12 // nodes; the goals ask about a sample of them
	node := func(i int) term.Value { return term.Entity("N", fmt.Sprintf("n%d", i)) }
	var all, domain []term.Value
	for i := range n {
		all = append(all, node(i))
	}
	for _, i := range []int{0, 1, n / 2, n - 2, n - 1} {
		domain = append(domain, node(i))
	}
	oracleDomain := append(all, term.Entity("N", "fresh"), term.String("go"), term.String("run"))
	acts := []string{"go", "run"}
	exact, checked, limited := 0, 0, 0
	for seed := range uint64(40) {
		r := rand.New(rand.NewPCG(seed, 4321))
		src := randomPolicy(r)
		if seed%2 == 0 { // half without negation, where every answer is exact
			src = withoutNegation.ReplaceAllString(src, "")
		}
		src += "allow(x, \"go\", y) if p0(x, y);\nallow(x, \"run\", y) if p1(x, y);\n"
		prog, err := lang.Compile(lang.File{Filename: "random.polar", Src: []byte(src)})
		if err != nil {
			continue
		}
		var fs []term.Fact
		for i := range n - 1 { // a chain n0 -> n1 -> ..., so that ground goals nest
			if r.IntN(6) > 0 {
				fs = append(fs, term.Fact{Predicate: "e", Args: []term.Value{node(i), node(i + 1)}})
			}
		}
		fs = randomFacts(r, fs, n, 4)
		orc := newOracle(prog, fs, oracleDomain)
		if orc == nil {
			continue
		}
		negated := strings.Contains(src, "not ") || strings.Contains(src, "!=")
		if !negated {
			exact++
		}
		depth := 6 + r.IntN(8)
		e := New(prog, WithLimits(Limits{MaxDepth: depth}))
		req := Request{Source: &sliceSource{facts: fs}}
		ctx := t.Context()
		fail := func(format string, args ...any) {
			t.Helper()
			t.Errorf("seed %d, MaxDepth %d: %s\npolicy:\n%s\nfacts: %v", seed, depth, fmt.Sprintf(format, args...), src, fs)
		}
		for _, a := range domain {
			actions := make([][]string, len(domain))
			actionsErr := make([]error, len(domain))
			for j, b := range domain {
				actions[j], actionsErr[j] = e.Actions(ctx, req, a, b)
			}
			for _, act := range acts {
				list, listErr := e.List(ctx, req, a, act, "N", Page{})
				rows, queryErr := e.Query(ctx, req, Query{
					Predicate: Call{Name: "allow", Args: []string{"a", "act", "b"}},
					Constraints: map[string]Constraint{
						"a":   {Type: "N", IDs: []string{a.ID}},
						"act": {Type: term.TypeString, IDs: []string{act}},
						"b":   {Type: "N"},
					}})
				for j, b := range domain {
					d, authErr := e.Authorize(ctx, req, a, act, b)
					want := orc.holds("allow", []term.Value{a, term.String(act), b})
					checked++
					answers := []struct {
						name    string
						allowed bool
						err     error
					}{
						{"Authorize", d.Allowed, authErr},
						{"List", list.Wildcard || slices.Contains(list.IDs, b.ID), listErr},
						{"Actions", slices.Contains(actions[j], act), actionsErr[j]},
						{"Query", slices.ContainsFunc(rows, func(r Row) bool { return r["b"] == nil || *r["b"] == b.ID }), queryErr},
					}
					for _, got := range answers[1:] {
						switch {
						case got.err != nil && !errors.Is(got.err, ErrDepthExceeded):
							fail("%s(%v, %s, %v): %v", got.name, a, act, b, got.err)
						case authErr != nil && (got.err == nil || got.err.Error() != authErr.Error()):
							fail("%s(%v, %s, %v) = %v, %v; Authorize fails: %v", got.name, a, act, b, got.allowed, got.err, authErr)
						case got.err == nil && authErr == nil && got.allowed != d.Allowed:
							fail("%s(%v, %s, %v) = %v, Authorize %v", got.name, a, act, b, got.allowed, d.Allowed)
						}
					}
					switch {
					case authErr != nil && !errors.Is(authErr, ErrDepthExceeded):
						fail("Authorize(%v, %s, %v): %v", a, act, b, authErr)
					case authErr == nil && d.Allowed && !want:
						fail("Authorize(%v, %s, %v) allows, the oracle does not", a, act, b)
					case authErr == nil && !negated && d.Allowed != want:
						fail("Authorize(%v, %s, %v) = %v, the oracle %v", a, act, b, d.Allowed, want)
					case authErr != nil:
						limited++
					}
				}
			}
		}
	}
	if exact < 3 {
		t.Errorf("only %d programs without negation", exact)
	}
	t.Logf("%d checks, %d programs without negation, %d limit errors", checked, exact, limited)
}
