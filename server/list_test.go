package server

import (
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/castellan-authz/castellan/evaluator"
	"github.com/castellan-authz/castellan/store/pgtest"
)

// listOf asks an actor's list of repositories: every page of page_size
// size (0: one unpaged request), and returns the ids and the tokens.
func listPages(t *testing.T, e *testEnv, actor string, size int) (ids []string, tokens []string) {
	t.Helper()
	body := map[string]any{"actor_type": "User", "actor_id": actor, "action": "read", "resource_type": "Repository"}
	if size == 0 {
		var out struct {
			Results []string `json:"results"`
		}
		e.must(t, http.StatusOK, "POST", "/api/list", body).json(t, &out)
		return out.Results, nil
	}
	body["page_size"] = size
	for {
		var out struct {
			Results []string `json:"results"`
			Next    *string  `json:"next_page_token"`
		}
		e.must(t, http.StatusOK, "POST", "/api/list", body).json(t, &out)
		ids = append(ids, out.Results...)
		if out.Next == nil {
			return ids, tokens
		}
		tokens = append(tokens, *out.Next)
		body["page_token"] = *out.Next
	}
}

// readers makes alice a reader of n repositories r<from>..r<from+n-1>.
func readers(from, n int) []map[string]any {
	var facts []map[string]any
	for i := from; i < from+n; i++ {
		facts = append(facts, fact("has_role", "User:alice", "reader", fmt.Sprintf("Repository:r%d", i)))
	}
	return facts
}

// TestListPages checks, on both stores, that the pages of a list
// concatenated are its unpaged answer (sorted when small, in derivation
// order when large), that a page token pins the revision of the first page
// whatever is written meanwhile, and that bad, foreign and expired tokens
// are refused with a JSON error.
func TestListPages(t *testing.T) {
	stores := map[string]func(t *testing.T) *testEnv{
		"memory": func(t *testing.T) *testEnv { return newTestEnv(t, nil) },
		"postgres": func(t *testing.T) *testEnv {
			cfg := DefaultConfig()
			cfg.Dev = true
			return newTestEnvOn(t, cfg, openPostgres(t, pgtest.NewDatabase(t)))
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			e := open(t)
			e.uploadPolicy(t, testPolicy)

			// Small: sorted, pages cut from the sorted answer.
			e.insert(t, readers(0, 30)...)
			small, _ := listPages(t, e, "alice", 0)
			if !slices.IsSorted(small) || len(small) != 30 {
				t.Fatalf("small unpaged answer = %v, want 30 sorted ids", small)
			}
			if got, _ := listPages(t, e, "alice", 7); !slices.Equal(got, small) {
				t.Errorf("small answer by pages of 7:\n%v\nwant\n%v", got, small)
			}

			// Large (more than evaluator.SortedMax): derivation order, the
			// same unpaged and by pages.
			e.insert(t, readers(30, evaluator.SortedMax+470)...)
			whole, _ := listPages(t, e, "alice", 0)
			if len(whole) != evaluator.SortedMax+500 {
				t.Fatalf("unpaged answer has %d ids, want %d", len(whole), evaluator.SortedMax+500)
			}
			sorted := slices.Sorted(slices.Values(whole))
			if len(slices.Compact(slices.Clone(sorted))) != len(whole) {
				t.Fatal("unpaged answer repeats ids")
			}
			for _, size := range []int{1, 100, 999, 5000} {
				if got, _ := listPages(t, e, "alice", size); !slices.Equal(got, whole) {
					t.Errorf("pages of %d concatenated differ from the unpaged answer (%d ids, want %d)", size, len(got), len(whole))
				}
			}

			// A token pins its revision: writes after the first page change
			// neither the later pages nor their order.
			body := map[string]any{"actor_type": "User", "actor_id": "alice", "action": "read", "resource_type": "Repository", "page_size": 400}
			var p1 struct {
				Results []string `json:"results"`
				Next    *string  `json:"next_page_token"`
			}
			e.must(t, http.StatusOK, "POST", "/api/list", body).json(t, &p1)
			var dels []map[string]any
			for _, id := range whole[300:700] {
				dels = append(dels, fact("has_role", "User:alice", "reader", "Repository:"+id))
			}
			e.must(t, http.StatusOK, "POST", "/api/batch", []any{map[string]any{"deletes": dels, "inserts": readers(5000, 50)}})
			got := p1.Results
			tok := *p1.Next
			var again []string // page 2 asked twice: the retry gets the same page
			for n := 0; ; n++ {
				body["page_token"] = tok
				var p struct {
					Results []string `json:"results"`
					Next    *string  `json:"next_page_token"`
				}
				e.must(t, http.StatusOK, "POST", "/api/list", body).json(t, &p)
				if n == 0 {
					var retry struct {
						Results []string `json:"results"`
					}
					e.must(t, http.StatusOK, "POST", "/api/list", body).json(t, &retry)
					again = retry.Results
					if !slices.Equal(again, p.Results) {
						t.Errorf("page 2 asked again differs:\n%v\nwant\n%v", again, p.Results)
					}
				}
				got = append(got, p.Results...)
				if p.Next == nil {
					break
				}
				tok = *p.Next
			}
			if !slices.Equal(got, whole) {
				t.Errorf("pages across writes: %d ids, want the %d of the first page's revision", len(got), len(whole))
			}
			if now, _ := listPages(t, e, "alice", 0); len(now) != len(whole)-400+50 {
				t.Errorf("a new list sees %d ids, want %d", len(now), len(whole)-400+50)
			}

			// Bad tokens: 400 with a message; a token of another list too.
			body["page_token"] = *p1.Next
			bob := map[string]any{"actor_type": "User", "actor_id": "bob", "action": "read", "resource_type": "Repository", "page_size": 400, "page_token": *p1.Next}
			tampered := []byte(*p1.Next)
			tampered[3] ^= 1
			for what, b := range map[string]map[string]any{
				"garbage":  {"actor_type": "User", "actor_id": "alice", "action": "read", "resource_type": "Repository", "page_size": 4, "page_token": "!!"},
				"tampered": {"actor_type": "User", "actor_id": "alice", "action": "read", "resource_type": "Repository", "page_size": 4, "page_token": string(tampered)},
				"foreign":  bob,
			} {
				r := e.must(t, http.StatusBadRequest, "POST", "/api/list", b)
				if env := r.envelope(t); !strings.Contains(env.Message, "page token") || env.Code != codeInvalidRequest {
					t.Errorf("%s token: %+v", what, env)
				}
			}

			// Expired: with no walk kept, once compaction dropped what the
			// pinned revision saw, the token is refused with 410.
			e.srv.cursors.Clear()
			e.srv.cursors = evaluator.NewCursors(0, 0, 0)
			e.insert(t, readers(10_000, 3000)...)
			var p struct {
				Next *string `json:"next_page_token"`
			}
			delete(body, "page_token")
			e.must(t, http.StatusOK, "POST", "/api/list", body).json(t, &p)
			// A write, so that no snapshot at the first page's revision is
			// the latest any more, and a collection, so that none is
			// reachable: the deletes after them are compacted at once.
			e.insert(t, readers(20_000, 1)...)
			runtime.GC()
			runtime.GC()
			e.must(t, http.StatusOK, "POST", "/api/batch", []any{map[string]any{"deletes": readers(10_000, 3000)}})
			body["page_token"] = *p.Next
			r := e.do(t, "POST", "/api/list", body)
			if env := r.envelope(t); r.status != http.StatusGone || env.Code != codePageTokenExpired || !strings.Contains(env.Message, "restart the list") {
				t.Errorf("expired token: status %d, %+v", r.status, env)
			}
		})
	}
}

