package policy

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/castellan-authz/castellan/lang"
	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
)

// DataReport lists the stored facts a policy cannot use: facts of a
// predicate no rule uses (Unused) and facts whose arguments do not fit the
// types the policy's rules expect. Under a live policy such facts could
// not be told; they remain when a new policy stops using them, or when
// they were told before any policy was live.
type DataReport struct {
	// Facts counts the stored facts; Checked the ones looked at.
	Facts, Checked int
	// Unusable counts the facts the policy cannot use.
	Unusable int
	// Predicates lists the unusable facts per predicate, ordered by
	// predicate, then arity.
	Predicates []UnusableFacts
	// Partial is set when the check stopped after maxGuardScan facts: the
	// counts are those of the facts checked.
	Partial bool
}

// UnusableFacts is the unusable facts of one predicate.
type UnusableFacts struct {
	Predicate string
	Arity     int
	// Count is how many of its facts the policy cannot use.
	Count int
	// Unused is set when no rule of the policy uses the predicate at all;
	// otherwise the facts do not type-check.
	Unused bool
	// Reason is why the first of them cannot be used.
	Reason string
	// Sample holds up to maxSample of them, printed.
	Sample []string
}

// Name returns "predicate/arity".
func (u UnusableFacts) Name() string { return fmt.Sprintf("%s/%d", u.Predicate, u.Arity) }

// Summary says in one line what the report found ("" when every fact is
// usable): "3 stored facts are not usable by this policy: is_public/1 (2,
// no rule uses it), has_role/3 (1, ...)".
func (r *DataReport) Summary() string {
	if r == nil || r.Unusable == 0 {
		return ""
	}
	parts := make([]string, len(r.Predicates))
	for i, p := range r.Predicates {
		why := "do not type-check: " + p.Reason
		if p.Unused {
			why = "no rule uses it"
		}
		parts[i] = fmt.Sprintf("%s (%d, %s; e.g. %s)", p.Name(), p.Count, why, p.Sample[0])
	}
	s := fmt.Sprintf("%d stored facts are not usable by this policy: %s", r.Unusable, strings.Join(parts, "; "))
	if r.Partial {
		s += fmt.Sprintf(" (%d of %d facts checked)", r.Checked, r.Facts)
	}
	return s
}

// maxSample bounds the facts a report prints per predicate.
const maxSample = 3

// ErrUnusableFacts is wrapped by the *DataCheckError of a strict load
// refused because stored facts would not be usable.
var ErrUnusableFacts = errors.New("stored facts would not be usable by the policy")

// DataCheckError is a policy Load refused under Strict: stored facts
// would not be usable by it. Nothing was changed.
type DataCheckError struct{ Report *DataReport }

// Error is the report's summary.
func (e *DataCheckError) Error() string {
	return e.Report.Summary() + "; the policy was not loaded (strict)"
}

// Unwrap returns ErrUnusableFacts.
func (e *DataCheckError) Unwrap() error { return ErrUnusableFacts }

// CheckData reports the stored facts of snap that c cannot use. It counts
// facts per predicate without reading them when snap is a
// store.PredicateCounter; the facts of a predicate no rule uses are not
// read past a sample; the others are each checked (c's CheckFact), at
// most maxGuardScan in all.
func CheckData(ctx context.Context, c *Compiled, snap store.Snapshot) (*DataReport, error) {
	counts := predicateCounts(snap)
	rep := &DataReport{}
	for _, pc := range counts {
		rep.Facts += pc.Facts
	}
	budget := maxGuardScan
	for _, pc := range counts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		_, known := c.prog.FactTypes[lang.Pred{Name: pc.Predicate, Arity: pc.Arity}]
		u := UnusableFacts{Predicate: pc.Predicate, Arity: pc.Arity, Unused: !known}
		if !known {
			u.Count = pc.Facts
			rep.Checked += pc.Facts
			eachFact(snap, pc, func(f term.Fact) bool {
				if u.Reason == "" {
					u.Reason = c.prog.CheckFact(f).Error()
				}
				u.Sample = append(u.Sample, f.String())
				return len(u.Sample) < maxSample
			})
		} else {
			eachFact(snap, pc, func(f term.Fact) bool {
				if budget == 0 {
					rep.Partial = true
					return false
				}
				budget--
				rep.Checked++
				if err := c.prog.CheckFact(f); err != nil {
					u.Count++
					if u.Reason == "" {
						u.Reason = err.Error()
					}
					if len(u.Sample) < maxSample {
						u.Sample = append(u.Sample, f.String())
					}
				}
				return true
			})
		}
		if u.Count > 0 {
			rep.Unusable += u.Count
			rep.Predicates = append(rep.Predicates, u)
		}
	}
	return rep, nil
}

// eachFact calls fn with each fact of pc's predicate in snap until it
// returns false. The fact's arguments are valid only during the call (fn
// keeps what it needs as text).
func eachFact(snap store.Snapshot, pc store.PredicateCount, fn func(term.Fact) bool) {
	snap.Match(pc.Predicate, make([]term.Value, pc.Arity), func(args []term.Value) bool {
		return fn(term.Fact{Predicate: pc.Predicate, Args: args})
	})
}

// predicateCounts counts snap's facts per predicate: from the snapshot
// when it can (store.PredicateCounter), else by reading every fact.
func predicateCounts(snap store.Snapshot) []store.PredicateCount {
	if pc, ok := snap.(store.PredicateCounter); ok {
		return pc.PredicateCounts()
	}
	var out []store.PredicateCount
	for f := range snap.Facts(term.Pattern{AnyArity: true}) {
		if n := len(out); n > 0 && out[n-1].Predicate == f.Predicate && out[n-1].Arity == len(f.Args) {
			out[n-1].Facts++
			continue
		}
		out = append(out, store.PredicateCount{Predicate: f.Predicate, Arity: len(f.Args), Facts: 1})
	}
	return out
}
