package shadow_test

import (
	"sync"
	"testing"
	"time"

	"github.com/castellan-authz/castellan/shadow"
)

func TestRunnerCounts(t *testing.T) {
	live := mustCompile(t, "live.polar", livePolicy)
	cand := mustCompile(t, "candidate.polar", candidatePolicy)
	snap := facts(t)
	var mu sync.Mutex
	observed := map[string]int{}
	var diffs []shadow.Difference
	r := shadow.Start(cand, 1, time.Hour, shadow.Options{
		Observe:      func(res string) { mu.Lock(); observed[res]++; mu.Unlock() },
		OnDifference: func(d shadow.Difference) { mu.Lock(); diffs = append(diffs, d); mu.Unlock() },
	})
	defer r.Stop()
	ask := func(actor, action string, allowed bool) {
		t.Helper()
		if !r.Offer(shadow.Item{Live: live, Source: snap, Actor: user(actor), Action: action, Resource: doc("d1"), Allowed: allowed, Endpoint: "authorize"}) {
			t.Fatal("Offer refused a question with room in the queue")
		}
	}
	ask("alice", "view", true)  // same
	ask("alice", "edit", false) // the candidate allows
	ask("bob", "edit", true)    // same
	if err := r.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	st := r.Status()
	if !st.Active || st.Counts != (shadow.Counts{Offered: 3, Same: 2, Different: 1}) || st.LiveVersion != 1 {
		t.Fatalf("status %+v", st)
	}
	if len(st.Recent) != 1 || st.Recent[0].Actor != user("alice") || st.Recent[0].Live || st.Recent[0].Rule == nil || st.Recent[0].Rule.Text != `"edit" if "viewer";` {
		t.Errorf("recent %+v: want alice edit, denied live, allowed by the viewer rule", st.Recent)
	}
	mu.Lock()
	if observed[shadow.ResultSame] != 2 || observed[shadow.ResultDifferent] != 1 || len(diffs) != 1 {
		t.Errorf("observed %v and %d differences", observed, len(diffs))
	}
	mu.Unlock()
	r.Stop()
	if st := r.Status(); st.Active || st.Stopped.IsZero() {
		t.Errorf("after Stop: %+v, want inactive", st)
	}
	if r.Offer(shadow.Item{Live: live, Source: snap, Actor: user("alice"), Action: "view", Resource: doc("d1")}) {
		t.Error("Offer after Stop queued a question")
	}
}

func TestRunnerEnds(t *testing.T) {
	cand := mustCompile(t, "candidate.polar", candidatePolicy)
	snap := facts(t)
	// The run is over before it starts: nothing is queued.
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	r := shadow.Start(cand, 1, time.Minute, shadow.Options{Queue: 1, Now: clock})
	defer r.Stop()
	now = now.Add(2 * time.Minute)
	if r.Offer(shadow.Item{Source: snap, Actor: user("alice"), Action: "view", Resource: doc("d1")}) {
		t.Error("Offer queued a question after the run's end")
	}
	if c := r.Status().Counts; c.Offered != 0 {
		t.Errorf("counts %+v after the end, want nothing offered", c)
	}
}

// TestRunnerDropsWhenFull: with the worker busy and the queue full, Offer
// drops the question at once and counts it.
func TestRunnerDropsWhenFull(t *testing.T) {
	cand := mustCompile(t, "candidate.polar", candidatePolicy)
	snap := facts(t)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	r := shadow.Start(cand, 1, time.Hour, shadow.Options{Queue: 1, Observe: func(res string) {
		if res == shadow.ResultDropped {
			return
		}
		once.Do(func() {
			close(entered)
			<-release // the worker is busy until released
		})
	}})
	defer r.Stop()
	item := shadow.Item{Source: snap, Actor: user("alice"), Action: "view", Resource: doc("d1"), Allowed: true}
	if !r.Offer(item) {
		t.Fatal("the first question was not queued")
	}
	<-entered
	if !r.Offer(item) {
		t.Fatal("the second question was not queued (the queue has room for one)")
	}
	if r.Offer(item) {
		t.Fatal("the third question was queued into a full queue")
	}
	close(release)
	if err := r.Drain(t.Context()); err != nil {
		t.Fatal(err)
	}
	if c := r.Status().Counts; c != (shadow.Counts{Offered: 3, Same: 2, Dropped: 1}) {
		t.Errorf("counts %+v: want 3 offered, 2 same, 1 dropped", c)
	}
}
