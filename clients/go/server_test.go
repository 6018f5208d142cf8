package castellan_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	castellan "github.com/castellan-authz/castellan/clients/go"
	"github.com/castellan-authz/castellan/server"
	"github.com/castellan-authz/castellan/store/memory"
)

// newServer runs the real server on the memory store (dev mode) and returns
// a client of it, so client and server cannot drift apart.
func newServer(tb testing.TB) *castellan.Client {
	tb.Helper()
	cfg := server.DefaultConfig()
	cfg.Dev = true
	st := memory.New()
	tb.Cleanup(func() { st.Close() })
	srv, err := server.New(tb.Context(), cfg, st)
	if err != nil {
		tb.Fatalf("server.New: %v", err)
	}
	ts := httptest.NewServer(srv)
	tb.Cleanup(ts.Close)
	return castellan.New(ts.URL, "")
}

func mustPolicy(tb testing.TB) castellan.PolicyFile {
	tb.Helper()
	src, err := os.ReadFile("../../examples/microservices/policy.polar")
	if err != nil {
		tb.Fatal(err)
	}
	return castellan.PolicyFile{Filename: "policy.polar", Src: string(src)}
}

func TestAgainstServer(t *testing.T) {
	ctx := t.Context()
	c := newServer(t)
	var (
		alice = castellan.Entity("User", "alice")
		bob   = castellan.Entity("User", "bob")
		anvil = castellan.Entity("Repository", "anvil")
		run1  = castellan.Entity("Action", "1")
		ctxOf = castellan.WithContextFacts(castellan.NewFact("has_relation", run1, castellan.String("repository"), anvil))
	)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	up, err := c.UploadPolicy(ctx, mustPolicy(t))
	must(err)
	if !up.Changed {
		t.Errorf("first upload: %+v", up)
	}
	if up, err = c.UploadPolicy(ctx, mustPolicy(t)); err != nil || up.Changed {
		t.Errorf("same policy again: %+v, %v (want unchanged)", up, err)
	}
	if c.Offset() == "" {
		t.Error("no OsoOffset remembered after an upload")
	}

	must(c.Batch(ctx, func(tx *castellan.Tx) {
		tx.Insert(castellan.NewFact("has_role", alice, castellan.String("maintainer"), anvil))
		tx.Insert(castellan.NewFact("has_role", bob, castellan.String("reader"), anvil))
		for _, r := range []string{"r1", "r2", "r3", "r4", "r5"} {
			tx.Insert(castellan.NewFact("has_role", bob, castellan.String("reader"), castellan.Entity("Repository", r)))
		}
	}))
	off := c.Offset()

	d, err := c.Authorize(ctx, alice, "rerun", run1, ctxOf)
	must(err)
	if !d.Allowed || d.Explanation != nil {
		t.Errorf("alice rerun with context: %+v", d)
	}
	if d, _ := c.Authorize(ctx, alice, "rerun", run1); d.Allowed {
		t.Error("alice may rerun without the context fact")
	}
	if d, _ := c.Authorize(ctx, bob, "rerun", run1, ctxOf, castellan.WithExplain()); d.Allowed || d.Explanation == nil || d.Explanation.Holds || len(d.Explanation.Tried) == 0 {
		t.Errorf("bob rerun explained: %+v", d)
	}
	acts, err := c.Actions(ctx, alice, run1, ctxOf)
	must(err)
	if diff := cmp.Diff([]string{"read", "rerun"}, acts); diff != "" {
		t.Errorf("actions (-want +got):\n%s", diff)
	}

	want := []string{"anvil", "r1", "r2", "r3", "r4", "r5"}
	ids, err := c.List(ctx, bob, "read", "Repository")
	must(err)
	slices.Sort(ids)
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}
	ids, err = c.ListAll(ctx, bob, "read", "Repository", 2)
	must(err)
	slices.Sort(ids)
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("list all in pages of 2 (-want +got):\n%s", diff)
	}

	rows, err := c.EvaluateQuery(ctx, castellan.Query{
		Predicate: castellan.Call{Name: "allow", Args: []string{"u", "a", "r"}},
		Constraints: map[string]castellan.Constraint{
			"u": {Type: "User"}, "a": {Type: "String", IDs: []string{"rerun"}}, "r": {Type: "Action", IDs: []string{"1"}},
		},
	}, ctxOf)
	must(err)
	if len(rows) != 1 || rows[0]["u"] == nil || *rows[0]["u"] != "alice" {
		t.Errorf("evaluate_query rows: %v", rows)
	}
	facts, err := c.Query(ctx, castellan.NewFact("has_permission", castellan.AnyOf("User"), castellan.String("rerun"), run1), ctxOf)
	must(err)
	if diff := cmp.Diff([]castellan.Fact{castellan.NewFact("has_permission", alice, castellan.String("rerun"), run1)}, facts); diff != "" {
		t.Errorf("query (-want +got):\n%s", diff)
	}
	facts, err = c.Query(ctx, castellan.NewFact("has_permission", castellan.Any(), castellan.String("rerun"), run1), ctxOf)
	must(err)
	if diff := cmp.Diff([]castellan.Fact{castellan.NewFact("has_permission", alice, castellan.String("rerun"), run1)}, facts); diff != "" {
		t.Errorf("query with an untyped variable (-want +got):\n%s", diff)
	}

	got, err := c.Get(ctx, castellan.NewFact("has_role", castellan.Any(), castellan.String("maintainer")))
	must(err)
	if diff := cmp.Diff([]castellan.Fact{castellan.NewFact("has_role", alice, castellan.String("maintainer"), anvil)}, got); diff != "" {
		t.Errorf("get (-want +got):\n%s", diff)
	}
	if got, _ := c.Get(ctx, castellan.NewFact("has_relation")); len(got) != 0 {
		t.Errorf("a context fact was stored: %v", got)
	}
	// Every stored fact, page by page, each once.
	var paged []castellan.Fact
	for token, pages := "", 0; ; pages++ {
		page, next, err := c.GetPage(ctx, castellan.Fact{}, 3, token)
		must(err)
		if len(page) > 3 || pages > 3 {
			t.Fatalf("page %d: %d facts, next %q", pages, len(page), next)
		}
		paged = append(paged, page...)
		if token = next; token == "" {
			break
		}
	}
	all, err := c.Get(ctx, castellan.Fact{})
	must(err)
	if diff := cmp.Diff(all, paged); diff != "" || len(all) != 7 {
		t.Errorf("the pages of every fact (-all +pages):\n%s", diff)
	}
	stats, err := c.Stats(ctx)
	must(err)
	if stats.NumFacts != 7 {
		t.Errorf("stats: %+v, want 7 facts", stats)
	}
	md, err := c.PolicyMetadata(ctx)
	must(err)
	if diff := cmp.Diff(map[string]string{"repository": "Repository"}, md.Resources["Action"].Relations); diff != "" {
		t.Errorf("Action relations (-want +got):\n%s", diff)
	}

	must(c.Delete(ctx, castellan.NewFact("has_role", castellan.AnyOf("User"), castellan.Any(), anvil)))
	if c.Offset() == off {
		t.Error("OsoOffset did not move after a delete")
	}
	if d, _ := c.Authorize(ctx, alice, "rerun", run1, ctxOf); d.Allowed {
		t.Error("alice still allowed after her role was deleted")
	}
	must(c.Clear(ctx))
	if stats, _ := c.Stats(ctx); stats.NumFacts != 0 {
		t.Errorf("after clear: %+v", stats)
	}
}

