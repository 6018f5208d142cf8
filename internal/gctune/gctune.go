// Package gctune sizes the garbage collector's headroom by the part of the
// heap it has to scan, so that a server holding a large pointer-free index
// does not also hold as much again in garbage.
//
// Go's collector lets the heap grow by GOGC percent (100 by default) of the
// live heap before the next cycle: the headroom pays for a cycle's marking
// work, which grows with the bytes the collector must scan. The fact index
// (store/index) keeps its records, posting lists, interned strings and
// change log in large pointer-free arrays, which the collector marks
// without scanning. At ten million facts that is about 0.9 GB of live heap
// of which little is scannable, and with GOGC=100 the process peaks near
// twice that (see docs/benchmarks.md): memory that buys no cheaper
// collection.
//
// Tuner therefore sets the GC percent after every cycle to
//
//	100 * max(scannable heap + stacks + globals, 64 MiB) / live heap
//
// clamped to [floor, 100]: a server whose heap is mostly scannable, or
// smaller than 64 MiB (small stores, the check path's benchmarks), keeps
// Go's default, and one whose
// heap is mostly index gets a headroom proportional to what a cycle has to
// scan, as if the index were not there, but never less than floor percent of
// the live heap (so that a huge index cannot make cycles arbitrarily
// frequent). It does nothing when GOGC or GOMEMLIMIT is set in the
// environment: an operator's explicit choice wins.
package gctune

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// DefaultMin is the default floor of the GC percent Tuner sets.
const DefaultMin = 25

// Tuner adjusts the GC percent after each garbage collection.
type Tuner struct {
	floor   int
	mu      sync.Mutex
	stopped bool
	percent int
	samples []metrics.Sample
}

// Start starts a Tuner with the given floor (1 to 100 percent) and returns it,
// or returns nil and changes nothing when min >= 100 or GOGC or GOMEMLIMIT
// is set in the environment.
func Start(floor int) *Tuner {
	if floor >= 100 || os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return nil
	}
	t := &Tuner{floor: max(floor, 1), percent: 100, samples: []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/gc/scan/heap:bytes"},
		{Name: "/gc/scan/stack:bytes"},
		{Name: "/gc/scan/globals:bytes"},
	}}
	t.arm()
	return t
}

// Percent returns the GC percent the tuner set last.
func (t *Tuner) Percent() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.percent
}

// Stop stops adjusting and gives Go's default back.
func (t *Tuner) Stop() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
	t.percent = 100
	debug.SetGCPercent(100)
}

// sentinel is garbage whose finalizer runs once per collection (it is
// larger than the tiny allocator's blocks, so it is freed on its own).
type sentinel struct{ _ [32]byte }

// arm allocates a sentinel whose finalizer adjusts the percent and arms
// the next one: the finalizer runs after the first cycle that finds the
// sentinel unreachable, i.e. once per cycle.
func (t *Tuner) arm() {
	s := new(sentinel)
	runtime.SetFinalizer(s, func(*sentinel) {
		if t.adjust() {
			t.arm()
		}
	})
}

// adjust sets the percent from the last cycle's figures; false once
// stopped.
func (t *Tuner) adjust() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return false
	}
	metrics.Read(t.samples)
	var v [4]uint64
	for i, s := range t.samples {
		if s.Value.Kind() == metrics.KindUint64 {
			v[i] = s.Value.Uint64()
		}
	}
	p := Percent(v[0], v[1]+v[2]+v[3], t.floor)
	// Move only on a change of more than a tenth, so that the pacer is not
	// reset every cycle for nothing.
	if p*10 < t.percent*9 || p*10 > t.percent*11 {
		t.percent = p
		debug.SetGCPercent(p)
	}
	return true
}

// MinHeadroom is the headroom below which Tuner does not go: a heap with
// less than this much live keeps Go's default, so a small server (and
// the check path's benchmarks) collect exactly as without the tuner.
const MinHeadroom = 64 << 20

// Percent is the GC percent for a live heap of live bytes of which scan
// are scannable (with stacks and globals): 100 * max(scan, MinHeadroom) /
// live within [floor, 100].
func Percent(live, scan uint64, floor int) int {
	scan = max(scan, MinHeadroom)
	if live == 0 || scan >= live {
		return 100
	}
	return max(floor, min(100, int(100*scan/live)))
}
