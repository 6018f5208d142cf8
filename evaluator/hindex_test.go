package evaluator

import (
	"math/rand/v2"
	"testing"
)

// TestHindexAgreesWithMap checks the solver's hash index against a map,
// over queries of growing and shrinking sizes (a reset empties it without
// clearing it), with hashes that share their low bits.
func TestHindexAgreesWithMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var x hindex
	for q, size := range []int{0, 1, 10, 1000, 5, 70000, 3, 200} {
		want := map[uint64]int32{}
		for range size {
			h := rng.Uint64()
			if rng.IntN(3) == 0 {
				h &^= 0xffff // the same low bits as others
			}
			if rng.IntN(10) == 0 && len(want) > 0 {
				for k := range want { // set again
					h = k
					break
				}
			}
			v := rng.Int32()
			x.set(h, v)
			want[h] = v
		}
		for h, v := range want {
			if got, ok := x.get(h); !ok || got != v {
				t.Fatalf("query %d: get(%#x) = %d, %v; want %d", q, h, got, ok, v)
			}
		}
		for range 1000 {
			h := rng.Uint64()
			if _, in := want[h]; !in {
				if got, ok := x.get(h); ok {
					t.Fatalf("query %d: get(%#x) = %d of an absent hash", q, h, got)
				}
			}
		}
		if x.n != len(want) {
			t.Fatalf("query %d: %d entries, want %d", q, x.n, len(want))
		}
		x.reset(50000)
		if _, ok := x.get(0); ok || x.n != 0 {
			t.Fatalf("query %d: not empty after reset", q)
		}
	}
	// An entry stamped 1, then 2^32-1 queries later the stamps wrap
	// back to 1: the entry must be gone.
	x.query = 1
	x.set(7, 1)
	x.query = ^uint32(0)
	x.reset(50000)
	x.set(8, 2)
	if got, ok := x.get(7); ok {
		t.Fatalf("get(7) = %d: an entry from before the stamps wrapped is still there", got)
	}
}