func TestPolicyAdminAgainstServer(t *testing.T) {
	ctx := t.Context()
	c := newServer(t)
	if p, err := c.GetPolicy(ctx); err != nil || p != nil {
		t.Fatalf("policy before any upload: %v, %v", p, err)
	}
	if _, err := c.UploadPolicy(ctx, mustPolicy(t)); err != nil {
		t.Fatal(err)
	}
	two := []castellan.PolicyFile{
		{Filename: "users.polar", Src: "actor User {}\n"},
		{Filename: "repos.polar", Src: "resource Repository {\n  roles = [\"reader\"];\n  permissions = [\"read\"];\n  \"read\" if \"reader\";\n}\n"},
	}
	if _, err := c.UploadPolicy(ctx, two...); err != nil {
		t.Fatal(err)
	}

	// A policy with an unknown role is refused with its position.
	_, err := c.UploadPolicy(ctx, castellan.PolicyFile{Filename: "bad.polar", Src: "actor User {}\nresource R {\n  permissions = [\"read\"];\n  \"read\" if \"reder\";\n}\n"})
	var ce *castellan.Error
	if !errors.As(err, &ce) || ce.StatusCode != http.StatusUnprocessableEntity || ce.Code != "invalid_policy" || len(ce.Details) == 0 {
		t.Fatalf("invalid policy: %v (%#v)", err, ce)
	}
	if d := ce.Details[0]; d.File != "bad.polar" || d.Line != 4 || ce.RequestID == "" {
		t.Errorf("detail %+v, request id %q", d, ce.RequestID)
	}
	// Validating says the same without loading anything.
	val, err := c.ValidatePolicy(ctx, castellan.PolicyFile{Filename: "bad.polar", Src: "actor User {}\nresource R {\n  permissions = [\"read\"];\n  \"read\" if \"reder\";\n}\n"})
	if err != nil || val.Valid || len(val.Errors) == 0 || val.Errors[0].Line != 4 || val.Errors[0].Hint == "" {
		t.Fatalf("validate an invalid policy: %+v, %v", val, err)
	}
	failing := castellan.PolicyFile{Filename: "t.polar", Src: "actor User {}\nresource R {\n  roles = [\"a\"];\n  permissions = [\"read\"];\n  \"read\" if \"a\";\n}\ntest \"nobody reads\" {\n  assert allow(User{\"x\"}, \"read\", R{\"1\"});\n}\n"}
	if val, err = c.ValidatePolicy(ctx, failing); err != nil || val.Valid || len(val.Tests) != 1 || val.Tests[0].Passed != 0 || len(val.Tests[0].Failures) != 1 {
		t.Fatalf("validate a policy whose test fails: %+v, %v", val, err)
	}
	if val, err = c.ValidatePolicy(ctx, two...); err != nil || !val.Valid {
		t.Fatalf("validate two files: %+v, %v", val, err)
	}
	// A policy whose test fails is refused and names the test.
	_, err = c.UploadPolicy(ctx, failing)
	if !errors.As(err, &ce) || ce.Code != "tests_failed" || len(ce.Details) == 0 || ce.Details[0].Test != "nobody reads" {
		t.Fatalf("failing tests: %v (%#v)", err, ce)
	}

	hist, err := c.PolicyHistory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 || hist[0].Version != 2 || !hist[0].Live || hist[1].Live || hist[0].CreatedAt.IsZero() {
		t.Fatalf("history: %+v", hist)
	}
	if diff := cmp.Diff([]string{"users.polar", "repos.polar"}, hist[0].Files); diff != "" {
		t.Errorf("files of version 2 (-want +got):\n%s", diff)
	}
	if h := hist[0]; h.Source != "upload" || h.Status != "live" || hist[1].Status != "previous" || h.Commit != "" {
		t.Errorf("history sources and statuses: %+v", hist)
	}
	page, err := c.ListPolicies(ctx, castellan.PolicyQuery{Limit: 1})
	if err != nil || len(page.Policies) != 1 || page.Policies[0].Version != 2 || page.NextPageToken == "" {
		t.Fatalf("first page: %+v, %v", page, err)
	}
	page, err = c.ListPolicies(ctx, castellan.PolicyQuery{Limit: 1, PageToken: page.NextPageToken})
	if err != nil || len(page.Policies) != 1 || page.Policies[0].Version != 1 || page.NextPageToken != "" {
		t.Fatalf("second page: %+v, %v", page, err)
	}
	page, err = c.ListPolicies(ctx, castellan.PolicyQuery{Status: "previous", Since: hist[1].CreatedAt.Add(-time.Hour), Until: time.Now().Add(time.Hour)})
	if err != nil || len(page.Policies) != 1 || page.Policies[0].Version != 1 {
		t.Fatalf("previous versions: %+v, %v", page, err)
	}
	if _, err := c.ListPolicies(ctx, castellan.PolicyQuery{Status: "stale"}); !errors.As(err, &ce) || ce.StatusCode != http.StatusBadRequest {
		t.Errorf("bad status: %v", err)
	}
	v2, err := c.GetPolicyVersion(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(two, v2.Files); diff != "" {
		t.Errorf("version 2 files (-want +got):\n%s", diff)
	}
	live, err := c.ActivatePolicy(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if live.Version != 1 || !live.Live {
		t.Errorf("activate 1: %+v", live)
	}
	if p, err := c.GetPolicy(ctx); err != nil || p == nil || p.Src != mustPolicy(t).Src {
		t.Errorf("live policy after rollback: %+v, %v", p, err)
	}
	if _, err := c.GetPolicyVersion(ctx, 42); !errors.As(err, &ce) || ce.StatusCode != http.StatusNotFound {
		t.Errorf("missing version: %v", err)
	}
}

func TestKeysAgainstServer(t *testing.T) {
	ctx := t.Context()
	c := newServer(t)
	k, err := c.CreateKey(ctx, "svc-a", castellan.ScopeRead)
	if err != nil {
		t.Fatal(err)
	}
	if k.Secret == "" || k.ID == "" || k.Scope != "read" || k.Name != "svc-a" {
		t.Fatalf("created key: %+v", k)
	}
	keys, err := c.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != k.APIKey {
		t.Errorf("keys: %+v, want [%+v]", keys, k.APIKey)
	}
	if err := c.DeleteKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if keys, _ := c.ListKeys(ctx); len(keys) != 0 {
		t.Errorf("keys after delete: %+v", keys)
	}
}

// sinkDecision keeps benchmark results alive.
var sinkDecision castellan.Decision

// BenchmarkAuthorizeRoundTrip measures one check with a context fact through
// the client, HTTP on loopback and the real server (memory store).
func BenchmarkAuthorizeRoundTrip(b *testing.B) {
	ctx := b.Context()
	c := newServer(b)
	if _, err := c.UploadPolicy(ctx, mustPolicy(b)); err != nil {
		b.Fatal(err)
	}
	alice, anvil, run1 := castellan.Entity("User", "alice"), castellan.Entity("Repository", "anvil"), castellan.Entity("Action", "1")
	if err := c.Insert(ctx, castellan.NewFact("has_role", alice, castellan.String("maintainer"), anvil)); err != nil {
		b.Fatal(err)
	}
	opt := castellan.WithContextFacts(castellan.NewFact("has_relation", run1, castellan.String("repository"), anvil))
	b.ReportAllocs()
	for b.Loop() {
		d, err := c.Authorize(ctx, alice, "rerun", run1, opt)
		if err != nil || !d.Allowed {
			b.Fatalf("%+v, %v", d, err)
		}
		sinkDecision = d
	}
}

// TestConcurrentUse checks that one client is safe for concurrent use and
// ends up remembering the newest revision (run with -race).
func TestConcurrentUse(t *testing.T) {
	ctx := t.Context()
	c := newServer(t)
	if _, err := c.UploadPolicy(ctx, mustPolicy(t)); err != nil {
		t.Fatal(err)
	}
	const workers = 8
	errs := make(chan error, workers)
	for i := range workers {
		go func() {
			user := castellan.Entity("User", "u"+strconv.Itoa(i))
			repo := castellan.Entity("Repository", "r"+strconv.Itoa(i))
			if err := c.Insert(ctx, castellan.NewFact("has_role", user, castellan.String("reader"), repo)); err != nil {
				errs <- err
				return
			}
			d, err := c.Authorize(ctx, user, "read", repo)
			if err == nil && !d.Allowed {
				err = fmt.Errorf("%s cannot read its own write", user)
			}
			errs <- err
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if err := c.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	last := c.Offset()
	if stats, err := c.Stats(ctx); err != nil || stats.NumFacts != 0 {
		t.Errorf("after clear at offset %s: %+v, %v", last, stats, err)
	}
}

// scenario is a client of a fresh server with the microservices policy,
// alice maintaining anvil and bob reading anvil and forge, and the values
// and context fact (run1 belongs to anvil) the tests ask about.
type scenario struct {
	c                        *castellan.Client
	alice, bob, anvil, forge castellan.Value
	run1                     castellan.Value
	ctxOf                    castellan.CheckOption
}

func loaded(t *testing.T) scenario {
	t.Helper()
	s := scenario{
		c:     newServer(t),
		alice: castellan.Entity("User", "alice"), bob: castellan.Entity("User", "bob"),
		anvil: castellan.Entity("Repository", "anvil"), forge: castellan.Entity("Repository", "forge"),
		run1: castellan.Entity("Action", "1"),
	}
	s.ctxOf = castellan.WithContextFacts(castellan.NewFact("has_relation", s.run1, castellan.String("repository"), s.anvil))
	if _, err := s.c.UploadPolicy(t.Context(), mustPolicy(t)); err != nil {
		t.Fatal(err)
	}
	err := s.c.Batch(t.Context(), func(tx *castellan.Tx) {
		tx.Insert(castellan.NewFact("has_role", s.alice, castellan.String("maintainer"), s.anvil))
		tx.Insert(castellan.NewFact("has_role", s.bob, castellan.String("reader"), s.anvil))
		tx.Insert(castellan.NewFact("has_role", s.bob, castellan.String("reader"), s.forge))
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestBulkAgainstServer(t *testing.T) {
	ctx := t.Context()
	s := loaded(t)
	c, alice, bob, anvil, forge, run1, ctxOf := s.c, s.alice, s.bob, s.anvil, s.forge, s.run1, s.ctxOf

	got, err := c.AuthorizeResources(ctx, bob, "read", []castellan.Value{forge, castellan.Entity("Repository", "nope"), anvil, run1, forge}, ctxOf)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]castellan.Value{forge, anvil, run1, forge}, got); diff != "" {
		t.Errorf("authorize_resources (-want +got):\n%s", diff)
	}
	if got, err := c.AuthorizeResources(ctx, alice, "read", nil); err != nil || len(got) != 0 {
		t.Errorf("authorize_resources of no resources: %v, %v", got, err)
	}

	acts, err := c.BulkActions(ctx, alice, []castellan.Value{run1, anvil, forge}, ctxOf)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]string{{"read", "rerun"}, {"read"}, {}}, acts); diff != "" {
		t.Errorf("bulk_actions (-want +got):\n%s", diff)
	}
	if _, err := c.BulkActions(ctx, alice, []castellan.Value{castellan.AnyOf("Repository")}); err == nil {
		t.Error("bulk_actions sent a wildcard resource")
	}
}

func TestAuthZENAgainstServer(t *testing.T) {
	ctx := t.Context()
	s := loaded(t)
	c, alice, bob, anvil, forge, run1, ctxOf := s.c, s.alice, s.bob, s.anvil, s.forge, s.run1, s.ctxOf

	if d, err := c.Evaluation(ctx, alice, "rerun", run1, ctxOf); err != nil || !d.Allowed || d.Explanation != nil {
		t.Errorf("evaluation alice rerun: %+v, %v", d, err)
	}
	d, err := c.Evaluation(ctx, bob, "rerun", run1, ctxOf, castellan.WithExplain())
	if err != nil || d.Allowed || d.Explanation == nil || d.Explanation.Goal != `allow(User{"bob"}, "rerun", Action{"1"})` {
		t.Errorf("evaluation bob rerun explained: %+v, %v", d, err)
	}

	items := []castellan.AccessRequest{
		{Subject: alice, Action: "rerun", Resource: run1},
		{Subject: bob, Action: "rerun", Resource: run1},
		{Subject: bob, Action: "read", Resource: run1},
		{Subject: castellan.Entity("User", "x"), Action: "read", Resource: castellan.Integer(3)},
	}
	allowed := func(rs []castellan.EvaluationResult) []bool {
		out := make([]bool, len(rs))
		for i, r := range rs {
			out[i] = r.Allowed
		}
		return out
	}
	rs, err := c.Evaluations(ctx, "", items, ctxOf)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]bool{true, false, true, false}, allowed(rs)); diff != "" {
		t.Errorf("evaluations (-want +got):\n%s", diff)
	}
	for i, r := range rs {
		if r.Err != nil {
			t.Errorf("evaluations[%d]: %v", i, r.Err)
		}
	}
	rs, err = c.Evaluations(ctx, castellan.DenyOnFirstDeny, items, ctxOf)
	if err != nil || len(rs) != 2 || !rs[0].Allowed || rs[1].Allowed {
		t.Errorf("evaluations deny_on_first_deny: %+v, %v", rs, err)
	}
	rs, err = c.Evaluations(ctx, castellan.PermitOnFirstPermit, items[1:], castellan.WithExplain())
	if err != nil || len(rs) != 3 || rs[0].Explanation == nil {
		t.Errorf("evaluations permit_on_first_permit without the context fact: %+v, %v", rs, err)
	}
	// A malformed item answers a deny carrying the error; the batch goes on.
	rs, err = c.Evaluations(ctx, "", []castellan.AccessRequest{
		{Subject: alice, Action: "rerun", Resource: castellan.Value{Type: "Integer", ID: "three"}},
		{Subject: alice, Action: "rerun", Resource: run1},
	}, ctxOf)
	var ce *castellan.Error
	if err != nil || len(rs) != 2 || rs[0].Allowed || !errors.As(rs[0].Err, &ce) || ce.StatusCode != http.StatusBadRequest || !rs[1].Allowed {
		t.Errorf("evaluations with a malformed item: %+v, %v", rs, err)
	}

	subjects, next, err := c.SearchSubject(ctx, "User", "read", anvil, castellan.SearchPage{})
	if err != nil || next != "" {
		t.Fatalf("search subject: %v, next %q", err, next)
	}
	if diff := cmp.Diff([]castellan.Value{alice, bob}, subjects); diff != "" {
		t.Errorf("search subject (-want +got):\n%s", diff)
	}
	subjects, next, err = c.SearchSubject(ctx, "User", "read", anvil, castellan.SearchPage{Limit: 1})
	if err != nil || next == "" || len(subjects) != 1 {
		t.Fatalf("search subject, first page of 1: %v, %v, next %q", subjects, err, next)
	}
	subjects, next, err = c.SearchSubject(ctx, "User", "read", anvil, castellan.SearchPage{Token: next, Limit: 1})
	if err != nil || next != "" || len(subjects) != 1 || subjects[0] != bob {
		t.Errorf("search subject, second page: %v, %v, next %q", subjects, err, next)
	}

	resources, _, err := c.SearchResource(ctx, bob, "read", "Repository", castellan.SearchPage{})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(resources, func(a, b castellan.Value) int { return strings.Compare(a.ID, b.ID) })
	if diff := cmp.Diff([]castellan.Value{anvil, forge}, resources); diff != "" {
		t.Errorf("search resource (-want +got):\n%s", diff)
	}

	acts, next, err := c.SearchAction(ctx, alice, run1, castellan.SearchPage{}, ctxOf)
	if err != nil || next != "" {
		t.Fatalf("search action: %v, next %q", err, next)
	}
	if diff := cmp.Diff([]string{"read", "rerun"}, acts); diff != "" {
		t.Errorf("search action (-want +got):\n%s", diff)
	}
}

// TestContextFactErrorAgainstServer: a context fact the policy cannot use
// comes back as an *Error with the server's message, the predicate meant
// and the code invalid_fact.
func TestContextFactErrorAgainstServer(t *testing.T) {
	ctx := t.Context()
	c := newServer(t)
	if _, err := c.UploadPolicy(ctx, mustPolicy(t)); err != nil {
		t.Fatal(err)
	}
	run1, anvil := castellan.Entity("Action", "1"), castellan.Entity("Repository", "anvil")
	_, err := c.Authorize(ctx, castellan.Entity("User", "alice"), "rerun", run1,
		castellan.WithContextFacts(castellan.NewFact("has_relaton", run1, castellan.String("repository"), anvil)))
	var ce *castellan.Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a *castellan.Error", err)
	}
	if ce.StatusCode != http.StatusBadRequest || ce.Code != "invalid_fact" ||
		!strings.Contains(ce.Message, `context_facts[0] has_relaton(Action{"1"}, "repository", Repository{"anvil"})`) ||
		!strings.Contains(ce.Message, "did you mean has_relation?") {
		t.Errorf("error = %d %q %q", ce.StatusCode, ce.Code, ce.Message)
	}
}

