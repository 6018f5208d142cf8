package index_test

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/castellan-authz/castellan/internal/cputime"
	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/index"
	"github.com/castellan-authz/castellan/store/storetest"
)

// sink keeps benchmark results alive.
var (
	sink   int
	sinkMu sync.Mutex
)

// loadIndex loads GitHubFacts(n) as an import does: in batches of 10,000
// facts, one revision each.
func loadIndex(tb testing.TB, n int) *index.Index {
	tb.Helper()
	x := index.New()
	batch := make([]term.Fact, 0, 10_000)
	rev := uint64(0)
	flush := func() {
		rev++
		if err := x.Apply(rev, []store.Op{{Insert: batch}}); err != nil {
			tb.Fatal(err)
		}
		batch = batch[:0]
	}
	for f := range storetest.GitHubFacts(n) {
		if batch = append(batch, f); len(batch) == cap(batch) {
			flush()
		}
	}
	if len(batch) > 0 {
		flush()
	}
	return x
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkIndexMemory reports the heap held by an index per fact.
func BenchmarkIndexMemory(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("facts=%d", n), func(b *testing.B) {
			var perFact float64
			for b.Loop() {
				before := heapInUse()
				x := loadIndex(b, n)
				after := heapInUse()
				perFact = float64(after-before) / float64(n)
				runtime.KeepAlive(x)
			}
			b.ReportMetric(perFact, "B/fact")
		})
	}
}

// BenchmarkLoad measures inserting facts into an empty index in batches
// of 10,000 facts (one revision each, as an import commits them), the
// facts made beforehand. cpu-ns/fact is the process's CPU time (all
// threads, the garbage collector's too) per fact, which a busy machine
// inflates far less than wall time.
func BenchmarkLoad(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("facts=%d", n), func(b *testing.B) {
			facts := slices.Collect(storetest.GitHubFacts(n))
			b.ReportAllocs()
			var cpu time.Duration
			for b.Loop() {
				x := index.New()
				c0 := processCPU()
				for i := 0; i < n; i += 10_000 {
					if err := x.Apply(uint64(i/10_000+1), []store.Op{{Insert: facts[i:min(i+10_000, n)]}}); err != nil {
						b.Fatal(err)
					}
				}
				cpu += processCPU() - c0
				sink += int(x.Revision())
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "facts/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(n*b.N), "cpu-ns/fact")
		})
	}
}

// processCPU returns the CPU time used so far by this process (0 where
// it cannot be read).
func processCPU() time.Duration {
	d, _ := cputime.Process()
	return d
}

// BenchmarkMatch measures Match on a 100k-fact index.
func BenchmarkMatch(b *testing.B) {
	const n = 100_000
	x := loadIndex(b, n)
	snap := x.Snapshot()
	actor := storetest.GitHubFact(12345, n).Args[0]
	repo := storetest.GitHubFact(12345, n).Args[2]
	tests := []struct {
		name string
		args []term.Value
	}{
		{"bound=actor", []term.Value{actor, {}, {}}},
		{"bound=actor,resource", []term.Value{actor, {}, repo}},
		{"bound=all", []term.Value{actor, storetest.GitHubFact(12345, n).Args[1], repo}},
		{"bound=resource", []term.Value{{}, {}, repo}},
	}
	for _, tc := range tests {
		b.Run(tc.name, func(b *testing.B) {
			found := 0
			cpuLoop(b, func() {
				snap.Match("has_role", tc.args, func([]term.Value) bool { found++; return true })
			})
			if found == 0 {
				b.Fatal("no match")
			}
			sink += found
		})
	}
}

// BenchmarkMatchIDs measures MatchIDs on a 100k-fact index, the predicate
// and the values resolved beforehand (as the evaluator does once per
// query): the same questions as BenchmarkMatch, without looking the
// values up and building them back per call.
func BenchmarkMatchIDs(b *testing.B) {
	const n = 100_000
	x := loadIndex(b, n)
	snap := x.Snapshot()
	f := storetest.GitHubFact(12345, n)
	id := func(v term.Value) uint32 {
		id, ok := snap.Lookup(v)
		if !ok {
			b.Fatalf("no id for %v", v)
		}
		return id
	}
	actor, role, repo := id(f.Args[0]), id(f.Args[1]), id(f.Args[2])
	rel := snap.Relation("has_role", 3)
	tests := []struct {
		name string
		ids  []uint32
	}{
		{"bound=actor", []uint32{actor, 0, 0}},
		{"bound=actor,resource", []uint32{actor, 0, repo}},
		{"bound=all", []uint32{actor, role, repo}},
		{"bound=resource", []uint32{0, 0, repo}},
	}
	for _, tc := range tests {
		b.Run(tc.name, func(b *testing.B) {
			found := 0
			cpuLoop(b, func() {
				snap.MatchIDs(rel, tc.ids, func([]uint32) bool { found++; return true })
			})
			if found == 0 {
				b.Fatal("no match")
			}
			sink += found
		})
	}
}

