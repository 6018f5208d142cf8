package policy

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/castellan-authz/castellan/lang"
	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
)

// LoadOption changes what Load accepts.
type LoadOption func(*loadOptions)

type loadOptions struct {
	force, orphans bool
	source, commit string // see From
}

// Force makes Load accept a policy the guard would refuse (see
// ErrNeedsForce): the caller has been told what it does and wants it.
func Force() LoadOption { return func(o *loadOptions) { o.force = true } }

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

// maxGuardScan bounds the stored facts the orphan check reads: past it,
// facts no scanned one of which the policy can use count as orphaned.
const maxGuardScan = 1_000_000

// admit applies the guard to c under o: nil when c may go live; the
// *UnsafePolicyError when it may not; a warning (the error's text) when it
// goes live only because o allows it.
func (m *Manager) admit(ctx context.Context, c *Compiled, o loadOptions) (warning string, err error) {
	err = m.guard(ctx, c)
	ue, ok := errors.AsType[*UnsafePolicyError](err)
	if !ok {
		return "", err
	}
	if !o.force && (ue.NoAllow || !o.orphans) {
		return "", err
	}
	m.log.Warn().Str("warning", ue.What()).Bool("force", o.force).Msg("a policy the guard refuses is made live")
	return ue.What(), nil
}

// guard returns an *UnsafePolicyError when c, made live, would deny every
// request or orphan every stored fact. Both need stored facts: a policy
// loaded into an empty store decides nothing yet (and the Oso SDK test
// suites load rule-less policies, such as a lone declare, into an empty
// dev server).
func (m *Manager) guard(ctx context.Context, c *Compiled) error {
	if m.facts == nil {
		return nil
	}
	snap, err := m.facts.Snapshot(ctx, store.Consistency{})
	if err != nil {
		return fmt.Errorf("reading the stored facts: %w", err)
	}
	total := snap.Stats().Facts
	if total == 0 {
		return nil
	}
	e := &UnsafePolicyError{NoAllow: !derivesAllow(c.prog)}
	if usable, preds := scanFacts(c.prog, snap); !usable {
		e.Orphaned, e.Predicates = total, preds
	}
	if !e.NoAllow && e.Orphaned == 0 {
		return nil
	}
	return e
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

// scanFacts reports whether p can use any stored fact of snap (reading at
// most maxGuardScan) and, when it cannot, the predicates it read.
func scanFacts(p *lang.Program, snap store.Snapshot) (usable bool, preds []string) {
	seen := map[string]bool{}
	n := 0
	for f := range snap.Facts(term.Pattern{AnyArity: true}) {
		if p.CheckFact(f) == nil {
			return true, nil
		}
		if name := fmt.Sprintf("%s/%d", f.Predicate, len(f.Args)); !seen[name] {
			seen[name] = true
			preds = append(preds, name)
		}
		if n++; n >= maxGuardScan {
			break
		}
	}
	sort.Strings(preds)
	return false, preds
}
