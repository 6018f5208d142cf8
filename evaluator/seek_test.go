package evaluator

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/castellan-authz/castellan/evaluator/evaltest"
	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/memory"
)

// seekFacts is a GitHubPolicy model whose lists derive answers more than
// once through different streams (seek.go): 30 organizations of 100
// repositories each, every 7th repository also in the next organization;
// "all" is a member of every organization and reads 150 repositories
// directly (a second kind of stream, half of them inside its
// organizations); "admin" is a global admin (its answers come from no
// stream: its pages fall back to walking again); "some" is a member of 12
// organizations.
func seekFacts() []term.Fact {
	const orgs, repos = 30, 3000
	all, admin, some := term.Entity("User", "all"), term.Entity("User", "admin"), term.Entity("User", "some")
	role := func(u term.Value, r string, res term.Value) term.Fact {
		return term.Fact{Predicate: "has_role", Args: []term.Value{u, term.String(r), res}}
	}
	org := func(i int) term.Value { return term.Entity("Organization", evaltest.OrgID(i%orgs)) }
	repo := func(i int) term.Value { return term.Entity("Repository", evaltest.RepoID(i)) }
	var fs []term.Fact
	for i := range orgs {
		fs = append(fs, role(all, "member", org(i)))
		if i%5 == 1 || i%5 == 3 {
			fs = append(fs, role(some, "member", org(i)))
		}
	}
	for i := range repos {
		fs = append(fs, term.Fact{Predicate: "has_relation", Args: []term.Value{repo(i), term.String("organization"), org(i)}})
		if i%7 == 0 {
			fs = append(fs, term.Fact{Predicate: "has_relation", Args: []term.Value{repo(i), term.String("organization"), org(i + 1)}})
		}
	}
	for i := range 150 {
		fs = append(fs, role(all, "reader", repo(i*37%4000))) // repositories 3000-3999 are in no organization
	}
	fs = append(fs, term.Fact{Predicate: "has_role", Args: []term.Value{admin, term.String("admin")}})
	return fs
}

