package evaluator

import (
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/castellan-authz/castellan/lang/term"
)

const listPolicy = `actor User {}
resource Folder { roles = ["viewer"]; }
resource Doc {
  roles = ["viewer", "editor"];
  permissions = ["read"];
  relations = { folder: Folder };
  "read" if "viewer";
  "viewer" if "editor";
  "viewer" if "viewer" on "folder";
}
has_permission(u: User, "read", _: Doc) if is_admin(u);
declare is_admin(User);
`

// listFacts: u views 1,500 docs directly, edits 300 of them, and views a
// folder of 500 docs, 200 of which it views already: 1,800 docs, most
// derived more than once. root is an admin (every doc) viewing 3 docs.
func listFacts() []term.Fact {
	u, root := term.Entity("User", "u"), term.Entity("User", "root")
	folder := term.Entity("Folder", "f")
	doc := func(i int) term.Value { return term.Entity("Doc", fmt.Sprintf("d%04d", i)) }
	role := func(a term.Value, r string, res term.Value) term.Fact {
		return term.Fact{Predicate: "has_role", Args: []term.Value{a, term.String(r), res}}
	}
	var fs []term.Fact
	for i := range 1500 {
		fs = append(fs, role(u, "viewer", doc((i*7)%1500)))
	}
	for i := range 300 {
		fs = append(fs, role(u, "editor", doc(i*5)))
	}
	fs = append(fs, role(u, "viewer", folder))
	for i := 1300; i < 1800; i++ {
		fs = append(fs, term.Fact{Predicate: "has_relation", Args: []term.Value{doc(i), term.String("folder"), folder}})
	}
	fs = append(fs, term.Fact{Predicate: "is_admin", Args: []term.Value{root}})
	for i := range 3 {
		fs = append(fs, role(root, "viewer", doc(i)))
	}
	return fs
}

