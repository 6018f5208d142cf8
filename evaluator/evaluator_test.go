package evaluator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/castellan-authz/castellan/lang/term"
)

// facts parses facts in the scenario syntax, one per line.
func facts(tb testing.TB, lines ...string) []term.Fact {
	tb.Helper()
	var out []term.Fact
	for i, l := range lines {
		out = append(out, parseFact(tb, "inline", i+1, strings.Fields(l)))
	}
	return out
}

// holds reports whether the ground goal "pred Arg..." holds.
func holds(tb testing.TB, e *Evaluator, src Source, goal string) bool {
	tb.Helper()
	f := strings.Fields(goal)
	q := Query{Predicate: Call{Name: f[0]}, Constraints: map[string]Constraint{}}
	for i, a := range f[1:] {
		v := parseValue(a)
		name := fmt.Sprintf("v%d", i)
		q.Predicate.Args = append(q.Predicate.Args, name)
		q.Constraints[name] = Constraint{Type: v.Type, IDs: []string{v.ID}}
	}
	rows, err := e.Query(tb.Context(), Request{Source: src}, q)
	if err != nil {
		tb.Fatalf("%s: %v", goal, err)
	}
	return len(rows) > 0
}

func TestConstructs(t *testing.T) {
	tests := []struct {
		name   string
		policy string
		facts  []string
		yes    []string // goals that hold
		no     []string // goals that do not
	}{{
		name:   "deny by default",
		policy: `actor User {} resource Doc { permissions = ["read"]; }`,
		no:     []string{"allow User:a read Doc:d"},
	}, {
		name: "rules with one head are or-ed; facts and rules both contribute",
		policy: `p(x: User) if q(x);
		         p(x: User) if r(x);`,
		facts: []string{"q User:a", "r User:b", "p User:c"},
		yes:   []string{"p User:a", "p User:b", "p User:c"},
		no:    []string{"p User:d"},
	}, {
		name:   "unification compares type and id",
		policy: `p(x) if q(x);`,
		facts:  []string{"q User:a"},
		yes:    []string{"p User:a"},
		no:     []string{"p Organization:a", `p "a"`},
	}, {
		name:   "same variable twice in a head",
		policy: `same(x, x);`,
		yes:    []string{"same User:a User:a"},
		no:     []string{"same User:a User:b", "same User:a Organization:a"},
	}, {
		name:   "literal in a head",
		policy: `p(User{"root"}, "all");`,
		yes:    []string{"p User:root all"},
		no:     []string{"p User:other all", "p User:root some"},
	}, {
		name: "and, or, not",
		policy: `p(x: User) if (a(x) or b(x)) and not banned(x);
		         q(x: User) if a(x) and not (b(x) and c(x));
		         r(x: User) if a(x) and not flagged(x, _);
		         s(x: User) if not banned(x) and a(x);`,
		facts: []string{"a User:1", "b User:2", "a User:3", "banned User:3", "a User:4", "b User:4", "c User:4", "a User:5", "b User:5",
			"flagged User:5 spam"},
		yes: []string{"p User:1", "p User:2", "q User:1", "q User:5", "r User:1", "s User:1"},
		no:  []string{"p User:3", "q User:4", "q User:2", "r User:5", "s User:3", "s User:2"},
	}, {
		name: "comparisons",
		policy: `lt(x: Integer, y: Integer) if x < y;
		         le(x: String, y: String) if x <= y;
		         ne(x, y) if x != y;
		         eq(x, y) if x == y;
		         old(u: User) if age(u, a) and a >= 18;`,
		facts: []string{"age User:kid Integer:9", "age User:adult Integer:18", "age User:odd twenty"},
		yes:   []string{"lt Integer:2 Integer:10", "le abc abd", "le abc abc", "ne Integer:1 1", "eq User:a User:a", "old User:adult"},
		no:    []string{"lt Integer:10 Integer:2", "le abd abc", "ne User:a User:a", "eq Integer:1 1", "old User:kid", "old User:odd"},
	}, {
		name: "ordering of mismatched types is false",
		policy: `lt(x, y) if x < y;
		         ge(x, y) if x >= y;`,
		no: []string{"lt Integer:1 2", `lt User:a User:b`, "ge Integer:1 1", "ge Boolean:true Boolean:false"},
	}, {
		name: "in enumerates and filters",
		policy: `ok(x: String) if x in ["a", "b"];
		         picked(x: User) if role in ["r1", "r2"] and has(x, role);
		         pair(x, y) if [x, y] = [1, 2];
		         listed(x: String) if l = ["p", "q"] and x in l;`,
		facts: []string{"has User:u r2", "has User:v r3"},
		yes:   []string{"ok a", "ok b", "picked User:u", "pair Integer:1 Integer:2", "listed q"},
		no:    []string{"ok c", "picked User:v", "pair Integer:2 Integer:1", "listed r"},
	}, {
		name: "matches is a type constraint wherever it appears",
		policy: `resource Organization {}
		         before(x, y) if y matches Organization and rel(x, y);
		         after(x, y) if rel(x, y) and y matches Organization;
		         any_(x) if rel(x, y) and y matches Resource;`,
		facts: []string{"rel User:a Organization:o", "rel User:b Team:t", "rel User:c Repo:r"},
		yes:   []string{"before User:a Organization:o", "after User:a Organization:o", "any_ User:a"},
		no:    []string{"before User:b Team:t", "after User:b Team:t", "any_ User:b", "any_ User:c"},
	}, {
		name: "typed heads, abstract types and extends",
		policy: `actor User {}
		         actor Bot {}
		         resource Organization {}
		         resource Base {}
		         resource Repo extends Base {}
		         who(a: Actor) if seen(a);
		         what(r: Resource) if seen(r);
		         base(b: Base) if seen(b);
		         user(u: User) if seen(u);`,
		facts: []string{"seen User:u", "seen Bot:b", "seen Organization:o", "seen Repo:r", "seen Team:t"},
		yes:   []string{"who User:u", "who Bot:b", "what Organization:o", "what Repo:r", "base Repo:r", "user User:u"},
		no:    []string{"who Organization:o", "what Team:t", "base Organization:o", "user Bot:b", "user Organization:o"},
	}, {
		name: "global roles are 2-ary",
		policy: `actor User {}
		         global { roles = ["admin"]; permissions = ["create"]; "create" if "admin"; }
		         resource Doc { permissions = ["read"]; "read" if global "admin"; }`,
		facts: []string{"has_role User:root admin"},
		yes:   []string{"has_permission User:root create", "allow User:root read Doc:any"},
		no:    []string{"has_permission User:x create", "allow User:x read Doc:any"},
	}, {
		name:   "a head variable the body leaves unbound is a wildcard",
		policy: `p(u: User, r: Repo) if vip(u);`,
		facts:  []string{"vip User:v"},
		yes:    []string{"p User:v Repo:any", "p User:v Repo:other"},
		no:     []string{"p User:v Org:x", "p User:w Repo:any"},
	}, {
		name:   "recursion terminates on cyclic data",
		policy: `reach(x, y) if edge(x, y); reach(x, z) if edge(x, y) and reach(y, z);`,
		facts:  []string{"edge N:a N:b", "edge N:b N:c", "edge N:c N:a", "edge N:c N:d"},
		yes:    []string{"reach N:a N:a", "reach N:b N:d", "reach N:c N:b"},
		no:     []string{"reach N:d N:a", "reach N:a N:e"},
	}, {
		name: "left recursion and mutual recursion",
		policy: `reach(x, z) if reach(x, y) and edge(y, z);
		         reach(x, y) if edge(x, y);
		         even(x) if zero(x);
		         even(x) if next(y, x) and odd(y);
		         odd(x) if next(y, x) and even(y);`,
		facts: []string{"edge N:a N:b", "edge N:b N:a", "edge N:b N:c", "zero N:0", "next N:0 N:1", "next N:1 N:2", "next N:2 N:3"},
		yes:   []string{"reach N:a N:c", "reach N:a N:a", "even N:2", "odd N:3", "odd N:1"},
		no:    []string{"reach N:c N:a", "even N:3", "odd N:2"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := New(mustCompile(t, tc.policy))
			src := &sliceSource{facts: facts(t, tc.facts...)}
			for _, g := range tc.yes {
				if !holds(t, e, src, g) {
					t.Errorf("%s: does not hold, want it to", g)
				}
			}
			for _, g := range tc.no {
				if holds(t, e, src, g) {
					t.Errorf("%s: holds, want it not to", g)
				}
			}
		})
	}
}

