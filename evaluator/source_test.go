package evaluator

import (
	"sync/atomic"
	"testing"

	"github.com/castellan-authz/castellan/lang"
	"github.com/castellan-authz/castellan/lang/term"
)

// sliceSource is a small, unindexed Source for tests. It counts the facts
// it yields, so tests can assert that a query did not scan.
type sliceSource struct {
	facts   []term.Fact
	yielded atomic.Int64
	calls   atomic.Int64
}

func (s *sliceSource) Match(pred string, args []term.Value, yield func([]term.Value) bool) {
	s.calls.Add(1)
	for _, f := range s.facts {
		if f.Predicate == pred && argsMatch(f.Args, args) {
			s.yielded.Add(1)
			if !yield(f.Args) {
				return
			}
		}
	}
}

func (s *sliceSource) Revision() uint64 { return 1 }

// mustCompile compiles Polar source or fails the test.
func mustCompile(tb testing.TB, src string) *lang.Program {
	tb.Helper()
	p, err := lang.Compile(lang.File{Filename: "policy.polar", Src: []byte(src)})
	if err != nil {
		tb.Fatalf("compiling policy: %v", err)
	}
	return p
}
