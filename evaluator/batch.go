package evaluator

import (
	"context"

	"github.com/castellan-authz/castellan/lang/term"
)

// Check is one question of a batch: may Actor do Action on Resource?
type Check struct {
	Actor    term.Value
	Action   string
	Resource term.Value
}

// CheckResult is the answer to one Check of AuthorizeBatch: whether it is
// allowed, or the error Authorize would return for it alone.
type CheckResult struct {
	Allowed bool
	Err     error
}

// AuthorizeBatch answers each check as Authorize answers it alone, under
// one Request, without explanations (r.Explain is ignored). The checks
// are solved in one evaluation: the source is layered, the program's
// predicates and constants resolved and the solver's state set up once,
// and the tables a check builds (an actor's roles on an organization, a
// rule's answers) are there for the checks after it, whatever their
// actor, action or resource.
//
// Each result stands alone, as if its check had been asked by itself: a
// check whose actor or resource is malformed, or whose evaluation exceeds
// a limit, gets Authorize's error for it (it is asked again by itself, in
// a fresh evaluation, so that a deep chain is answered as Authorize
// answers it), and the checks after it are answered in a fresh evaluation
// of their own. Each check has Limits.MaxWork steps of its own; one that
// finds its subgoals already tabled by earlier checks needs fewer steps
// than alone, so a check that alone would exceed MaxWork may be answered.
// When ctx ends, the checks not yet answered get its error.
func (e *Evaluator) AuthorizeBatch(ctx context.Context, r Request, checks []Check) []CheckResult {
	out := make([]CheckResult, len(checks))
	r.Explain = false
	src := r.source()
	allow := e.pred("allow", 3)
	var s *solver
	var ended error // ctx's, once it has ended
	defer func() {
		if s != nil {
			e.release(s)
		}
	}()
	for i, c := range checks {
		if err := checkValue("actor", c.Actor); err != nil {
			out[i].Err = err
			continue
		}
		if err := checkValue("resource", c.Resource); err != nil {
			out[i].Err = err
			continue
		}
		if ended != nil {
			out[i].Err = ended
			continue
		}
		if s == nil {
			s = e.acquire(ctx, src, r.Now)
			if s.err != nil { // ctx has ended
				ended = s.err
				out[i].Err = ended
				e.release(s)
				s = nil
				continue
			}
		}
		allowed, ok, broken := e.batchSolve(s, allow, c)
		if ok {
			out[i].Allowed = allowed
			continue
		}
		// The evaluation failed (a limit, ctx, or a bug): its tables are
		// not to be trusted. The check is asked alone, and the next one
		// starts a fresh evaluation.
		if !broken {
			e.release(s)
		}
		s = nil
		d, err := e.Authorize(ctx, r, c.Actor, c.Action, c.Resource)
		out[i] = CheckResult{Allowed: d.Allowed, Err: err}
	}
	return out
}

// batchSolve solves allow(c) in the batch's solver s, with a work budget
// of its own. It reports the answer, or ok false when the evaluation
// failed: s.err is set, or, when broken, s panicked (a bug) and its state
// is unknown: it must be dropped, not pooled.
func (e *Evaluator) batchSolve(s *solver, allow *predInfo, c Check) (allowed, ok, broken bool) {
	defer func() {
		s.releaseReads() // Authorize may ask the check again, in a solver of its own
		if recover() != nil {
			allowed, ok, broken = false, false, true
		}
	}()
	s.holdReads()
	s.work = 0
	args := [3]hval{s.handle(c.Actor), s.action(c.Action), s.handle(c.Resource)}
	tid := s.solve(allow, args[:])
	if s.err != nil {
		return false, false, false
	}
	return s.tables[tid].nAns > 0, true, false
}