func TestCurrentUnixTime(t *testing.T) {
	e := New(mustCompile(t, `fresh(x) if made(x, t) and @current_unix_time < t;`), WithClock(func() time.Time { return time.Unix(100, 0) }))
	src := &sliceSource{facts: facts(t, "made Doc:new Integer:101", "made Doc:old Integer:100")}
	if !holds(t, e, src, "fresh Doc:new") || holds(t, e, src, "fresh Doc:old") {
		t.Error("@current_unix_time is not the injected clock")
	}
}

func TestLimits(t *testing.T) {
	policy := `reach(x, z) if edge(x, y) and reach(y, z);
	           reach(x, y) if edge(x, y);`
	var chain []term.Fact
	for i := range 200 {
		chain = append(chain, term.Fact{Predicate: "edge", Args: []term.Value{term.Entity("N", fmt.Sprint(i)), term.Entity("N", fmt.Sprint(i+1))}})
	}
	src := &sliceSource{facts: chain}
	goal := Query{Predicate: Call{Name: "reach", Args: []string{"a", "b"}}, Constraints: map[string]Constraint{
		"a": {Type: "N", IDs: []string{"0"}}, "b": {Type: "N", IDs: []string{"200"}},
	}}
	tests := []struct {
		name    string
		opts    []Option
		ctx     func() context.Context
		src     func(cancel func()) Source
		wantErr error
		rows    int
	}{
		{name: "within limits", rows: 1},
		// A chain longer than MaxDepth is answered from one table (see
		// TestDeepChainAgrees); TestDepthLimit nests past it.
		{name: "chain past depth", opts: []Option{WithLimits(Limits{MaxDepth: 50})}, rows: 1},
		{name: "work", opts: []Option{WithLimits(Limits{MaxWork: 500})}, wantErr: ErrWorkExceeded},
		{name: "cancelled", ctx: func() context.Context {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			return ctx
		}, wantErr: context.Canceled},
		{name: "cancelled while running", src: func(cancel func()) Source {
			return &cancelSource{Source: src, after: 50, cancel: cancel}
		}, wantErr: context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := New(mustCompile(t, policy), tc.opts...)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tc.ctx != nil {
				ctx = tc.ctx()
			}
			var s Source = src
			if tc.src != nil {
				s = tc.src(cancel)
			}
			rows, err := e.Query(ctx, Request{Source: s}, goal)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && len(rows) != tc.rows {
				t.Errorf("got %d rows, want %d", len(rows), tc.rows)
			}
		})
	}
}

