package evaluator

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/castellan-authz/castellan/evaluator/evaltest"
	"github.com/castellan-authz/castellan/lang"
	"github.com/castellan-authz/castellan/lang/term"
)

// sameResult reports whether a batch's result is the one Authorize gave
// alone: the same answer, or errors that print the same.
func sameResult(got CheckResult, d Decision, err error) bool {
	if (got.Err == nil) != (err == nil) {
		return false
	}
	if err != nil {
		return got.Err.Error() == err.Error()
	}
	return got.Allowed == d.Allowed
}

// randomGitHubFacts draws 25 facts (some draws add none) of the GitHub and
// folder model of evaltest about users.
func randomGitHubFacts(r *rand.Rand, users []term.Value, val func(string, int) term.Value) []term.Fact {
	var fs []term.Fact
	add := func(p string, args ...term.Value) { fs = append(fs, term.Fact{Predicate: p, Args: args}) }
	for range 25 {
		u := users[r.IntN(len(users))]
		switch r.IntN(9) {
		case 0:
			add("has_role", u, term.String([]string{"member", "owner"}[r.IntN(2)]), val("Organization", r.IntN(3)))
		case 1:
			add("has_role", u, term.String([]string{"reader", "maintainer", "admin"}[r.IntN(3)]), val("Repository", r.IntN(6)))
		case 2:
			add("has_relation", val("Repository", r.IntN(6)), term.String("organization"), val("Organization", r.IntN(3)))
		case 3:
			add("has_relation", val("Issue", r.IntN(6)), term.String("repository"), val("Repository", r.IntN(6)))
		case 4:
			add("has_relation", val("Issue", r.IntN(6)), term.String("creator"), u)
		case 5:
			add("is_public", val("Repository", r.IntN(6)))
		case 6:
			add("has_relation", val("Folder", r.IntN(5)), term.String("parent"), val("Folder", r.IntN(5)))
		case 7:
			add("has_role", u, term.String("viewer"), val("Folder", r.IntN(5)))
		case 8:
			if r.IntN(4) == 0 {
				add("has_role", u, term.String("admin"))
			}
		}
	}
	return fs
}

