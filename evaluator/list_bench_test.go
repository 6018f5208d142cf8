package evaluator

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/castellan-authz/castellan/evaluator/evaltest"
	"github.com/castellan-authz/castellan/lang/term"
)

// listScale is the model of BenchmarkListScale: 1,000,000 repositories in
// 10,000 organizations (100 each); "all" is a member of every
// organization (reads the 1,000,000), "power" of 10 (reads 1,000), and a
// user with a direct role on one repository checks it while lists run.
func listScale() (facts []term.Fact, all, power, reader term.Value, repo term.Value) {
	const orgs, repos = 10_000, 1_000_000
	all, power, reader = term.Entity("User", "all"), term.Entity("User", "power"), term.Entity("User", "reader")
	role := func(u term.Value, r string, res term.Value) term.Fact {
		return term.Fact{Predicate: "has_role", Args: []term.Value{u, term.String(r), res}}
	}
	facts = make([]term.Fact, 0, repos+orgs+20)
	for i := range orgs {
		org := term.Entity("Organization", evaltest.OrgID(i))
		facts = append(facts, role(all, "member", org))
		if i < 10 {
			facts = append(facts, role(power, "member", org))
		}
	}
	for i := range repos {
		facts = append(facts, term.Fact{Predicate: "has_relation", Args: []term.Value{
			term.Entity("Repository", evaltest.RepoID(i)), term.String("organization"), term.Entity("Organization", evaltest.OrgID(i%orgs))}})
	}
	repo = term.Entity("Repository", evaltest.RepoID(repos/2))
	facts = append(facts, role(reader, "reader", repo))
	// CASTELLAN_LIST_SCALE_FACTS=N pads the store to about N facts with
	// roles of other users on the repositories (issue 17's "list 1,000 of
	// 1M repositories at 10M facts"): they add no answer to any list above.
	if v := os.Getenv("CASTELLAN_LIST_SCALE_FACTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			panic("CASTELLAN_LIST_SCALE_FACTS: " + err.Error())
		}
		for i := 0; len(facts) < n; i++ {
			u := term.Entity("User", "u"+strconv.Itoa(i))
			facts = append(facts, role(u, "reader", term.Entity("Repository", evaltest.RepoID((i*7919)%repos))))
		}
	}
	return facts, all, power, reader, repo
}

