package index_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store/index"
	"github.com/castellan-authz/castellan/store/storetest"
)

// sink keeps benchmark results alive.
var sink int

func loadIndex(tb testing.TB, n int) *index.Index {
	tb.Helper()
	x := index.New()
	tx, err := x.Begin(1)
	if err != nil {
		tb.Fatal(err)
	}
	for f := range storetest.GitHubFacts(n) {
		tx.Insert(f)
	}
	tx.Commit()
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

// BenchmarkLoad measures inserting facts into an empty index.
func BenchmarkLoad(b *testing.B) {
	const n = 100_000
	b.ReportAllocs()
	for b.Loop() {
		x := loadIndex(b, n)
		sink += int(x.Revision())
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "facts/s")
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
			b.ReportAllocs()
			found := 0
			for b.Loop() {
				snap.Match("has_role", tc.args, func([]term.Value) bool { found++; return true })
			}
			if found == 0 {
				b.Fatal("no match")
			}
			sink += found
		})
	}
}