// TestAuthorizeBatchAgreesWithAuthorize is a property test: on random
// fact sets of the GitHub model, read from a slice, from the memory store
// (matched on ids) and from the store with some facts as context facts,
// AuthorizeBatch over every (user, action, resource) question in a random
// order, with malformed questions among them, answers each as Authorize
// answers it alone, and as the naive oracle.
func TestAuthorizeBatchAgreesWithAuthorize(t *testing.T) {
	e := New(mustCompile(t, evaltest.GitHubPolicy+evaltest.FolderResource))
	actions := []string{"read", "push", "delete", "create_issue", "close", "create_repository"}
	types := map[string]int{"Organization": 3, "Repository": 6, "Issue": 6, "Folder": 5}
	val := func(typ string, i int) term.Value {
		return term.Entity(typ, fmt.Sprintf("%s%d", strings.ToLower(typ[:1]), i))
	}
	users := []term.Value{term.Entity("User", "a"), term.Entity("User", "b"), term.Entity("User", "c")}
	allowed, asked := 0, 0
	for seed := range uint64(24) {
		r := rand.New(rand.NewPCG(seed, 7))
		fs := randomGitHubFacts(r, users, val)
		req := requestBySeed(t, seed, fs, len(fs)/8)
		var domain []term.Value
		var checks []Check
		for typ, n := range types {
			for i := range n {
				domain = append(domain, val(typ, i))
				for _, u := range users {
					for _, a := range actions {
						checks = append(checks, Check{Actor: u, Action: a, Resource: val(typ, i)})
					}
				}
			}
		}
		for _, a := range actions {
			domain = append(domain, term.String(a))
		}
		// Malformed questions (the wildcard marker's bytes are an ordinary id,
		// a NUL-prefixed id is refused), and some asked twice.
		checks = append(checks,
			Check{Actor: term.Value{Type: "User"}, Action: "read", Resource: val("Repository", 0)},
			Check{Actor: users[0], Action: "read", Resource: term.Value{ID: "r0"}},
			Check{Actor: users[0], Action: "read", Resource: term.Value{Type: "Repository", ID: string([]byte(wildID))}},
			Check{Actor: users[0], Action: "read", Resource: term.Value{Type: "Repository", ID: "\x00*"}},
		)
		checks = append(checks, checks[:10]...)
		r.Shuffle(len(checks), func(i, j int) { checks[i], checks[j] = checks[j], checks[i] })
		orc := newOracle(e.Program(), append(fs, req.Context...), append(domain, users...))
		got := e.AuthorizeBatch(t.Context(), req, checks)
		if len(got) != len(checks) {
			t.Fatalf("seed %d: %d results for %d checks", seed, len(got), len(checks))
		}
		for i, c := range checks {
			d, err := e.Authorize(t.Context(), req, c.Actor, c.Action, c.Resource)
			if !sameResult(got[i], d, err) {
				t.Errorf("seed %d: %v %s %v: AuthorizeBatch %+v, Authorize %v, %v", seed, c.Actor, c.Action, c.Resource, got[i], d.Allowed, err)
			}
			if err != nil {
				continue
			}
			asked++
			if d.Allowed {
				allowed++
			}
			if want := orc.holds("allow", []term.Value{c.Actor, term.String(c.Action), c.Resource}); got[i].Allowed != want {
				t.Errorf("seed %d: %v %s %v: AuthorizeBatch %v, the naive oracle %v", seed, c.Actor, c.Action, c.Resource, got[i].Allowed, want)
			}
		}
	}
	if allowed == 0 || allowed == asked {
		t.Errorf("%d of %d checks allowed: the generator does not exercise both answers", allowed, asked)
	}
}

// TestAuthorizeBatchRandomPrograms compares AuthorizeBatch with Authorize
// one by one on the random recursive programs of
// TestRandomProgramsAgainstOracle (negation, wildcards, matches, cycles),
// each given allow rules over its predicates, at the default limits and
// at a work limit low enough that some questions exceed it: a question
// that Authorize answers alone is answered the same in the batch; one
// that fails alone fails the same in the batch, or, as the tables of the
// questions before it spare it work, gets the answer of an evaluator
// without the limit.
func TestAuthorizeBatchRandomPrograms(t *testing.T) {
	const n = 4
	node := func(i int) term.Value { return term.Entity("N", fmt.Sprintf("n%d", i)) }
	var limited, rescued, compiled int
	for seed := range uint64(120) {
		r := rand.New(rand.NewPCG(seed, 1234))
		src := randomPolicy(r) + `allow(x, "p0", y) if p0(x, y);
allow(x, "p1", y) if p1(x, y);
allow(x, "p23", y) if p2(x, y) or p3(y, x);
`
		prog, err := lang.Compile(lang.File{Filename: "random.polar", Src: []byte(src)})
		if err != nil {
			continue
		}
		compiled++
		fs := randomFacts(r, nil, n, 8)
		req := requestBySeed(t, seed, fs, 0)
		var checks []Check
		for i := range n {
			for j := range n {
				for _, a := range []string{"p0", "p1", "p23", "none"} {
					checks = append(checks, Check{Actor: node(i), Action: a, Resource: node(j)})
				}
			}
		}
		r.Shuffle(len(checks), func(i, j int) { checks[i], checks[j] = checks[j], checks[i] })
		free := New(prog)
		for _, e := range []*Evaluator{free, New(prog, WithLimits(Limits{MaxWork: 12}))} {
			got := e.AuthorizeBatch(t.Context(), req, checks)
			for i, c := range checks {
				d, err := e.Authorize(t.Context(), req, c.Actor, c.Action, c.Resource)
				if sameResult(got[i], d, err) {
					if err != nil {
						limited++
					}
					continue
				}
				if err != nil && errors.Is(err, ErrWorkExceeded) && got[i].Err == nil {
					if want, _ := free.Authorize(t.Context(), req, c.Actor, c.Action, c.Resource); want.Allowed == got[i].Allowed {
						rescued++
						continue
					}
				}
				t.Errorf("seed %d: %v %s %v: AuthorizeBatch %+v, Authorize %v, %v\npolicy:\n%s\nfacts: %v", seed, c.Actor, c.Action, c.Resource, got[i], d.Allowed, err, src, fs)
			}
		}
	}
	if compiled < 80 {
		t.Errorf("only %d of 120 random programs compiled", compiled)
	}
	if limited == 0 {
		t.Error("no question exceeded the low work limit: the limit is not exercised")
	}
	t.Logf("%d programs; at the low limit, %d questions failed alike alone and in the batch, %d were answered in the batch only", compiled, limited, rescued)
}

