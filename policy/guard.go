package policy

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/castellan-authz/castellan/lang"
	"github.com/castellan-authz/castellan/store"
)

// LoadOption changes what Load accepts.
type LoadOption func(*loadOptions)

type loadOptions struct {
	force, orphans, strict bool
	source, commit         string // see From
}

// Force makes Load accept a policy the guard would refuse (see
// ErrNeedsForce): the caller has been told what it does and wants it.
func Force() LoadOption { return func(o *loadOptions) { o.force = true } }

// Strict makes Load refuse, with a *DataCheckError, a policy under which
// any stored fact would not be usable (see CheckData); nothing changes.
// Force does not override it.
func Strict() LoadOption { return func(o *loadOptions) { o.strict = true } }

// AllowOrphans makes Load accept, without Force, a policy that can derive
// allow but would orphan every stored fact. The server gives it in dev
// mode, the stand-in for Oso's dev server: the Oso SDK test suites, run
// one after another against one dev server, load such policies over the
// facts earlier tests left behind.
func AllowOrphans() LoadOption { return func(o *loadOptions) { o.orphans = true } }

// WithFacts gives the manager the stored facts, so that Load can refuse a
// policy under which they would all be orphaned (see ErrNeedsForce).
// Without it only the policy itself is looked at.
func WithFacts(st store.Store) Option { return func(m *Manager) { m.facts = st } }

// ErrNeedsForce is wrapped by the *UnsafePolicyError of a policy that
// compiles and passes its tests but would, made live, deny everything or
// leave every stored fact unusable.
var ErrNeedsForce = errors.New("the policy needs force to go live")

// UnsafePolicyError is a policy Load refused without Force.
type UnsafePolicyError struct {
	// NoAllow: nothing in the policy can derive allow/3.
	NoAllow bool
	// Orphaned counts the stored facts the policy could not use (all of
	// them, when not zero); Predicates names their predicates.
	Orphaned   int
	Predicates []string
}

// Error says what the policy would do and how to load it anyway.
func (e *UnsafePolicyError) Error() string {
	return e.What() + `; upload again with "force": true (castellan policy --force) to make it live anyway`
}

// What says what the policy would do.
func (e *UnsafePolicyError) What() string {
	var why []string
	if e.NoAllow {
		why = append(why, "the policy has no allow rule: every authorize would be denied")
	}
	if e.Orphaned > 0 {
		why = append(why, fmt.Sprintf("%d stored facts (predicates %s) would not be usable by this policy: none of them could ever affect a decision",
			e.Orphaned, strings.Join(e.Predicates, ", ")))
	}
	return strings.Join(why, "; and ")
}

// Unwrap returns ErrNeedsForce.
func (e *UnsafePolicyError) Unwrap() error { return ErrNeedsForce }

// maxGuardScan bounds the stored facts of predicates the policy uses that
// the data check reads (CheckData): past it, the report is partial, and
// when no fact checked is usable every fact counts as orphaned.
const maxGuardScan = 1_000_000

// admit applies the guard and the data check to c under o: the data
// report (nil when no facts are stored or the manager was not given them)
// and, when c may go live only because o allows it, a warning (the guard
// error's text); or the *UnsafePolicyError, or under Strict the
// *DataCheckError, when it may not go live.
func (m *Manager) admit(ctx context.Context, c *Compiled, o loadOptions) (rep *DataReport, warning string, err error) {
	rep, err = m.guard(ctx, c)
	ue, ok := errors.AsType[*UnsafePolicyError](err)
	if err != nil && !ok {
		return nil, "", err
	}
	if ok {
		if !o.force && (ue.NoAllow || !o.orphans) {
			return rep, "", err
		}
		m.log.Warn().Str("warning", ue.What()).Bool("force", o.force).Msg("a policy the guard refuses is made live")
		warning = ue.What()
	}
	if o.strict && rep != nil && rep.Unusable > 0 {
		return rep, "", &DataCheckError{Report: rep}
	}
	return rep, warning, nil
}

// guard checks the stored facts against c (CheckData) and returns the
// report, with an *UnsafePolicyError when c, made live, would deny every
// request or orphan every stored fact. Both need stored facts: a policy
// loaded into an empty store decides nothing yet (and the Oso SDK test
// suites load rule-less policies, such as a lone declare, into an empty
// dev server).
func (m *Manager) guard(ctx context.Context, c *Compiled) (*DataReport, error) {
	if m.facts == nil {
		return nil, nil
	}
	snap, err := m.facts.Snapshot(ctx, store.Consistency{})
	if err != nil {
		return nil, fmt.Errorf("reading the stored facts: %w", err)
	}
	total := snap.Stats().Facts
	if total == 0 {
		return nil, nil
	}
	rep, err := CheckData(ctx, c, snap)
	if err != nil {
		return nil, err
	}
	e := &UnsafePolicyError{NoAllow: !derivesAllow(c.prog)}
	if rep.Checked > 0 && rep.Unusable == rep.Checked {
		e.Orphaned = total
		for _, p := range rep.Predicates {
			e.Predicates = append(e.Predicates, p.Name())
		}
	}
	if !e.NoAllow && e.Orphaned == 0 {
		return rep, nil
	}
	return rep, e
}

// derivesAllow reports whether p can derive allow/3 at all: a rule of its
// own for allow/3, or anything that makes has_permission/3 hold (a rule,
// shorthand rules in a resource block, or a storable fact), which the
// built-in allow rule turns into allow.
func derivesAllow(p *lang.Program) bool {
	allow, perm := lang.Pred{Name: "allow", Arity: 3}, lang.Pred{Name: "has_permission", Arity: 3}
	if len(p.Rules[perm]) > 0 || len(p.FactTypes[perm]) > 0 || len(p.FactTypes[allow]) > 0 {
		return true
	}
	for _, r := range p.Rules[allow] {
		if !isBuiltinAllow(r) {
			return true
		}
	}
	return false
}

// isBuiltinAllow reports whether r is the allow-if-has_permission rule
// every program gets.
func isBuiltinAllow(r *lang.Rule) bool {
	c, ok := r.Body.(lang.Call)
	return ok && c.Pred == lang.Pred{Name: "has_permission", Arity: 3}
}
