package evaluator

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/castellan-authz/castellan/evaluator/evaltest"
	"github.com/castellan-authz/castellan/internal/cputime"
	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/memory"
)

// Sinks keep the compiler from optimizing benchmarked calls away.
var (
	sinkDecision Decision
	sinkBools    []bool
	sinkStrings  []string
	sinkList     ListResult
	sinkRows     []Row
)

// loadMemory stores facts in a fresh in-memory store and returns a
// snapshot of it.
func loadMemory(tb testing.TB, facts []term.Fact) store.Snapshot {
	tb.Helper()
	ctx := context.Background()
	st := memory.New()
	tb.Cleanup(func() { st.Close() })
	const chunk = 100_000
	for i := 0; i < len(facts); i += chunk {
		if _, err := st.Write(ctx, []store.Op{{Insert: facts[i:min(i+chunk, len(facts))]}}); err != nil {
			tb.Fatalf("loading facts: %v", err)
		}
	}
	snap, err := st.Snapshot(ctx, store.Consistency{})
	if err != nil {
		tb.Fatalf("snapshot: %v", err)
	}
	return snap
}

// loop runs op for b.Loop and, where the platform tells, reports the CPU
// time of the benchmarking thread per operation (cpu-ns/op).
//
// The thread stays locked until after the calls of done (a list walk kept
// between pages, an iter.Pull coroutine, must be stopped on the thread
// state it was started on).
func loop(b *testing.B, op func(), done ...func()) {
	b.ReportAllocs()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for _, f := range done {
		defer f()
	}
	start, ok := cputime.Thread()
	n := 0
	for b.Loop() {
		op()
		n++
	}
	if end, ok2 := cputime.Thread(); ok && ok2 && n > 0 {
		b.ReportMetric(float64(end-start)/float64(n), "cpu-ns/op")
	}
}