// cpuLoop runs op for b.Loop and, where the platform tells, reports the
// CPU time of the benchmarking thread per operation (cpu-ns/op).
func cpuLoop(b *testing.B, op func()) {
	b.ReportAllocs()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
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

// BenchmarkMatchIDsScattered measures MatchIDs and Lookup as the
// evaluator makes them in a batch of unrelated checks: each call asks
// about other values than the one before (32,768 questions taken in turn
// from a 112,000-fact index), so that a call finds little of what it
// reads in the CPU's caches, unlike BenchmarkMatchIDs, which asks one
// question again and again. cpu-ns/op is per call.
func BenchmarkMatchIDsScattered(b *testing.B) {
	const n, nq = 112_000, 1 << 15
	x := loadIndex(b, n)
	snap := x.Snapshot()
	rel := snap.Relation("has_role", 3)
	id := func(v term.Value) uint32 {
		id, ok := snap.Lookup(v)
		if !ok {
			b.Fatalf("no id for %v", v)
		}
		return id
	}
	var facts, absent, actor, resource, vals [][]uint32
	var values []term.Value
	for q := range nq {
		f := storetest.GitHubFact((q*7919+3)%(n/10)*10+2+q%8, n) // a has_role of a repository
		other := storetest.GitHubFact((q*104729+11)%(n/10)*10+2+q%8, n)
		u, r, res := id(f.Args[0]), id(f.Args[1]), id(f.Args[2])
		facts = append(facts, []uint32{u, r, res})
		absent = append(absent, []uint32{id(other.Args[0]), r, res})
		actor = append(actor, []uint32{u, 0, 0})
		resource = append(resource, []uint32{0, 0, res})
		vals = append(vals, []uint32{u, 0, res})
		values = append(values, f.Args[0], other.Args[2])
	}
	for _, tc := range []struct {
		name string
		qs   [][]uint32
	}{
		{"bound=all", facts},
		{"bound=all/absent", absent},
		{"bound=actor", actor},
		{"bound=resource", resource},
		{"bound=actor,resource", vals},
	} {
		b.Run(tc.name, func(b *testing.B) {
			found, i := 0, 0
			cpuLoop(b, func() {
				snap.MatchIDs(rel, tc.qs[i%nq], func([]uint32) bool { found++; return true })
				i++
			})
			sink += found
		})
	}
	b.Run("lookup", func(b *testing.B) {
		i := 0
		cpuLoop(b, func() {
			id, _ := snap.Lookup(values[i%len(values)])
			sink += int(id)
			i++
		})
	})
}

// BenchmarkMatchIDsParallel asks the questions of a check (a Lookup, two
// ground MatchIDs and one on a bound resource, each about other values
// than the last) from GOMAXPROCS goroutines at once, as a server's
// requests do: readers on different CPUs share the index's lock.
// cpu-ns/op is the process's CPU time per question.
func BenchmarkMatchIDsParallel(b *testing.B) {
	const n, nq = 112_000, 1 << 15
	x := loadIndex(b, n)
	snap := x.Snapshot()
	rel := snap.Relation("has_role", 3)
	type question struct {
		user        term.Value
		fact, other []uint32
		resource    []uint32
	}
	qs := make([]question, nq)
	for q := range qs {
		f := storetest.GitHubFact((q*7919+3)%(n/10)*10+2+q%8, n)
		other := storetest.GitHubFact((q*104729+11)%(n/10)*10+2+q%8, n)
		u, _ := snap.Lookup(f.Args[0])
		r, _ := snap.Lookup(f.Args[1])
		res, _ := snap.Lookup(f.Args[2])
		o, _ := snap.Lookup(other.Args[0])
		qs[q] = question{f.Args[0], []uint32{u, r, res}, []uint32{o, r, res}, []uint32{0, 0, res}}
	}
	runtime.GC()
	c0 := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		i := int(time.Now().UnixNano()) % nq
		found := 0
		count := func([]uint32) bool { found++; return true }
		for pb.Next() {
			q := &qs[i%nq]
			if id, ok := snap.Lookup(q.user); ok {
				found += int(id & 1)
			}
			snap.MatchIDs(rel, q.fact, count)
			snap.MatchIDs(rel, q.other, count)
			snap.MatchIDs(rel, q.resource, count)
			i++
		}
		sinkMu.Lock()
		sink += found
		sinkMu.Unlock()
	})
	b.ReportMetric(float64((processCPU()-c0).Nanoseconds())/float64(4*b.N), "cpu-ns/op")
}
