package gctune

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	for _, c := range []struct {
		live, scan uint64
		floor      int
		want       int
	}{
		{0, 0, 25, 100},                 // nothing measured yet: Go's default
		{100 << 20, 100 << 20, 25, 100}, // all scannable
		{100 << 20, 200 << 20, 25, 100}, // more scannable than live (allocated since): capped
		{40 << 20, 1 << 20, 25, 100},    // a small heap: Go's default, whatever it holds
		{128 << 20, 1 << 20, 25, 50},    // at least MinHeadroom
		{1000 << 20, 500 << 20, 25, 50}, // half scannable
		{4000 << 20, 10 << 20, 25, 25},  // a large pointer-free index: the floor
		{4000 << 20, 10 << 20, 1, 1},
	} {
		if got := Percent(c.live, c.scan, c.floor); got != c.want {
			t.Errorf("Percent(%d, %d, %d) = %d, want %d", c.live, c.scan, c.floor, got, c.want)
		}
	}
}

// TestStartRespectsEnvironment: an operator's GOGC or GOMEMLIMIT, or a
// floor of 100, leaves the collector alone.
func TestStartRespectsEnvironment(t *testing.T) {
	if Start(100) != nil {
		t.Error("Start(100) started a tuner")
	}
	t.Setenv("GOGC", "200")
	if Start(25) != nil {
		t.Error("Start with GOGC set started a tuner")
	}
}

// TestTunerFollowsTheHeap: with most of the heap pointer-free, the tuner
// lowers the GC percent to the floor after a collection; Stop restores
// Go's default.
func TestTunerFollowsTheHeap(t *testing.T) {
	if os := debug.SetGCPercent(100); os != 100 {
		debug.SetGCPercent(os)
		t.Skipf("GOGC is %d in this process", os)
	}
	big := make([]uint64, 1<<30/8) // 1 GiB, pointer-free (never written: not resident)
	tu := Start(30)
	if tu == nil {
		t.Skip("GOGC or GOMEMLIMIT is set")
	}
	defer tu.Stop()
	// The tuner runs in a finalizer after a collection: collect until it
	// has (a bounded wait, not a timing).
	for i := 0; i < 200 && tu.Percent() != 30; i++ {
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
	runtime.KeepAlive(big)
	if got := tu.Percent(); got != 30 {
		t.Errorf("percent with a 1 GiB pointer-free heap = %d, want the floor 30", got)
	}
	tu.Stop()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("after Stop the GC percent is %d, want 100", got)
	}
}