// TestListPagesAcrossReplicas pages a list through two replicas on one
// database: the second replica has no walk kept and resumes the walk at
// the token's revision from the stream the token names (evaluator
// seek.go), while writes go on.
func TestListPagesAcrossReplicas(t *testing.T) {
	url := pgtest.NewDatabase(t)
	cfg := DefaultConfig()
	cfg.Dev = true
	a := newTestEnvOn(t, cfg, openPostgres(t, url))
	a.uploadPolicy(t, testPolicy)
	a.insert(t, readers(0, evaluator.SortedMax+200)...)
	b := newTestEnvOn(t, cfg, openPostgres(t, url))
	whole, _ := listPages(t, a, "alice", 0)
	body := map[string]any{"actor_type": "User", "actor_id": "alice", "action": "read", "resource_type": "Repository", "page_size": 700}
	var p1, p2 struct {
		Results []string `json:"results"`
		Next    *string  `json:"next_page_token"`
	}
	off := a.must(t, http.StatusOK, "POST", "/api/list", body).json
	off(t, &p1)
	a.insert(t, readers(5000, 10)...)
	body["page_token"] = *p1.Next
	b.must(t, http.StatusOK, "POST", "/api/list", body).json(t, &p2)
	if diff := cmp.Diff(whole, append(p1.Results, p2.Results...)); diff != "" || p2.Next != nil {
		t.Errorf("pages through two replicas (-want +got):\n%s", diff)
	}
}

// TestLongListsTakeTurns runs more long unpaged lists at once than may
// stream together (bigLists): each waits its turn and gets its whole
// answer; one whose time limit passes while it waits gets a JSON error.
func TestLongListsTakeTurns(t *testing.T) {
	e := newTestEnv(t, nil)
	e.uploadPolicy(t, testPolicy)
	e.insert(t, readers(0, 3*evaluator.SortedMax)...)
	var wg sync.WaitGroup
	for range 2*cap(e.srv.bigLists) + 1 {
		wg.Go(func() {
			var out struct {
				Results []string `json:"results"`
			}
			r := e.do(t, "POST", "/api/list", map[string]any{"actor_type": "User", "actor_id": "alice", "action": "read", "resource_type": "Repository"})
			if r.status != http.StatusOK {
				t.Errorf("status %d: %s", r.status, r.body)
				return
			}
			r.json(t, &out)
			if len(out.Results) != 3*evaluator.SortedMax {
				t.Errorf("a list got %d ids, want %d", len(out.Results), 3*evaluator.SortedMax)
			}
		})
	}
	wg.Wait()

	// Every turn taken: a long list waits until its time limit.
	for range cap(e.srv.bigLists) {
		e.srv.bigLists <- struct{}{}
	}
	e.srv.cfg.QueryTimeout = 50 * time.Millisecond
	r := e.do(t, "POST", "/api/list", map[string]any{"actor_type": "User", "actor_id": "alice", "action": "read", "resource_type": "Repository"})
	if env := r.envelope(t); r.status != http.StatusServiceUnavailable || env.Code != codeTimeout {
		t.Errorf("a list that never got its turn: status %d, %s", r.status, r.body)
	}
	for range cap(e.srv.bigLists) {
		<-e.srv.bigLists
	}
}