// TestDepthLimit nests more rule calls than MaxDepth allows through
// distinct predicates, which no table can share: every entry point fails
// with the same error.
func TestDepthLimit(t *testing.T) {
	var policy strings.Builder
	policy.WriteString("actor User {}\nresource Doc {}\nallow(u: User, \"read\", d: Doc) if d0(u, d);\n")
	for i := range 60 {
		fmt.Fprintf(&policy, "d%d(u, d) if d%d(u, d);\n", i, i+1)
	}
	policy.WriteString("d60(u, d) if owns(u, d);\n")
	e := New(mustCompile(t, policy.String()), WithLimits(Limits{MaxDepth: 50}))
	u, doc := term.Entity("User", "u"), term.Entity("Doc", "d")
	req := Request{Source: &sliceSource{facts: []term.Fact{{Predicate: "owns", Args: []term.Value{u, doc}}}}}
	ctx := t.Context()
	_, authErr := e.Authorize(ctx, req, u, "read", doc)
	_, eachErr := e.AuthorizeEach(ctx, req, u, "read", []term.Value{doc})
	_, actionsErr := e.Actions(ctx, req, u, doc)
	_, listErr := e.List(ctx, req, u, "read", "Doc", Page{})
	_, queryErr := e.Query(ctx, req, Query{Predicate: Call{Name: "allow", Args: []string{"u", "a", "d"}},
		Constraints: map[string]Constraint{"u": {Type: "User", IDs: []string{"u"}}, "a": {Type: term.TypeString}, "d": {Type: "Doc"}}})
	for name, err := range map[string]error{"Authorize": authErr, "AuthorizeEach": eachErr, "Actions": actionsErr, "List": listErr, "Query": queryErr} {
		if !errors.Is(err, ErrDepthExceeded) || err.Error() != authErr.Error() {
			t.Errorf("%s: err = %v, want %v", name, err, authErr)
		}
	}
}

// cancelSource cancels a context after a number of Match calls, so that a
// test can cancel a query deterministically while it runs.
type cancelSource struct {
	Source
	after  int
	cancel func()
}

func (c *cancelSource) Match(pred string, args []term.Value, yield func([]term.Value) bool) {
	if c.after--; c.after == 0 {
		c.cancel()
	}
	c.Source.Match(pred, args, yield)
}

// TestWildcardsUnderNegation pins the conservative cases: a wildcard the
// rule returns is never extended to "every value but these".
func TestWildcardsUnderNegation(t *testing.T) {
	e := New(mustCompile(t, `resource N {}
		same(a, a);
		p(x: N) if same(x, z) and not r(z);
		some(x: N) if any_(x, z) and not r(z);
		any_(x: N, _z: N) if seed(x);`))
	src := &sliceSource{facts: facts(t, "r N:n1", "seed N:s")}
	for goal, want := range map[string]bool{
		"p N:n1": false, "p N:n2": true, // ground: exact
		"some N:s": true, // z is existential: some N is not r
		"some N:t": false,
	} {
		if got := holds(t, e, src, goal); got != want {
			t.Errorf("%s = %v, want %v", goal, got, want)
		}
	}
	rows, err := e.Query(t.Context(), Request{Source: src}, Query{
		Predicate: Call{Name: "p", Args: []string{"x"}}, Constraints: map[string]Constraint{"x": {Type: "N"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 0 {
		t.Errorf("p(x) free = %s; want no rows (every N but n1 cannot be written as a row)", renderRows(rows))
	}
}