// TestAuthorizeBatchDeepChain: a question whose goal nests deeper than
// MaxDepth is answered in a batch as Authorize answers it (from the wide
// goals), and the questions after it still are.
func TestAuthorizeBatchDeepChain(t *testing.T) {
	e := New(mustCompile(t, evaltest.FolderPolicy), WithLimits(Limits{MaxDepth: 64}))
	u, other := term.Entity("User", "u"), term.Entity("User", "other")
	req := Request{Source: loadMemory(t, evaltest.FolderChain(1000, u))}
	var checks []Check
	for _, f := range []string{"1000", "500", "0", "nowhere"} {
		for _, a := range []term.Value{u, other} {
			checks = append(checks, Check{Actor: a, Action: "read", Resource: term.Entity("Folder", f)})
		}
	}
	got := e.AuthorizeBatch(t.Context(), req, checks)
	for i, c := range checks {
		d, err := e.Authorize(t.Context(), req, c.Actor, c.Action, c.Resource)
		if !sameResult(got[i], d, err) {
			t.Errorf("%v on %v: AuthorizeBatch %+v, Authorize %v, %v", c.Actor, c.Resource, got[i], d.Allowed, err)
		}
	}
	if !got[0].Allowed || got[1].Allowed || got[0].Err != nil {
		t.Errorf("leaf: u %+v, other %+v; want allowed, denied", got[0], got[1])
	}
}

// TestAuthorizeBatchFailures: a cancelled context fails every question
// with its error; a panic (a bug) fails the questions it hits, each with
// an internal error, not the process.
func TestAuthorizeBatchFailures(t *testing.T) {
	e := New(mustCompile(t, `actor User {} resource Doc { roles = ["viewer"]; permissions = ["read"]; "read" if "viewer"; }`))
	u, d := term.Entity("User", "u"), term.Entity("Doc", "d")
	checks := []Check{{u, "read", d}, {u, "write", d}, {term.Value{}, "read", d}, {u, "read", term.Entity("Doc", "e")}}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for i, r := range e.AuthorizeBatch(ctx, Request{}, checks) {
		if i == 2 {
			if !errors.Is(r.Err, ErrInvalidQuery) {
				t.Errorf("malformed check: %+v, want ErrInvalidQuery", r)
			}
			continue
		}
		if !errors.Is(r.Err, context.Canceled) {
			t.Errorf("check %d under a cancelled context: %+v", i, r)
		}
	}
	for i, r := range e.AuthorizeBatch(t.Context(), Request{Source: panicSource{}}, checks) {
		if i != 2 && (r.Err == nil || !strings.Contains(r.Err.Error(), "internal error: boom")) {
			t.Errorf("check %d over a panicking source: %+v", i, r)
		}
	}
	src := &sliceSource{facts: facts(t, "has_role User:u viewer Doc:d")}
	got := e.AuthorizeBatch(t.Context(), Request{Source: src}, checks)
	if !got[0].Allowed || got[1].Allowed || got[3].Allowed || got[0].Err != nil {
		t.Errorf("after a panic: %+v", got)
	}
}
