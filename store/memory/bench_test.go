package memory_test

import (
	"testing"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/memory"
	"github.com/castellan-authz/castellan/store/storetest"
)

// sink keeps benchmark results alive.
var sink int

// BenchmarkWrite measures a one-fact batch on the memory store.
func BenchmarkWrite(b *testing.B) {
	s := memory.New()
	ctx := b.Context()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		f := storetest.GitHubFact(i, 1_000_000)
		if _, err := s.Write(ctx, []store.Op{{Insert: []term.Fact{f}}}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkSnapshot measures taking a snapshot.
func BenchmarkSnapshot(b *testing.B) {
	s := memory.New()
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		snap, err := s.Snapshot(ctx, store.Consistency{})
		if err != nil {
			b.Fatal(err)
		}
		sink += int(snap.Revision())
	}
}
