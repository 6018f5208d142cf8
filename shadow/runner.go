package shadow

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/castellan-authz/castellan/evaluator"
	"github.com/castellan-authz/castellan/lang"
	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/policy"
)

// Results of one shadowed question (Options.Observe).
const (
	ResultSame      = "same"
	ResultDifferent = "different"
	ResultDropped   = "dropped"
	ResultError     = "error"
)

// Runner defaults and bounds.
const (
	// DefaultQueue is the questions a Runner holds waiting for its worker.
	DefaultQueue = 1024
	// MaxDuration bounds how long one shadow run lasts.
	MaxDuration = 7 * 24 * time.Hour
	// keptDifferences is how many of the latest differences Status shows.
	keptDifferences = 100
)

// Options configures a Runner.
type Options struct {
	// Queue is the capacity of the queue (DefaultQueue when 0).
	Queue int
	// Observe is called with the result of each question offered (for a
	// metric); it must not block. Optional.
	Observe func(result string)
	// OnDifference is called, on the worker, with each difference (for
	// the log). Optional.
	OnDifference func(Difference)
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Item is one authorize answered under the live policy, offered to the
// Runner with what it was answered over.
type Item struct {
	// Live is the policy that answered.
	Live *policy.Compiled
	// Source is the snapshot the answer read (it stays valid).
	Source  evaluator.Source
	Context []term.Fact
	Actor   term.Value
	Action  string
	// Resource is the resource asked about.
	Resource term.Value
	// Allowed is the answer given.
	Allowed bool
	// Endpoint names the question (authorize, authzen.evaluation).
	Endpoint string
}

// Difference is one shadowed question the candidate answers differently.
type Difference struct {
	Time     time.Time
	Endpoint string
	Actor    term.Value
	Action   string
	Resource term.Value
	// Live is the answer given; the candidate answered !Live.
	Live bool
	// Rule is the rule responsible (see Change.Rule); Fact the fact.
	Rule *evaluator.RuleUse
	Fact string
}

// Counts are a Runner's tallies.
type Counts struct {
	// Offered counts the questions offered while the run was active.
	Offered uint64
	// Same and Different count the questions evaluated under the candidate.
	Same, Different uint64
	// Dropped counts the questions not evaluated because the queue was full.
	Dropped uint64
	// Errors counts the questions the candidate could not answer.
	Errors uint64
}

// Status is what a Runner has done.
type Status struct {
	// Active is true until the run's end or Stop.
	Active        bool
	Started, Ends time.Time
	// Stopped is when the run ended (zero while active).
	Stopped time.Time
	// LiveVersion is the live version when the run started.
	LiveVersion int64
	Counts      Counts
	// Recent holds the latest differences, oldest first.
	Recent []Difference
}

// Runner evaluates a candidate on live traffic for a period, off the
// request path. It is safe for concurrent use. Offer, on the request
// path, takes no lock: it reads the run's end and counts with atomics.
type Runner struct {
	cand  *policy.Compiled
	opts  Options
	queue chan Item
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once

	started, ends time.Time
	liveVersion   int64
	over          atomic.Bool // the worker has stopped
	offered       atomic.Uint64
	dropped       atomic.Uint64

	mu        sync.Mutex // guards what the worker writes
	evaluated Counts     // Same, Different, Errors
	recent    []Difference
	stopped   time.Time
}

// Start starts a run of cand for d (at most MaxDuration): until then, or
// until Stop, Offer queues questions for its worker.
func Start(cand *policy.Compiled, liveVersion int64, d time.Duration, opts Options) *Runner {
	if opts.Queue <= 0 {
		opts.Queue = DefaultQueue
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Observe == nil {
		opts.Observe = func(string) {}
	}
	d = min(d, MaxDuration)
	now := opts.Now()
	r := &Runner{cand: cand, opts: opts, queue: make(chan Item, opts.Queue), stop: make(chan struct{}), done: make(chan struct{}),
		started: now, ends: now.Add(d), liveVersion: liveVersion}
	go r.work(d)
	return r
}

// Candidate returns the policy the run evaluates.
func (r *Runner) Candidate() *policy.Compiled { return r.cand }

// Offer queues it for the candidate without blocking, and reports whether
// it was queued: false when the run is over or the queue is full (the
// question is then counted as dropped).
func (r *Runner) Offer(it Item) bool {
	if r.over.Load() || r.opts.Now().After(r.ends) {
		return false
	}
	r.offered.Add(1)
	select {
	case r.queue <- it:
		return true
	default:
	}
	r.dropped.Add(1)
	r.opts.Observe(ResultDropped)
	return false
}

// Stop ends the run (if it is still active) and waits for the worker to
// finish the question in hand; queued questions are not evaluated.
func (r *Runner) Stop() {
	r.once.Do(func() { close(r.stop) })
	<-r.done
}

// Drain waits until every question queued so far has been evaluated, the
// run is over, or ctx is done.
func (r *Runner) Drain(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		c := r.Status().Counts
		if c.Same+c.Different+c.Errors+c.Dropped >= c.Offered {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.done:
			return nil
		case <-t.C:
		}
	}
}

// Status returns the run's counts and latest differences.
func (r *Runner) Status() Status {
	// Offered is read last: every question evaluated was offered before.
	r.mu.Lock()
	st := Status{Started: r.started, Ends: r.ends, LiveVersion: r.liveVersion, Counts: r.evaluated,
		Stopped: r.stopped, Recent: append([]Difference(nil), r.recent...)}
	r.mu.Unlock()
	st.Active = st.Stopped.IsZero()
	st.Counts.Dropped = r.dropped.Load()
	st.Counts.Offered = r.offered.Load()
	return st
}

func (r *Runner) work(d time.Duration) {
	defer close(r.done)
	timer := time.NewTimer(d)
	defer timer.Stop()
	defer func() {
		r.over.Store(true)
		r.mu.Lock()
		r.stopped = r.opts.Now()
		r.mu.Unlock()
	}()
	for {
		select {
		case <-r.stop:
			return
		case <-timer.C:
			return
		case it := <-r.queue:
			r.evaluate(it)
		}
	}
}

// evaluate asks it under the candidate and counts the result.
func (r *Runner) evaluate(it Item) {
	ctx := context.Background()
	req := evaluator.Request{Source: it.Source, Context: it.Context}
	d, err := r.cand.Evaluator().Authorize(ctx, req, it.Actor, it.Action, it.Resource)
	result := ResultSame
	var diff *Difference
	switch {
	case err != nil:
		result = ResultError
	case d.Allowed != it.Allowed:
		result = ResultDifferent
		diff = &Difference{Time: r.opts.Now(), Endpoint: it.Endpoint, Actor: it.Actor, Action: it.Action, Resource: it.Resource, Live: it.Allowed}
		// The side that allows names the rule the other lacks.
		ev, other := r.cand.Evaluator(), (*lang.Program)(nil)
		if it.Live != nil {
			other = it.Live.Program()
		}
		if it.Allowed && it.Live != nil {
			ev, other = it.Live.Evaluator(), r.cand.Program()
		}
		req.Explain = true
		if ex, err := ev.Authorize(ctx, req, it.Actor, it.Action, it.Resource); err == nil {
			diff.Rule, diff.Fact = Responsible(ex.Explanation, other)
		}
	}
	r.mu.Lock()
	switch result {
	case ResultSame:
		r.evaluated.Same++
	case ResultError:
		r.evaluated.Errors++
	case ResultDifferent:
		r.evaluated.Different++
		r.recent = append(r.recent, *diff)
		if len(r.recent) > keptDifferences {
			r.recent = r.recent[len(r.recent)-keptDifferences:]
		}
	}
	r.mu.Unlock()
	r.opts.Observe(result)
	if diff != nil && r.opts.OnDifference != nil {
		r.opts.OnDifference(*diff)
	}
}
