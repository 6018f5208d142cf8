package index

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPostings(t *testing.T) {
	for _, hint := range []int{0, 1000} {
		p := newPostings(hint)
		want := make(map[uint32][]uint32)
		for r := range uint32(20000) {
			id := (r*7919)%3001 + 1 // spread, with repeats
			if r%5 == 0 {
				id = r + 10_000 // a value of its own
			}
			if r%3 == 0 {
				id = 1 << 20 // a long list, past the first block
			}
			p.add(id, r)
			want[id] = append(want[id], r)
		}
		if got := p.Len(); got != len(want) {
			t.Errorf("hint %d: Len() = %d, want %d", hint, got, len(want))
		}
		for id, w := range want {
			if diff := cmp.Diff(w, slices.Collect(p.get(id).all())); diff != "" {
				t.Fatalf("hint %d: get(%d) (-want +got):\n%s", hint, id, diff)
			}
		}
		for _, id := range []uint32{0, 3002, 10_001, 1 << 31} {
			if got := p.get(id); got.Len() != 0 {
				t.Errorf("hint %d: get(%d) = %v, want nil", hint, id, got)
			}
		}
	}
}