// BenchmarkGitHub measures the evaluator on the GitHub-like model of
// evaltest: 10,000 organizations, 100,000 repositories, about 1.2M facts in
// the in-memory store.
func BenchmarkGitHub(b *testing.B) {
	const orgs, repos = 10_000, 100_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	src, member, nfacts := func() (store.Snapshot, term.Value, int) {
		facts := evaltest.GitHubFacts(1, orgs, repos)
		return loadMemory(b, facts), facts[2].Args[0], len(facts)
	}()
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.Logf("facts=%d store heap=%.1f MB (%.0f B/fact)", nfacts,
		float64(after.HeapAlloc-before.HeapAlloc)/1e6, float64(after.HeapAlloc-before.HeapAlloc)/float64(nfacts))
	e := New(mustCompile(b, evaltest.GitHubPolicy))
	ctx := context.Background()
	req := Request{Source: src}

	// member is the first member of o0, and repository r10000 is in o0:
	// allow -> has_permission -> has_role(reader) -> has_relation +
	// has_role(member).
	org0repo := term.Entity("Repository", evaltest.RepoID(orgs)) // in o0
	d, err := e.Authorize(ctx, req, member, "read", org0repo)
	if err != nil || !d.Allowed {
		b.Fatalf("setup: member cannot read: %v %v", d.Allowed, err)
	}
	b.Run(fmt.Sprintf("authorize/2hop/facts=%d", nfacts), func(b *testing.B) {
		loop(b, func() {
			sinkDecision, _ = e.Authorize(ctx, req, member, "read", org0repo)
		})
	})
	b.Run(fmt.Sprintf("authorize/2hop-latency/facts=%d", nfacts), func(b *testing.B) {
		// Per-call latency percentiles (ns); the clock is read around each
		// call, which adds ~50ns to every sample.
		var samples []time.Duration
		for b.Loop() {
			start := time.Now()
			sinkDecision, _ = e.Authorize(ctx, req, member, "read", org0repo)
			samples = append(samples, time.Since(start))
		}
		slices.Sort(samples)
		b.ReportMetric(float64(samples[len(samples)/2]), "p50-ns")
		b.ReportMetric(float64(samples[len(samples)*99/100]), "p99-ns")
	})
	b.Run(fmt.Sprintf("authorize/context-facts/facts=%d", nfacts), func(b *testing.B) {
		// The grant comes from context facts: carol is a member of o0 for
		// this request only.
		carol := term.Entity("User", "carol")
		creq := Request{Source: src, Context: []term.Fact{
			{Predicate: "has_role", Args: []term.Value{carol, term.String("member"), term.Entity("Organization", evaltest.OrgID(0))}},
			{Predicate: "has_role", Args: []term.Value{carol, term.String("reader"), term.Entity("Repository", evaltest.RepoID(5))}},
			{Predicate: "has_relation", Args: []term.Value{term.Entity("Repository", "new"), term.String("organization"), term.Entity("Organization", evaltest.OrgID(0))}},
		}}
		loop(b, func() {
			sinkDecision, _ = e.Authorize(ctx, creq, carol, "read", org0repo)
		})
	})
	stranger := term.Entity("User", "nobody")
	b.Run(fmt.Sprintf("authorize/denied/facts=%d", nfacts), func(b *testing.B) {
		loop(b, func() {
			sinkDecision, _ = e.Authorize(ctx, req, stranger, "push", org0repo)
		})
	})
	issue := term.Entity("Issue", evaltest.RepoID(orgs)+"-0")
	b.Run(fmt.Sprintf("authorize/issue-3hop/facts=%d", nfacts), func(b *testing.B) {
		loop(b, func() {
			sinkDecision, _ = e.Authorize(ctx, req, member, "read", issue)
		})
	})
	b.Run(fmt.Sprintf("authorize-each/100/facts=%d", nfacts), func(b *testing.B) {
		// 100 repositories of organizations 0..9, 10 of them in o0.
		var resources []term.Value
		for i := range 100 {
			resources = append(resources, term.Entity("Repository", evaltest.RepoID(i/10+(i%10)*orgs)))
		}
		loop(b, func() {
			sinkBools, _ = e.AuthorizeEach(ctx, req, member, "read", resources)
		})
	})
	b.Run(fmt.Sprintf("actions/facts=%d", nfacts), func(b *testing.B) {
		loop(b, func() {
			sinkStrings, _ = e.Actions(ctx, req, member, org0repo)
		})
	})
	power := term.Entity("User", evaltest.PowerUser)
	lr, err := e.List(ctx, req, power, "read", "Repository", Page{})
	if err != nil || len(lr.IDs) != 1000 {
		b.Fatalf("setup: power user lists %d repositories: %v", len(lr.IDs), err)
	}
	b.Run(fmt.Sprintf("list/1000-of-%d/facts=%d", repos, nfacts), func(b *testing.B) {
		loop(b, func() {
			sinkList, _ = e.List(ctx, req, power, "read", "Repository", Page{})
		})
	})
	b.Run(fmt.Sprintf("query/allow-repo-in-ids/facts=%d", nfacts), func(b *testing.B) {
		q := Query{
			Predicate: Call{Name: "allow", Args: []string{"u", "a", "r"}},
			Constraints: map[string]Constraint{
				"u": {Type: "User", IDs: []string{member.ID}},
				"a": {Type: "String"},
				"r": {Type: "Repository", IDs: []string{evaltest.RepoID(orgs), evaltest.RepoID(1), evaltest.RepoID(2)}},
			},
		}
		loop(b, func() {
			sinkRows, _ = e.Query(ctx, req, q)
		})
	})
}

// BenchmarkFolders measures recursion: a tree of 11,111 folders (branching
// 10, depth 4) where a viewer of the root reads every folder through
// `role if role on "parent"`.
func BenchmarkFolders(b *testing.B) {
	e := New(mustCompile(b, evaltest.FolderPolicy))
	var facts []term.Fact
	id := func(i int) term.Value { return term.Entity("Folder", fmt.Sprint(i)) }
	n := 1
	for level, width := 0, 1; level < 4; level++ {
		for i := range width * 10 {
			child := n + i
			parent := (child - 1) / 10
			facts = append(facts, term.Fact{Predicate: "has_relation", Args: []term.Value{id(child), term.String("parent"), id(parent)}})
		}
		n += width * 10
		width *= 10
	}
	u := term.Entity("User", "u")
	facts = append(facts, term.Fact{Predicate: "has_role", Args: []term.Value{u, term.String("viewer"), id(0)}})
	src := loadMemory(b, facts)
	ctx := context.Background()
	req := Request{Source: src}
	lr, err := e.List(ctx, req, u, "read", "Folder", Page{})
	if err != nil || len(lr.IDs) != n {
		b.Fatalf("setup: lists %d folders of %d: %v", len(lr.IDs), n, err)
	}
	b.Run(fmt.Sprintf("list/%d", n), func(b *testing.B) {
		loop(b, func() {
			sinkList, _ = e.List(ctx, req, u, "read", "Folder", Page{})
		})
	})
	b.Run("authorize/depth-4", func(b *testing.B) {
		leaf := id(n - 1)
		loop(b, func() {
			sinkDecision, _ = e.Authorize(ctx, req, u, "read", leaf)
		})
	})
}