// memoryStore loads facts in batches of chunk into a new memory store.
func memoryStore(t *testing.T, facts []term.Fact, chunk int) *memory.Store {
	t.Helper()
	st := memory.New()
	t.Cleanup(func() { st.Close() })
	for i := 0; i < len(facts); i += chunk {
		if _, err := st.Write(t.Context(), []store.Op{{Insert: facts[i:min(i+chunk, len(facts))]}}); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// TestListResumeWithoutWalk pages lists whose walks are never kept: each
// page resumes from its token alone, on the replica that issued it or on a
// second one (the same facts in the same order in each relation, but
// interned in another order, so other ids), while writes after the
// token's revision change the answer. The pages concatenated equal the
// unpaged answer in its order, each id once; a token after a streamed
// answer resumes without walking again (resumeList), one after an answer
// from no stream falls back to walking again.
func TestListResumeWithoutWalk(t *testing.T) {
	ctx := t.Context()
	e := New(mustCompile(t, evaltest.GitHubPolicy))
	facts := seekFacts()
	a := memoryStore(t, facts, len(facts))
	// Replica b interns the repositories first: has_relation before
	// has_role, each relation's facts in a's order, in one batch.
	var reordered []term.Fact
	for _, f := range facts {
		if f.Predicate == "has_relation" {
			reordered = append(reordered, f)
		}
	}
	for _, f := range facts {
		if f.Predicate != "has_relation" {
			reordered = append(reordered, f)
		}
	}
	b := memoryStore(t, reordered, len(reordered))
	snapB, err := b.Snapshot(ctx, store.Consistency{})
	if err != nil {
		t.Fatal(err)
	}
	// Writes after the pages' revision, on a: one more repository for
	// everyone, one organization membership gone. The pages read the
	// revision before (their token pins it).
	rev := snapB.Revision()
	if _, err := a.Write(ctx, []store.Op{{Insert: []term.Fact{
		{Predicate: "has_relation", Args: []term.Value{term.Entity("Repository", "new"), term.String("organization"), term.Entity("Organization", evaltest.OrgID(0))}},
	}}, {Delete: []term.Pattern{{Predicate: "has_role", Args: []term.Value{term.Entity("User", "all"), term.String("member"), term.Entity("Organization", evaltest.OrgID(5))}}}}}); err != nil {
		t.Fatal(err)
	}
	snapA, err := a.SnapshotAt(ctx, store.Revision(rev))
	if err != nil {
		t.Fatal(err)
	}
	if ia, ib := idOfValue(t, snapA, term.Entity("Repository", evaltest.RepoID(5))), idOfValue(t, snapB, term.Entity("Repository", evaltest.RepoID(5))); ia == ib {
		t.Fatalf("replicas give repository 5 the same id %d: the test needs other ids", ia)
	}
	reqA := Request{Source: snapA}
	reqB := Request{Source: snapB}

	// A token of version 2 (before streams) says only how many answers
	// came before: the page walks again and gives the same ids.
	all := term.Entity("User", "all")
	first, err := e.List(ctx, reqA, all, "read", "Repository", Page{Size: 1500})
	if err != nil {
		t.Fatal(err)
	}
	tok3, err := decodePageToken(first.NextToken)
	if err != nil || tok3.stream == 0 {
		t.Fatalf("token %+v (%v): want one naming a stream", tok3, err)
	}
	tok2 := tok3
	tok2.stream, tok2.last = 0, ""
	p3, err3 := e.List(ctx, reqB, all, "read", "Repository", Page{Size: 100, Token: first.NextToken})
	p2, err2 := e.List(ctx, reqB, all, "read", "Repository", Page{Size: 100, Token: tok2.encodeVersion(2)})
	if err3 != nil || err2 != nil || !slices.Equal(p2.IDs, p3.IDs) || len(p3.IDs) != 100 {
		t.Fatalf("the page after 1,500 from a token of version 3 (%v) and 2 (%v) differ:\n%v\n%v", err3, err2, p3.IDs, p2.IDs)
	}

	// Context facts: repositories only they name (request-local ids), in
	// an organization too, and ones the store holds, read by "all"
	// directly.
	var ctxFacts []term.Fact
	for i := range 40 {
		r := term.Entity("Repository", fmt.Sprintf("ctx-%d", i))
		if i%2 == 0 {
			r = term.Entity("Repository", evaltest.RepoID(i*71))
		}
		ctxFacts = append(ctxFacts, term.Fact{Predicate: "has_role", Args: []term.Value{all, term.String("reader"), r}})
		if i%2 == 1 { // and in an organization: read twice
			ctxFacts = append(ctxFacts, term.Fact{Predicate: "has_relation", Args: []term.Value{r, term.String("organization"), term.Entity("Organization", evaltest.OrgID(i%30))}})
		}
	}
	for _, tc := range []struct {
		actor   string
		context []term.Fact
		resume  bool // tokens resume without walking again
	}{{"all", nil, true}, {"some", nil, true}, {"admin", nil, false}, {"all", ctxFacts, true}} {
		actor := term.Entity("User", tc.actor)
		reqA, reqB := reqA, reqB
		reqA.Context, reqB.Context = tc.context, tc.context
		var whole []string
		if err := e.ListEach(ctx, reqA, actor, "read", "Repository", func(id string, _ bool) bool {
			whole = append(whole, id)
			return true
		}); err != nil {
			t.Fatal(err)
		}
		if uniq := len(slices.Compact(slices.Sorted(slices.Values(whole)))); uniq != len(whole) {
			t.Fatalf("%s: ListEach gives %d ids, %d distinct", tc.actor, len(whole), uniq)
		}
		if len(whole) <= SortedMax {
			t.Fatalf("%s: %d answers: too few to page in walk order", tc.actor, len(whole))
		}
		if tc.context != nil {
			// From the place of each id only context facts name (a
			// request-local id), the rest of the list in one page.
			for j, id := range whole {
				if !strings.HasPrefix(id, "ctx-") {
					continue
				}
				first, err := e.List(ctx, reqA, actor, "read", "Repository", Page{Size: j + 1})
				if err != nil {
					t.Fatal(err)
				}
				rest, err := e.List(ctx, reqB, actor, "read", "Repository", Page{Size: len(whole), Token: first.NextToken})
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(rest.IDs, whole[j+1:]) {
					t.Fatalf("after %s (place %d): %d ids, want the %d that follow it", id, j, len(rest.IDs), len(whole)-j-1)
				}
			}
		}
		for _, size := range []int{7, 100, 999, 1001} {
			var got []string
			resumed, fellBack := 0, 0
			tok := ""
			for n := 0; ; n++ {
				req := reqA
				if n%2 == 1 {
					req = reqB
				}
				if tok != "" {
					pt, err := decodePageToken(tok)
					if err != nil {
						t.Fatal(err)
					}
					q, _ := e.newListQuery(req, actor, "read", "Repository")
					run, err := e.resumeList(ctx, req, q, pt)
					if err != nil {
						t.Fatal(err)
					}
					if run != nil {
						run.stop()
						resumed++
					} else {
						fellBack++
					}
				}
				res, err := e.List(ctx, req, actor, "read", "Repository", Page{Size: size, Token: tok})
				if err != nil {
					t.Fatalf("%s: page %d of %d: %v", tc.actor, n, size, err)
				}
				got = append(got, res.IDs...)
				if res.NextToken == "" {
					break
				}
				tok = res.NextToken
			}
			if !slices.Equal(got, whole) {
				t.Fatalf("%s: pages of %d: %d ids, want the %d of the unpaged list in its order", tc.actor, size, len(got), len(whole))
			}
			if tc.resume && fellBack > 0 || !tc.resume && resumed > 0 {
				t.Errorf("%s: pages of %d: %d resumed, %d walked again", tc.actor, size, resumed, fellBack)
			}
		}
	}
}

// idOfValue returns the id src gives v.
func idOfValue(t *testing.T, src store.Snapshot, v term.Value) uint32 {
	t.Helper()
	ids, ok := src.(IDSource)
	if !ok {
		t.Fatalf("%T is not an IDSource", src)
	}
	id, ok := ids.Lookup(v)
	if !ok {
		t.Fatalf("no id for %v", v)
	}
	return id
}

// TestCursorsCountNotedStreams checks that a walk resumed from a token and
// then kept in Cursors counts the streams it noted against the budget of
// ids (streamWeight each), not only the ids it returned: a budget that
// holds its ids but not its streams does not keep it.
func TestCursorsCountNotedStreams(t *testing.T) {
	ctx := t.Context()
	e := New(mustCompile(t, evaltest.GitHubPolicy))
	facts := seekFacts()
	snap, err := memoryStore(t, facts, len(facts)).Snapshot(ctx, store.Consistency{})
	if err != nil {
		t.Fatal(err)
	}
	req := Request{Source: snap}
	all := term.Entity("User", "all")
	first, err := e.List(ctx, req, all, "read", "Repository", Page{Size: 1500})
	if err != nil {
		t.Fatal(err)
	}
	resume := func(c *Cursors) ListResult {
		t.Helper()
		res, err := e.List(ctx, req, all, "read", "Repository", Page{Size: 100, Token: first.NextToken, Cursors: c})
		if err != nil || len(res.IDs) != 100 {
			t.Fatalf("the resumed page: %d ids, %v", len(res.IDs), err)
		}
		return res
	}
	roomy := NewCursors(4, 1_000_000, time.Minute)
	want := resume(roomy)
	if roomy.Len() != 1 {
		t.Fatalf("a roomy Cursors keeps %d walks, want the resumed one", roomy.Len())
	}
	var run *listRun
	for _, r := range roomy.runs {
		run = r
	}
	if run.seek == nil || run.seek.noted == 0 {
		t.Fatalf("the kept walk noted no stream (seek %+v): the test needs a resumed walk", run.seek)
	}
	if w := run.seen + streamWeight*run.seek.noted; roomy.ids != w {
		t.Errorf("Cursors counts %d ids for a walk of %d ids and %d noted streams, want %d", roomy.ids, run.seen, run.seek.noted, w)
	}
	// Room for the ids, not for the streams: not kept, the page the same.
	tight := NewCursors(4, run.seen+streamWeight*run.seek.noted-1, time.Minute)
	got := resume(tight)
	if tight.Len() != 0 || tight.ids != 0 {
		t.Errorf("a Cursors with room for %d ids keeps %d walks (%d ids) of weight %d", tight.maxIDs, tight.Len(), tight.ids, run.weight())
	}
	if !slices.Equal(got.IDs, want.IDs) {
		t.Errorf("the page differs when its walk is not kept:\n%v\n%v", got.IDs, want.IDs)
	}
	// Taken back for the next page, the walk leaves no count behind.
	if _, err := e.List(ctx, req, all, "read", "Repository", Page{Size: 100, Token: want.NextToken, Cursors: roomy}); err != nil {
		t.Fatal(err)
	}
	if roomy.Len() != 1 || roomy.ids != func() int {
		for _, r := range roomy.runs {
			return r.weight()
		}
		return -1
	}() {
		t.Errorf("after the next page: %d walks, %d ids counted", roomy.Len(), roomy.ids)
	}
}