// TestAttributesAgainstServer: WithAttributes and WithContextAttributes
// become has_attribute and has_context facts of the question.
func TestAttributesAgainstServer(t *testing.T) {
	ctx := t.Context()
	c := newServer(t)
	if _, err := c.UploadPolicy(ctx, castellan.PolicyFile{Filename: "policy.polar", Src: `actor User {}
resource Document {}
declare has_attribute(User, String, String);
declare has_attribute(Document, String, String);
declare has_context(String, Integer);
has_permission(u: User, "edit", d: Document) if
  has_attribute(u, "email", e) and has_attribute(d, "owner.email", e);
has_permission(_: User, "audit", _: Document) if has_context("clearance", c) and c > 3;
`}); err != nil {
		t.Fatal(err)
	}
	alice, doc := castellan.Entity("User", "alice"), castellan.Entity("Document", "d")
	d, err := c.Authorize(ctx, alice, "edit", doc,
		castellan.WithAttributes(alice, map[string]any{"email": "a@x"}),
		castellan.WithAttributes(doc, map[string]any{"owner": map[string]any{"email": "a@x"}}))
	if err != nil || !d.Allowed {
		t.Errorf("Authorize with attributes = %v, %v; want allowed", d, err)
	}
	acts, err := c.Actions(ctx, alice, doc, castellan.WithContextAttributes(map[string]any{"clearance": 5}))
	if err != nil || !slices.Equal(acts, []string{"audit"}) {
		t.Errorf("Actions with context attributes = %v, %v; want [audit]", acts, err)
	}
	if _, err := c.Evaluation(ctx, alice, "edit", doc, castellan.WithAttributes(alice, map[string]any{"email": "a@x"})); err == nil {
		t.Error("Evaluation with WithAttributes: no error")
	}
}
