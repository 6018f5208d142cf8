package evaluator

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/castellan-authz/castellan/evaluator/evaltest"
	"github.com/castellan-authz/castellan/lang/term"
	"github.com/google/go-cmp/cmp"
)

func TestListPages(t *testing.T) {
	e := New(mustCompile(t, `actor User {} resource Doc { roles = ["viewer"]; permissions = ["read"]; "read" if "viewer"; }`))
	var fs []term.Fact
	var want []string
	for i := range 25 {
		id := fmt.Sprintf("d%02d", i)
		want = append(want, id)
		fs = append(fs, term.Fact{Predicate: "has_role", Args: []term.Value{term.Entity("User", "u"), term.String("viewer"), term.Entity("Doc", id)}})
	}
	req := Request{Source: &sliceSource{facts: fs}}
	for _, size := range []int{1, 7, 10, 25, 100} {
		t.Run(fmt.Sprint("size=", size), func(t *testing.T) {
			var got []string
			page := Page{Size: size}
			for n := 0; ; n++ {
				res, err := e.List(t.Context(), req, term.Entity("User", "u"), "read", "Doc", page)
				if err != nil {
					t.Fatal(err)
				}
				if len(res.IDs) > size {
					t.Fatalf("page of %d ids, want at most %d", len(res.IDs), size)
				}
				got = append(got, res.IDs...)
				if res.NextToken == "" {
					break
				}
				if n > 30 {
					t.Fatal("pagination does not end")
				}
				page.Token = res.NextToken
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ids over all pages (-want +got):\n%s", diff)
			}
		})
	}
	_, err := e.List(t.Context(), req, term.Entity("User", "u"), "read", "Doc", Page{Size: 5, Token: "garbage!"})
	if !errors.Is(err, ErrInvalidPageToken) {
		t.Errorf("bad token: err = %v, want ErrInvalidPageToken", err)
	}
}

// TestListWalksFromTheActor checks that List and Query start from the
// bound actor: with many resources in the store, the facts read stay
// proportional to what the actor can reach.
func TestListWalksFromTheActor(t *testing.T) {
	e := New(mustCompile(t, evaltest.GitHubPolicy))
	all := evaltest.GitHubFacts(7, 200, 2000)
	src := &sliceSource{facts: all}
	alice := term.Entity("User", "alice")
	extra := []term.Fact{
		{Predicate: "has_role", Args: []term.Value{alice, term.String("member"), term.Entity("Organization", evaltest.OrgID(3))}},
		{Predicate: "has_role", Args: []term.Value{alice, term.String("reader"), term.Entity("Repository", evaltest.RepoID(42))}},
	}
	req := Request{Source: src, Context: extra}
	res, err := e.List(t.Context(), req, alice, "read", "Repository", Page{})
	if err != nil {
		t.Fatal(err)
	}
	// o3 holds r3, r203, ..., r1803 (10 repositories), plus r42 and the
	// public r500 and r1500.
	if len(res.IDs) != 13 || !slices.Contains(res.IDs, "r42") || !slices.Contains(res.IDs, "r1803") {
		t.Errorf("List = %v", res.IDs)
	}
	if src.yielded.Load() > 100 {
		t.Errorf("List read %d facts of %d; it should walk from the actor", src.yielded.Load(), len(all))
	}
	src.yielded.Store(0)
	rows, err := e.Query(t.Context(), req, Query{
		Predicate: Call{Name: "allow", Args: []string{"u", "a", "r"}},
		Constraints: map[string]Constraint{
			"u": {Type: "User", IDs: []string{"alice"}},
			"a": {Type: "String", IDs: []string{"push"}},
			"r": {Type: "Repository"},
		},
	})
	if err != nil || len(rows) != 0 {
		t.Errorf("Query push = %v, %v; want no rows", rows, err)
	}
	if src.yielded.Load() > 100 {
		t.Errorf("Query read %d facts of %d; it should walk from the actor", src.yielded.Load(), len(all))
	}
}

