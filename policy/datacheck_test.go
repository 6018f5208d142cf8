package policy_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/policy"
	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/memory"
)

// folders is docs plus folders; public docs and a per-user quota.
const folders = `actor User {}
resource Folder { roles = ["viewer"]; }
resource Doc {
  roles = ["viewer"];
  permissions = ["view"];
  relations = { folder: Folder };
  "view" if "viewer";
  "viewer" if "viewer" on "folder";
}
has_permission(_: User, "view", d: Doc) if is_public(d);
`

func role(user, r, typ, id string) term.Fact {
	return term.Fact{Predicate: "has_role", Args: []term.Value{term.Entity("User", user), term.String(r), term.Entity(typ, id)}}
}

func storeFacts(tb testing.TB, st store.Store, fs ...term.Fact) {
	tb.Helper()
	if _, err := st.Write(tb.Context(), []store.Op{{Insert: fs}}); err != nil {
		tb.Fatal(err)
	}
}

// allFacts prints every stored fact.
func allFacts(tb testing.TB, st store.Store) []string {
	tb.Helper()
	snap, err := st.Snapshot(tb.Context(), store.Consistency{})
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for f := range snap.Facts(term.Pattern{AnyArity: true}) {
		out = append(out, f.String())
	}
	return out
}

// summary is a report as a comparable value.
func summary(r *policy.DataReport) []string {
	if r == nil {
		return nil
	}
	out := []string{fmt.Sprintf("facts %d checked %d unusable %d partial %t", r.Facts, r.Checked, r.Unusable, r.Partial)}
	for _, p := range r.Predicates {
		out = append(out, fmt.Sprintf("%s count %d unused %t sample %s reason %s", p.Name(), p.Count, p.Unused, strings.Join(p.Sample, " | "), p.Reason))
	}
	return out
}

func TestDataCheckOnLoad(t *testing.T) {
	st := memory.New()
	m := mustManager(t, st, policy.WithFacts(st))
	mustLoad(t, m, folders)
	var fs []term.Fact
	for i := range 5 {
		fs = append(fs, role(fmt.Sprint("u", i), "viewer", "Folder", "f"))
	}
	fs = append(fs, role("a", "viewer", "Doc", "d"),
		term.Fact{Predicate: "is_public", Args: []term.Value{term.Entity("Doc", "p")}},
		term.Fact{Predicate: "has_relation", Args: []term.Value{term.Entity("Doc", "d"), term.String("folder"), term.Entity("Folder", "f")}})
	storeFacts(t, st, fs...)
	before := allFacts(t, st)

	// The new policy has no folders and no public documents.
	res, err := m.Load(t.Context(), files(docs), "test")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"facts 8 checked 8 unusable 7 partial false",
		`has_relation/3 count 1 unused true sample has_relation(Doc{"d"}, "folder", Folder{"f"}) reason unknown predicate has_relation/3: the policy neither uses nor declares it`,
		`has_role/3 count 5 unused false sample has_role(User{"u0"}, "viewer", Folder{"f"}) | has_role(User{"u1"}, "viewer", Folder{"f"}) | has_role(User{"u2"}, "viewer", Folder{"f"}) reason has_role/3 expects`,
		`is_public/1 count 1 unused true sample is_public(Doc{"p"}) reason unknown predicate is_public/1: the policy neither uses nor declares it`,
	}
	got := summary(res.Data)
	if len(got) != len(want) {
		t.Fatalf("report:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("report line %d:\n got %s\nwant %s...", i, got[i], want[i])
		}
	}
	if s := res.Data.Summary(); !strings.HasPrefix(s, "7 stored facts are not usable by this policy: has_relation/3 (1, no rule uses it; e.g. ") {
		t.Errorf("summary %q", s)
	}
	if d := cmp.Diff(before, allFacts(t, st)); d != "" {
		t.Errorf("a load changed the facts (-before +after):\n%s", d)
	}
}

func TestDataCheckStrict(t *testing.T) {
	st := memory.New()
	m := mustManager(t, st, policy.WithFacts(st))
	mustLoad(t, m, folders)
	storeFacts(t, st, role("a", "viewer", "Doc", "d"), role("b", "viewer", "Folder", "f"))
	before := allFacts(t, st)
	for _, opts := range [][]policy.LoadOption{{policy.Strict()}, {policy.Strict(), policy.Force()}, {policy.Strict(), policy.AllowOrphans()}} {
		res, err := m.Load(t.Context(), files(docs), "test", opts...)
		var de *policy.DataCheckError
		if !errors.As(err, &de) || !errors.Is(err, policy.ErrUnusableFacts) {
			t.Fatalf("strict Load: %v, want a *DataCheckError", err)
		}
		if !strings.Contains(err.Error(), `has_role/3 (1, do not type-check`) || res.Data == nil || res.Data.Unusable != 1 {
			t.Errorf("strict Load: %v (report %+v), want has_role/3 named", err, res.Data)
		}
		if v := m.Live().Version(); v != 1 {
			t.Errorf("live version %d after a refused load, want 1", v)
		}
	}
	if d := cmp.Diff(before, allFacts(t, st)); d != "" {
		t.Errorf("a refused load changed the facts (-before +after):\n%s", d)
	}
	// A policy that uses every fact goes live under Strict.
	res, err := m.Load(t.Context(), files(folders+"\n# v2\n"), "test", policy.Strict())
	if err != nil || res.Version != 2 || res.Data == nil || res.Data.Unusable != 0 || res.Data.Summary() != "" {
		t.Errorf("strict Load of a policy using every fact: %+v, %v", res, err)
	}
}

// TestDataCheckFirstPolicy: facts told while no policy is live are checked
// when the first policy is uploaded.
func TestDataCheckFirstPolicy(t *testing.T) {
	st := memory.New()
	m := mustManager(t, st, policy.WithFacts(st))
	storeFacts(t, st, role("a", "viewer", "Doc", "d"), term.Fact{Predicate: "has_group", Args: []term.Value{term.Entity("User", "a"), term.Entity("Group", "g")}})
	res, err := m.Load(t.Context(), files(docs), "test", policy.Strict())
	if !errors.Is(err, policy.ErrUnusableFacts) || !strings.Contains(err.Error(), "has_group/2 (1, no rule uses it") {
		t.Fatalf("first strict Load: %+v, %v", res, err)
	}
	if m.Live().Version() != 0 {
		t.Errorf("a refused first policy went live")
	}
	res, err = m.Load(t.Context(), files(docs), "test")
	if err != nil || res.Data == nil || res.Data.Unusable != 1 || res.Data.Predicates[0].Name() != "has_group/2" {
		t.Errorf("first Load: %+v, %v; want has_group/2 reported", res, err)
	}
}