// TestListPagesLarge checks the lazy list against the tabled evaluation
// (Query): the same set, each id once, sorted when at most SortedMax ids;
// the pages concatenated (with a kept walk or walking again) equal the
// unpaged answer and ListEach, and the wildcard comes once.
func TestListPagesLarge(t *testing.T) {
	e := New(mustCompile(t, listPolicy))
	req := Request{Source: &sliceSource{facts: listFacts()}}
	ctx := t.Context()
	for _, tc := range []struct {
		actor    string
		n        int
		wildcard bool
	}{{"u", 1800, false}, {"root", 3, true}, {"nobody", 0, false}} {
		actor := term.Entity("User", tc.actor)
		rows, err := e.Query(ctx, req, Query{
			Predicate: Call{Name: "allow", Args: []string{"a", "act", "r"}},
			Constraints: map[string]Constraint{"a": {Type: "User", IDs: []string{tc.actor}},
				"act": {Type: term.TypeString, IDs: []string{"read"}}, "r": {Type: "Doc"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		var tabled []string
		for _, r := range rows {
			if r["r"] != nil {
				tabled = append(tabled, *r["r"])
			}
		}
		whole, err := e.List(ctx, req, actor, "read", "Doc", Page{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tabled, slices.Sorted(slices.Values(whole.IDs))); diff != "" || len(whole.IDs) != tc.n || whole.Wildcard != tc.wildcard {
			t.Fatalf("%s: List against the tabled answer (-want +got):\n%s\n%d ids, wildcard %v", tc.actor, diff, len(whole.IDs), whole.Wildcard)
		}
		if sorted := slices.IsSorted(whole.IDs); sorted != (tc.n <= SortedMax) {
			t.Errorf("%s: %d ids, sorted %v", tc.actor, tc.n, sorted)
		}
		var each []string
		wild := 0
		if err := e.ListEach(ctx, req, actor, "read", "Doc", func(id string, w bool) bool {
			if w {
				wild++
			} else {
				each = append(each, id)
			}
			return true
		}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(each, whole.IDs) || (wild == 1) != tc.wildcard || wild > 1 {
			t.Errorf("%s: ListEach gives %d ids (equal %v), %d wildcards", tc.actor, len(each), slices.Equal(each, whole.IDs), wild)
		}
		for _, cursors := range []*Cursors{nil, NewCursors(8, 1<<20, time.Minute)} {
			for _, size := range []int{1, 2, 250, 1000, 1799, 1800, 5000} {
				var got []string
				wild := 0
				page := Page{Size: size, Cursors: cursors}
				for n := 0; ; n++ {
					res, err := e.List(ctx, req, actor, "read", "Doc", page)
					if err != nil {
						t.Fatal(err)
					}
					if len(res.IDs) > size || (len(res.IDs) == 0 && !res.Wildcard && n > 0) {
						t.Fatalf("%s: page %d of %d ids, size %d", tc.actor, n, len(res.IDs), size)
					}
					if res.Wildcard {
						wild++
					}
					got = append(got, res.IDs...)
					if res.NextToken == "" {
						break
					}
					page.Token = res.NextToken
				}
				if !slices.Equal(got, whole.IDs) || (wild == 1) != tc.wildcard || wild > 1 {
					t.Errorf("%s: pages of %d (kept walks %v): %d ids, equal %v, %d wildcards", tc.actor, size, cursors != nil, len(got), slices.Equal(got, whole.IDs), wild)
				}
			}
			if cursors != nil && cursors.Len() != 0 {
				t.Errorf("%d walks kept after every list ended", cursors.Len())
			}
		}
	}
}

// TestListPageTokens checks that a token names its list: one of another
// actor, action, type or context, or altered, is ErrInvalidPageToken.
func TestListPageTokens(t *testing.T) {
	e := New(mustCompile(t, listPolicy))
	req := Request{Source: &sliceSource{facts: listFacts()}}
	u := term.Entity("User", "u")
	res, err := e.List(t.Context(), req, u, "read", "Doc", Page{Size: 10})
	if err != nil || res.NextToken == "" {
		t.Fatalf("first page: %v, token %q", err, res.NextToken)
	}
	if rev, err := PageTokenRevision(res.NextToken); err != nil || rev != req.Source.Revision() {
		t.Errorf("PageTokenRevision = %d, %v; want %d", rev, err, req.Source.Revision())
	}
	tampered := []byte(res.NextToken)
	tampered[5] ^= 2
	ctxReq := req
	ctxReq.Context = []term.Fact{{Predicate: "is_admin", Args: []term.Value{term.Entity("User", "x")}}}
	for _, tc := range []struct {
		name        string
		req         Request
		actor       term.Value
		action, typ string
		token       string
	}{
		{"other actor", req, term.Entity("User", "root"), "read", "Doc", res.NextToken},
		{"other action", req, u, "write", "Doc", res.NextToken},
		{"other type", req, u, "read", "Folder", res.NextToken},
		{"other context", ctxReq, u, "read", "Doc", res.NextToken},
		{"tampered", req, u, "read", "Doc", string(tampered)},
		{"garbage", req, u, "read", "Doc", "x"},
	} {
		if _, err := e.List(t.Context(), tc.req, tc.actor, tc.action, tc.typ, Page{Size: 10, Token: tc.token}); !errors.Is(err, ErrInvalidPageToken) {
			t.Errorf("%s: err = %v, want ErrInvalidPageToken", tc.name, err)
		}
	}
}

// FuzzPageToken checks that decoding never panics and that what decodes
// encodes back to the same token.
func FuzzPageToken(f *testing.F) {
	f.Add(pageToken{rev: 7, fp: 1 << 60, pos: 1000, cursor: 3}.encode())
	f.Add(pageToken{rev: 7, fp: 1 << 60, pos: 1000, cursor: 3, stream: 12, last: "repo-1"}.encode())
	f.Add(pageToken{rev: 7, fp: 1 << 60, pos: 1000, cursor: 3}.encodeVersion(2))
	f.Add("")
	f.Add("AAAA")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := decodePageToken(s)
		if err != nil {
			return
		}
		if again := tok.encode(); again != s && tok.encodeVersion(2) != s {
			t.Errorf("decoded %q to %+v, which encodes to %q", s, tok, again)
		}
	})
}

// TestIDSet adds ids to the set of a list walk's distinct answers across
// its growth, its chunks and an id longer than a chunk: each is new once.
func TestIDSet(t *testing.T) {
	var s idSet
	seed := maphash.MakeSeed()
	long := strings.Repeat("x", idChunk+10)
	ids := []string{"", long}
	for i := range 300_000 {
		ids = append(ids, "repo-"+strconv.Itoa(i))
	}
	for round := range 2 {
		for _, id := range ids {
			if got := s.add(seed, id); got != (round == 0) {
				t.Fatalf("round %d: add(%.20q) = %v", round, id, got)
			}
		}
	}
	if s.n != len(ids) || len(s.chunks) < 3 {
		t.Fatalf("%d ids in %d chunks, want %d ids in 3 chunks or more", s.n, len(s.chunks), len(ids))
	}
	for i, tag := range s.tags {
		if tag != 0 && string(s.bytesAt(s.refs[i])) == long {
			return
		}
	}
	t.Fatal("the long id is not held whole")
}

// TestListAnswerSetOnIDs lists from the memory store (an IDSource: the
// walk keeps its distinct answers by id, in a hash set and then a bitset
// past 4,096) 13,000 docs derived up to three times each, plus docs that
// only context facts name (kept by their strings) and one a context fact
// names again: each comes once, ListEach and pages agree.
func TestListAnswerSetOnIDs(t *testing.T) {
	u, folder := term.Entity("User", "u"), term.Entity("Folder", "f")
	doc := func(i int) term.Value { return term.Entity("Doc", fmt.Sprintf("d%05d", i)) }
	role := func(a term.Value, r string, res term.Value) term.Fact {
		return term.Fact{Predicate: "has_role", Args: []term.Value{a, term.String(r), res}}
	}
	var fs []term.Fact
	for i := range 10_000 {
		fs = append(fs, role(u, "viewer", doc((i*7919)%10_000)))
	}
	for i := range 3000 {
		fs = append(fs, role(u, "editor", doc(i*3)))
	}
	fs = append(fs, role(u, "viewer", folder))
	for i := 8000; i < 13_000; i++ {
		fs = append(fs, term.Fact{Predicate: "has_relation", Args: []term.Value{doc(i), term.String("folder"), folder}})
	}
	want := map[string]bool{}
	for i := range 13_000 {
		want[doc(i).ID] = true
	}
	// d00005 is viewed in the store and in the context (the same fact);
	// d00001 is viewed in the store and edited in the context only: found
	// through a stored fact and through a context fact, it is one answer.
	ctxFacts := []term.Fact{role(u, "viewer", doc(5)), role(u, "editor", doc(1)), role(u, "viewer", term.Entity("Doc", "only-context")), role(u, "editor", term.Entity("Doc", "only-context"))}
	e := New(mustCompile(t, listPolicy))
	req := Request{Source: loadMemory(t, fs), Context: ctxFacts}
	want["only-context"] = true
	ctx := t.Context()
	whole, err := e.List(ctx, req, u, "read", "Doc", Page{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, id := range whole.IDs {
		if got[id] {
			t.Fatalf("%s listed twice", id)
		}
		got[id] = true
	}
	if len(got) != len(want) || !got["only-context"] || !got["d12999"] {
		t.Fatalf("%d ids, want %d", len(got), len(want))
	}
	rows, err := e.Query(ctx, req, Query{
		Predicate: Call{Name: "allow", Args: []string{"u", "a", "r"}},
		Constraints: map[string]Constraint{
			"u": {Type: "User", IDs: []string{"u"}},
			"a": {Type: "String", IDs: []string{"read"}},
			"r": {Type: "Doc"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(want) {
		t.Fatalf("Query gives %d rows, want %d distinct docs", len(rows), len(want))
	}
	var each []string
	if err := e.ListEach(ctx, req, u, "read", "Doc", func(id string, _ bool) bool {
		each = append(each, id)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(each, whole.IDs) {
		t.Fatalf("ListEach gives %d ids, List %d", len(each), len(whole.IDs))
	}
	var paged []string
	page := Page{Size: 3000}
	for {
		res, err := e.List(ctx, req, u, "read", "Doc", page)
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, res.IDs...)
		if page.Token = res.NextToken; page.Token == "" {
			break
		}
	}
	if !slices.Equal(paged, whole.IDs) {
		t.Fatalf("pages of 3,000 give %d ids, List %d", len(paged), len(whole.IDs))
	}
}