func TestQueryRows(t *testing.T) {
	e := New(mustCompile(t, `actor User {}
		resource Base {}
		resource Repo extends Base {}
		global { roles = ["admin"]; }
		resource Doc { permissions = ["read"]; "read" if global "admin"; }
		tagged(r: Resource, t: String) if tag(r, t);`))
	src := &sliceSource{facts: facts(t, "has_role User:root admin", "tag Repo:r1 x", "tag Base:b1 x", "tag Repo:r2 y")}
	str := func(s string) *string { return &s }
	tests := []struct {
		name string
		q    Query
		want []Row
	}{{
		name: "wildcard is nil",
		q: Query{Predicate: Call{Name: "allow", Args: []string{"u", "a", "d"}}, Constraints: map[string]Constraint{
			"u": {Type: "User"}, "a": {Type: "String", IDs: []string{"read"}}, "d": {Type: "Doc"}}},
		want: []Row{{"u": str("root"), "a": str("read"), "d": nil}},
	}, {
		name: "types match exactly",
		q: Query{Predicate: Call{Name: "tagged", Args: []string{"r", "t"}}, Constraints: map[string]Constraint{
			"r": {Type: "Base"}, "t": {Type: "String"}}},
		want: []Row{{"r": str("b1"), "t": str("x")}},
	}, {
		name: "ids constrain and rows are sorted",
		q: Query{Predicate: Call{Name: "tagged", Args: []string{"r", "t"}}, Constraints: map[string]Constraint{
			"r": {Type: "Repo", IDs: []string{"r2", "r1", "r9"}}, "t": {Type: "String"}}},
		want: []Row{{"r": str("r1"), "t": str("x")}, {"r": str("r2"), "t": str("y")}},
	}, {
		name: "an empty type admits every type",
		q: Query{Predicate: Call{Name: "tag", Args: []string{"r", "t"}}, Constraints: map[string]Constraint{
			"r": {}, "t": {Type: "String", IDs: []string{"x"}}}},
		want: []Row{{"r": str("b1"), "t": str("x")}, {"r": str("r1"), "t": str("x")}},
	}, {
		name: "a conjunction shares variables",
		q: Query{Predicate: Call{Name: "tagged", Args: []string{"r", "t"}}, Calls: []Call{{Name: "tag", Args: []string{"r2", "t"}}},
			Constraints: map[string]Constraint{"r": {Type: "Repo"}, "r2": {Type: "Base"}, "t": {Type: "String"}}},
		want: []Row{{"r": str("r1"), "r2": str("b1"), "t": str("x")}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.Query(t.Context(), Request{Source: src}, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
	vrows, err := e.QueryValues(t.Context(), Request{Source: src}, Query{Predicate: Call{Name: "tag", Args: []string{"r", "t"}},
		Constraints: map[string]Constraint{"r": {}, "t": {Type: "String", IDs: []string{"x"}}}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range vrows {
		got = append(got, r["r"].String()+" "+r["t"].String())
	}
	slices.Sort(got)
	if diff := cmp.Diff([]string{`Base{"b1"} "x"`, `Repo{"r1"} "x"`}, got); diff != "" {
		t.Errorf("QueryValues (-want +got):\n%s", diff)
	}
	_, err = e.Query(t.Context(), Request{Source: src}, Query{Predicate: Call{Name: "tag", Args: []string{"x"}}})
	if !errors.Is(err, ErrInvalidQuery) {
		t.Errorf("unconstrained variable: err = %v, want ErrInvalidQuery", err)
	}
}

func TestExplain(t *testing.T) {
	e := New(mustCompile(t, `actor User {}
		resource Organization { roles = ["member"]; }
		resource Repository {
		  roles = ["reader"];
		  permissions = ["read", "push"];
		  relations = { organization: Organization };
		  "reader" if "member" on "organization";
		  "read" if "reader";
		}`))
	src := &sliceSource{facts: facts(t, "has_relation Repository:anvil organization Organization:acme")}
	req := Request{Source: src, Context: facts(t, "has_role User:alice member Organization:acme"), Explain: true}
	alice, anvil := term.Entity("User", "alice"), term.Entity("Repository", "anvil")

	d, err := e.Authorize(t.Context(), req, alice, "read", anvil)
	if err != nil || !d.Allowed || d.Explanation == nil {
		t.Fatalf("Authorize = %+v, %v", d, err)
	}
	js := describe(d.Explanation)
	for _, want := range []string{
		`goal allow(User{"alice"}, "read", Repository{"anvil"}) holds`,
		`rule "reader" if "member" on "organization";`,
		`fact has_relation(Repository{"anvil"}, "organization", Organization{"acme"}) stored`,
		`fact has_role(User{"alice"}, "member", Organization{"acme"}) context`,
	} {
		if !strings.Contains(js, want) {
			t.Errorf("explanation lacks %s:\n%s", want, js)
		}
	}

	d, err = e.Authorize(t.Context(), req, alice, "push", anvil)
	if err != nil || d.Allowed || d.Explanation == nil {
		t.Fatalf("Authorize push = %+v, %v", d, err)
	}
	js = describe(d.Explanation)
	if d.Explanation.Holds || !strings.Contains(js, `failed has_permission(User{"alice"}, "push", Repository{"anvil"})`) {
		t.Errorf("denial explanation does not name the failed premise:\n%s", js)
	}

	req.Explain = false
	d, _ = e.Authorize(t.Context(), req, alice, "read", anvil)
	if d.Explanation != nil {
		t.Error("explanation without Explain")
	}
}

func TestActionsDropWildcards(t *testing.T) {
	e := New(mustCompile(t, `actor User {}
		resource Doc { permissions = ["read"]; }
		allow(u: User, _action, _: Doc) if god(u);
		allow(u: User, "read", _: Doc) if reader(u);`))
	src := &sliceSource{facts: facts(t, "god User:g", "god User:r", "reader User:r")}
	got, err := e.Actions(t.Context(), Request{Source: src}, term.Entity("User", "r"), term.Entity("Doc", "d"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"read"}, got); diff != "" {
		t.Errorf("Actions (-want +got):\n%s", diff)
	}
	d, _ := e.Authorize(t.Context(), Request{Source: src}, term.Entity("User", "g"), "anything", term.Entity("Doc", "d"))
	if !d.Allowed {
		t.Error("a wildcard action does not allow every action")
	}
}

// TestListAndActionsAgreeWithAuthorize is a property test: on random
// small fact sets, Authorize agrees with a naive bottom-up oracle,
// AuthorizeEach and List with Authorize over every resource, Actions
// with Authorize over every action, and ActionsEach with Actions.
func TestListAndActionsAgreeWithAuthorize(t *testing.T) {
	e := New(mustCompile(t, evaltest.GitHubPolicy+evaltest.FolderResource))
	actions := []string{"read", "push", "delete", "create_issue", "close", "create_repository"}
	types := map[string]int{"Organization": 3, "Repository": 6, "Issue": 6, "Folder": 5}
	val := func(typ string, i int) term.Value {
		return term.Entity(typ, fmt.Sprintf("%s%d", strings.ToLower(typ[:1]), i))
	}
	allowed, checked := 0, 0
	for seed := range uint64(30) {
		r := rand.New(rand.NewPCG(seed, 99))
		users := []term.Value{term.Entity("User", "a"), term.Entity("User", "b"), term.Entity("User", "c")}
		fs := randomGitHubFacts(r, users, val)
		src := &sliceSource{facts: fs}
		req := Request{Source: src}
		ctx := t.Context()
		var domain []term.Value
		for typ, n := range types {
			for i := range n {
				domain = append(domain, val(typ, i))
			}
		}
		for _, a := range actions {
			domain = append(domain, term.String(a))
		}
		orc := newOracle(e.Program(), fs, append(domain, users...))
		// ActionsEach over every (user, resource) pair in one evaluation
		// answers as Actions one pair at a time.
		var pairs [][2]term.Value
		for _, u := range users {
			for typ, n := range types {
				for i := range n {
					pairs = append(pairs, [2]term.Value{u, val(typ, i)})
				}
			}
		}
		eachActs, err := e.ActionsEach(ctx, req, pairs)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range pairs {
			acts, err := e.Actions(ctx, req, p[0], p[1])
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(acts) != fmt.Sprint(eachActs[i]) {
				t.Errorf("seed %d: %v on %v: Actions %v, ActionsEach %v", seed, p[0], p[1], acts, eachActs[i])
			}
		}
		for _, u := range users {
			for typ, n := range types {
				for _, act := range actions {
					lr, err := e.List(ctx, req, u, act, typ, Page{})
					if err != nil {
						t.Fatal(err)
					}
					var all []term.Value
					for i := range n {
						all = append(all, val(typ, i))
					}
					each, err := e.AuthorizeEach(ctx, req, u, act, all)
					if err != nil {
						t.Fatal(err)
					}
					for i := range n {
						res := val(typ, i)
						d, err := e.Authorize(ctx, req, u, act, res)
						if err != nil {
							t.Fatal(err)
						}
						if each[i] != d.Allowed {
							t.Errorf("seed %d: %v %s %v: Authorize %v, AuthorizeEach %v", seed, u, act, res, d.Allowed, each[i])
						}
						if want := orc.holds("allow", []term.Value{u, term.String(act), res}); d.Allowed != want {
							t.Errorf("seed %d: %v %s %v: Authorize %v, the naive oracle %v\nfacts: %v", seed, u, act, res, d.Allowed, want, fs)
						}
						listed := lr.Wildcard || slices.Contains(lr.IDs, res.ID)
						checked++
						if d.Allowed {
							allowed++
						}
						if d.Allowed != listed {
							t.Errorf("seed %d: %v %s %v: Authorize %v, List %v (wildcard %v)\nfacts: %v", seed, u, act, res, d.Allowed, lr.IDs, lr.Wildcard, fs)
						}
					}
				}
				for i := range n {
					res := val(typ, i)
					acts, err := e.Actions(ctx, req, u, res)
					if err != nil {
						t.Fatal(err)
					}
					for _, act := range actions {
						d, _ := e.Authorize(ctx, req, u, act, res)
						if d.Allowed != slices.Contains(acts, act) {
							t.Errorf("seed %d: %v %s %v: Authorize %v, Actions %v", seed, u, act, res, d.Allowed, acts)
						}
					}
				}
			}
		}
	}
	if allowed == 0 || allowed == checked {
		t.Errorf("%d of %d checks allowed: the generator does not exercise both answers", allowed, checked)
	}
	t.Logf("%d of %d checks allowed", allowed, checked)
}

func TestConcurrentQueries(t *testing.T) {
	e := New(mustCompile(t, evaltest.GitHubPolicy))
	src := &sliceSource{facts: evaltest.GitHubFacts(3, 20, 100)}
	owner := src.facts[0].Args[0] // an owner of o0
	repo := term.Entity("Repository", evaltest.RepoID(20))
	want, err := e.Actions(t.Context(), Request{Source: src}, owner, repo)
	if err != nil || len(want) == 0 {
		t.Fatalf("Actions = %v, %v", want, err)
	}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			for range 200 {
				got, err := e.Actions(t.Context(), Request{Source: src}, owner, repo)
				if err == nil && !slices.Equal(got, want) {
					err = fmt.Errorf("Actions = %v, want %v", got, want)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestFactsCannotForgeWildcards checks that a stored or context fact whose
// id collides with the evaluator's internal wildcard marker grants
// nothing.
func TestFactsCannotForgeWildcards(t *testing.T) {
	e := New(mustCompile(t, `actor User {} resource Doc { roles = ["viewer"]; permissions = ["read"]; "read" if "viewer"; }`))
	forged := term.Fact{Predicate: "has_role", Args: []term.Value{term.Entity("User", "eve"), term.String("viewer"), term.Entity("Doc", wildID)}}
	for _, req := range []Request{
		{Source: &sliceSource{facts: []term.Fact{forged}}},
		{Context: []term.Fact{forged}},
	} {
		d, err := e.Authorize(t.Context(), req, term.Entity("User", "eve"), "read", term.Entity("Doc", "secret"))
		if err != nil || d.Allowed {
			t.Errorf("forged wildcard fact: Authorize = %v, %v; want denied", d.Allowed, err)
		}
		res, err := e.List(t.Context(), req, term.Entity("User", "eve"), "read", "Doc", Page{})
		if err != nil || res.Wildcard || len(res.IDs) != 0 {
			t.Errorf("forged wildcard fact: List = %+v, %v; want nothing", res, err)
		}
	}
	_, err := e.Query(t.Context(), Request{}, Query{Predicate: Call{Name: "allow", Args: []string{"u", "a", "d"}}, Constraints: map[string]Constraint{
		"u": {Type: "User", IDs: []string{"\x00*"}}, "a": {Type: "String"}, "d": {Type: "Doc"}}})
	if !errors.Is(err, ErrInvalidQuery) {
		t.Errorf("Query with a NUL-prefixed id (the marker of older versions): err = %v, want ErrInvalidQuery", err)
	}
}

// TestQuestionsCannotForgeWildcards checks that no value of a question
// reads as a wildcard, whatever its bytes: an action or an id spelled like
// a marker is an ordinary value, but for an actor or resource id starting
// with NUL (as the markers of older versions did), which is refused.
func TestQuestionsCannotForgeWildcards(t *testing.T) {
	e := New(mustCompile(t, `actor User {} resource Doc { roles = ["viewer"]; permissions = ["read"]; "read" if "viewer"; }`))
	req := Request{Source: &sliceSource{facts: facts(t, "has_role User:eve viewer Doc:d1")}}
	eve, d1 := term.Entity("User", "eve"), term.Entity("Doc", "d1")
	spelled := func(marker string) string { return string([]byte(marker)) } // the bytes, not the marker
	for _, action := range []string{spelled(wildID), spelled(aliasIDs[0]), spelled(aliasIDs[2]), "\x00*", "\x00=0", "\x00x"} {
		d, err := e.Authorize(t.Context(), req, eve, action, d1)
		if err != nil || d.Allowed {
			t.Errorf("Authorize(eve, %q, d1) = %v, %v; want denied", action, d.Allowed, err)
		}
		each, err := e.AuthorizeEach(t.Context(), req, eve, action, []term.Value{d1})
		if err != nil || len(each) != 1 || each[0] {
			t.Errorf("AuthorizeEach(eve, %q, [d1]) = %v, %v; want [false]", action, each, err)
		}
	}
	for _, id := range []string{spelled(wildID), spelled(aliasIDs[1]), "\xffx"} {
		if d, err := e.Authorize(t.Context(), req, eve, "read", term.Entity("Doc", id)); err != nil || d.Allowed {
			t.Errorf("Authorize(eve, read, Doc %q) = %v, %v; want denied", id, d.Allowed, err)
		}
		if d, err := e.Authorize(t.Context(), req, term.Entity("User", id), "read", d1); err != nil || d.Allowed {
			t.Errorf("Authorize(User %q, read, d1) = %v, %v; want denied", id, d.Allowed, err)
		}
	}
	for _, id := range []string{"\x00*", "\x00x"} {
		if d, err := e.Authorize(t.Context(), req, eve, "read", term.Entity("Doc", id)); !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("Authorize(eve, read, Doc %q) = %v, %v; want ErrInvalidQuery", id, d.Allowed, err)
		}
		if d, err := e.Authorize(t.Context(), req, term.Entity("User", id), "read", d1); !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("Authorize(User %q, read, d1) = %v, %v; want ErrInvalidQuery", id, d.Allowed, err)
		}
	}
	// The markers are wildcards by identity, not by their bytes.
	if isWild(term.Entity("Doc", spelled(wildID))) || !isWild(wild("Doc")) || !isWild(wild("")) {
		t.Error("isWild: a copy of the marker's bytes reads as a wildcard, or a wildcard does not")
	}
	if j, ok := aliasOf(term.Value{Type: "Doc", ID: aliasIDs[5]}); !ok || j != 5 {
		t.Errorf("aliasOf(alias 5) = %d, %v", j, ok)
	}
	// Nor does a table key or an answer that spells a marker equal the
	// wildcard's: the action of a batch check is not the unbound action
	// of an Actions table, whatever their hashes.
	s := e.acquire(t.Context(), nil, time.Time{})
	defer e.release(s)
	for _, m := range []string{wildID, aliasIDs[0]} {
		key := s.handles(nil, []term.Value{eve, {Type: term.TypeString, ID: m}})
		forged := s.handles(nil, []term.Value{eve, term.String(spelled(m))})
		if !key[1].isWild() || forged[1].isWild() || equalVals(key, forged) || equalVals(forged, key) || !equalVals(key, slices.Clone(key)) {
			t.Errorf("equalVals: a copy of marker %q's bytes equals the wildcard, or a key does not equal itself", m)
		}
	}
}

func TestExplainThroughCycles(t *testing.T) {
	e := New(mustCompile(t, `actor User {}
		resource Folder {
		  roles = ["viewer"];
		  permissions = ["read"];
		  relations = { parent: Folder };
		  role if role on "parent";
		  "read" if "viewer";
		}`))
	src := &sliceSource{facts: facts(t,
		"has_relation Folder:a parent Folder:b", "has_relation Folder:b parent Folder:c",
		"has_relation Folder:c parent Folder:a", "has_role User:u viewer Folder:c")}
	d, err := e.Authorize(t.Context(), Request{Source: src, Explain: true}, term.Entity("User", "u"), "read", term.Entity("Folder", "a"))
	if err != nil || !d.Allowed || d.Explanation == nil || !d.Explanation.Holds {
		t.Fatalf("Authorize = %+v, %v", d, err)
	}
	js := describe(d.Explanation)
	if !strings.Contains(js, `fact has_role(User{"u"}, "viewer", Folder{"c"})`) {
		t.Errorf("explanation does not reach the role fact:\n%s", js)
	}
}

// panicSource fails the way a bug would.
type panicSource struct{}

func (panicSource) Match(string, []term.Value, func([]term.Value) bool) { panic("boom") }
func (panicSource) Revision() uint64                                    { return 0 }

func TestPanicsBecomeErrors(t *testing.T) {
	e := New(mustCompile(t, `actor User {} resource Doc { roles = ["viewer"]; permissions = ["read"]; "read" if "viewer"; }`))
	u, d := term.Entity("User", "u"), term.Entity("Doc", "d")
	if _, err := e.Authorize(t.Context(), Request{Source: panicSource{}}, u, "read", d); err == nil || !strings.Contains(err.Error(), "internal error: boom") {
		t.Errorf("Authorize over a panicking source: err = %v", err)
	}
	if _, err := e.List(t.Context(), Request{Source: panicSource{}}, u, "read", "Doc", Page{}); err == nil {
		t.Error("List over a panicking source: no error")
	}
	src := &sliceSource{facts: facts(t, "has_role User:u viewer Doc:d")}
	if dec, err := e.Authorize(t.Context(), Request{Source: src}, u, "read", d); err != nil || !dec.Allowed {
		t.Errorf("after a panic: Authorize = %v, %v", dec.Allowed, err)
	}
}

// describe renders an explanation one node part per line, indented by
// depth: "goal G holds|fails", "fact F ORIGIN", "rule SOURCE", "failed L".
func describe(x *Explanation) string {
	var b strings.Builder
	var walk func(x *Explanation, ind string)
	walk = func(x *Explanation, ind string) {
		verdict := "fails"
		if x.Holds {
			verdict = "holds"
		}
		fmt.Fprintf(&b, "%sgoal %s %s\n", ind, x.Goal, verdict)
		if x.Fact != nil {
			fmt.Fprintf(&b, "%sfact %s %s\n", ind, x.Fact.Fact, x.Fact.Origin)
		}
		if x.Rule != nil {
			fmt.Fprintf(&b, "%srule %s\n", ind, x.Rule.Text)
		}
		if x.Failed != "" {
			fmt.Fprintf(&b, "%sfailed %s\n", ind, x.Failed)
		}
		for _, p := range x.Premises {
			walk(p, ind+"  ")
		}
		for _, t := range x.Tried {
			walk(t, ind+"  ")
		}
	}
	walk(x, "")
	return b.String()
}
