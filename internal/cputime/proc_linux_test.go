package cputime

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestOfAndTree checks the /proc readings: a process's own CPU time, a
// missing process, and a live child's time counted in its parent's tree.
func TestOfAndTree(t *testing.T) {
	if _, ok := Of(1 << 30); ok {
		t.Fatal("Of read a process that does not exist")
	}
	child := exec.Command("sh", "-c", "while :; do :; done")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { child.Process.Kill(); child.Wait() }()
	var busy time.Duration
	for deadline := time.Now().Add(10 * time.Second); busy < 50*time.Millisecond && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		busy, _ = Of(child.Process.Pid)
	}
	if busy < 50*time.Millisecond {
		t.Fatalf("the busy child used %v of CPU in 10 s", busy)
	}
	self, ok1 := Of(0)
	tree, ok2 := Tree(os.Getpid())
	if !ok1 || !ok2 {
		t.Fatal("/proc unreadable")
	}
	if tree < self+busy {
		t.Fatalf("Tree %v, want at least this process's %v and its child's %v", tree, self, busy)
	}
}