// BenchmarkListScale measures list at 1,000,000 repositories on the
// in-memory store (GitHubPolicy): a page of 100 (the first; the next
// through a kept walk; a deep one through a token whose walk was not
// kept, resumed from its stream or walked again), 1,000 of 1,000,000, the whole 1,000,000 streamed (with the peak
// heap it adds), and authorize latency while lists run. The baseline (the
// tabled evaluation that List used before, via Query, which materializes
// and sorts the whole answer) runs only when asked by name:
// -bench 'ListScale/baseline'.
func BenchmarkListScale(b *testing.B) {
	facts, all, power, reader, repo := listScale()
	src := loadMemory(b, facts)
	nfacts := len(facts)
	facts = nil
	e := New(mustCompile(b, evaltest.GitHubPolicy))
	ctx := context.Background()
	req := Request{Source: src}
	size := fmt.Sprintf("facts=%d", nfacts)

	b.Run("page-100/first/"+size, func(b *testing.B) {
		loop(b, func() {
			sinkList, _ = e.List(ctx, req, all, "read", "Repository", Page{Size: 100})
		})
		if len(sinkList.IDs) != 100 || sinkList.NextToken == "" {
			b.Fatalf("first page: %d ids, token %q", len(sinkList.IDs), sinkList.NextToken)
		}
	})
	b.Run("page-100/next-kept-walk/"+size, func(b *testing.B) {
		cur := NewCursors(4, 2_000_000, time.Minute)
		page := Page{Size: 100, Cursors: cur}
		pages := 0
		loop(b, func() {
			res, err := e.List(ctx, req, all, "read", "Repository", page)
			if err != nil {
				b.Fatal(err)
			}
			pages++
			page.Token = res.NextToken // "" at the end: the list starts again
		}, cur.Clear)
		b.ReportMetric(float64(pages), "pages")
	})
	b.Run("page-100/deep-500000-not-kept/"+size, func(b *testing.B) {
		// The token of a page ending at 500,000, no walk kept: the page
		// resumes the walk from the stream the token names (seek.go).
		res, err := e.List(ctx, req, all, "read", "Repository", Page{Size: 500_000})
		if err != nil || len(res.IDs) != 500_000 {
			b.Fatalf("%d ids: %v", len(res.IDs), err)
		}
		tok := res.NextToken
		loop(b, func() {
			var err error
			sinkList, err = e.List(ctx, req, all, "read", "Repository", Page{Size: 100, Token: tok})
			if err != nil {
				b.Fatal(err)
			}
		})
		if len(sinkList.IDs) != 100 {
			b.Fatalf("deep page: %d ids", len(sinkList.IDs))
		}
	})
	// A token saying only how many answers came before (a token of
	// version 2, or one whose answers did not all come from streams):
	// the walk runs again and skips them.
	b.Run("page-100/deep-500000-walked-again/"+size, func(b *testing.B) {
		tok := pageToken{rev: src.Revision(), fp: listFingerprint(all, "read", "Repository", nil), pos: 500_000}.encode()
		loop(b, func() {
			var err error
			sinkList, err = e.List(ctx, req, all, "read", "Repository", Page{Size: 100, Token: tok})
			if err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("list-1000-of-1M/"+size, func(b *testing.B) {
		var samples []time.Duration
		loop(b, func() {
			start := time.Now()
			sinkList, _ = e.List(ctx, req, power, "read", "Repository", Page{})
			samples = append(samples, time.Since(start))
		})
		if len(sinkList.IDs) != 1000 {
			b.Fatalf("power lists %d repositories, want 1000", len(sinkList.IDs))
		}
		slices.Sort(samples)
		b.ReportMetric(float64(samples[len(samples)/2]), "p50-ns")
	})
	b.Run("unpaged-1M-streamed/"+size, func(b *testing.B) {
		var base, ms runtime.MemStats
		var peak uint64
		loop(b, func() {
			runtime.GC()
			runtime.ReadMemStats(&base)
			n := 0
			err := e.ListEach(ctx, req, all, "read", "Repository", func(string, bool) bool {
				if n++; n%100_000 == 0 {
					runtime.ReadMemStats(&ms)
					if ms.HeapAlloc > base.HeapAlloc {
						peak = max(peak, ms.HeapAlloc-base.HeapAlloc)
					}
				}
				return true
			})
			if err != nil || n != 1_000_000 {
				b.Fatalf("streamed %d ids: %v", n, err)
			}
		})
		b.ReportMetric(float64(peak)/1e6, "peak-heap-MB")
	})
	b.Run("authorize-p99/lists=0,2/"+size, func(b *testing.B) {
		measure := func(lists int) (p50, p99 time.Duration) {
			var stop atomic.Bool
			var wg sync.WaitGroup
			for range lists {
				wg.Go(func() {
					for !stop.Load() {
						_ = e.ListEach(ctx, req, all, "read", "Repository", func(string, bool) bool { return !stop.Load() })
					}
				})
			}
			var samples []time.Duration
			for range 20_000 {
				start := time.Now()
				sinkDecision, _ = e.Authorize(ctx, req, reader, "read", repo)
				samples = append(samples, time.Since(start))
			}
			stop.Store(true)
			wg.Wait()
			slices.Sort(samples)
			return samples[len(samples)/2], samples[len(samples)*99/100]
		}
		for b.Loop() {
			p50, p99 := measure(0)
			b.ReportMetric(float64(p50), "alone-p50-ns")
			b.ReportMetric(float64(p99), "alone-p99-ns")
			p50, p99 = measure(2)
			b.ReportMetric(float64(p50), "lists-p50-ns")
			b.ReportMetric(float64(p99), "lists-p99-ns")
		}
	})
	b.Run("baseline/tabled-query-1000-of-1M/"+size, func(b *testing.B) {
		loop(b, func() {
			rows, err := e.Query(ctx, req, Query{
				Predicate: Call{Name: "allow", Args: []string{"a", "act", "r"}},
				Constraints: map[string]Constraint{"a": {Type: "User", IDs: []string{"power"}},
					"act": {Type: term.TypeString, IDs: []string{"read"}}, "r": {Type: "Repository"}},
			})
			if err != nil || len(rows) != 1000 {
				b.Fatalf("baseline: %d rows, %v", len(rows), err)
			}
		})
	})
	b.Run("baseline/tabled-query-1M/"+size, func(b *testing.B) {
		var base, ms runtime.MemStats
		loop(b, func() {
			runtime.GC()
			runtime.ReadMemStats(&base)
			rows, err := e.Query(ctx, req, Query{
				Predicate: Call{Name: "allow", Args: []string{"a", "act", "r"}},
				Constraints: map[string]Constraint{"a": {Type: "User", IDs: []string{"all"}},
					"act": {Type: term.TypeString, IDs: []string{"read"}}, "r": {Type: "Repository"}},
			})
			runtime.ReadMemStats(&ms)
			if err != nil || len(rows) != 1_000_000 {
				b.Fatalf("baseline: %d rows, %v", len(rows), err)
			}
			b.ReportMetric(float64(ms.HeapAlloc-base.HeapAlloc)/1e6, "heap-after-MB")
		})
	})
}

// BenchmarkListOneStream measures the page of 100 at 500,000 whose walk
// was not kept when the whole answer comes from one stream (seek.go): a
// user reads 1,000,000 repositories through a direct role on each, so the
// resumed walk reads the stream's first 500,000 facts to find the token's
// answer (against walking the list again).
func BenchmarkListOneStream(b *testing.B) {
	const repos = 1_000_000
	direct := term.Entity("User", "direct")
	facts := make([]term.Fact, 0, repos)
	for i := range repos {
		facts = append(facts, term.Fact{Predicate: "has_role", Args: []term.Value{direct, term.String("reader"), term.Entity("Repository", evaltest.RepoID(i))}})
	}
	benchDeepPage(b, facts, direct, repos/2)
}

// BenchmarkListManyStreams measures the page of 100 at 50,000 whose walk
// was not kept when each answer comes from a stream of its own: 100,000
// organizations of one repository each, all of whose member reads them.
// A resumed walk notes the 50,000 streams before the token (seek.go).
func BenchmarkListManyStreams(b *testing.B) {
	const orgs = 100_000
	member := term.Entity("User", "member")
	facts := make([]term.Fact, 0, 2*orgs)
	for i := range orgs {
		org := term.Entity("Organization", evaltest.OrgID(i))
		facts = append(facts,
			term.Fact{Predicate: "has_role", Args: []term.Value{member, term.String("member"), org}},
			term.Fact{Predicate: "has_relation", Args: []term.Value{term.Entity("Repository", evaltest.RepoID(i)), term.String("organization"), org}})
	}
	benchDeepPage(b, facts, member, orgs/2)
}

// benchDeepPage loads facts and measures, for actor reading Repository
// under evaltest.GitHubPolicy, the page of 100 after the first at
// answers: resumed from a token naming its stream, whose walk was not
// kept ("not-kept"), and from the same token naming none, which walks the
// list again and skips ("walked-again").
func benchDeepPage(b *testing.B, facts []term.Fact, actor term.Value, at int) {
	src := loadMemory(b, facts)
	e := New(mustCompile(b, evaltest.GitHubPolicy))
	ctx := context.Background()
	req := Request{Source: src}
	res, err := e.List(ctx, req, actor, "read", "Repository", Page{Size: at})
	if err != nil || len(res.IDs) != at {
		b.Fatalf("%d ids: %v", len(res.IDs), err)
	}
	tok, err := decodePageToken(res.NextToken)
	if err != nil || tok.stream == 0 {
		b.Fatalf("token %+v (%v): want one naming a stream", tok, err)
	}
	pos := tok
	pos.stream, pos.last = 0, ""
	for _, c := range []struct{ name, token string }{{"not-kept", res.NextToken}, {"walked-again", pos.encode()}} {
		b.Run(fmt.Sprintf("page-100/deep-%d-%s", at, c.name), func(b *testing.B) {
			loop(b, func() {
				var err error
				sinkList, err = e.List(ctx, req, actor, "read", "Repository", Page{Size: 100, Token: c.token})
				if err != nil || len(sinkList.IDs) != 100 {
					b.Fatalf("%d ids: %v", len(sinkList.IDs), err)
				}
			})
		})
	}
}
