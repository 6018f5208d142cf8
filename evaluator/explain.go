package evaluator

import (
	"strings"

	"github.com/castellan-authz/castellan/lang/term"
)

// Explanation is the derivation of a decision. It is a plain tree; the
// wire format is the server's business.
//
// For a goal that holds it names the fact that proves it (Fact) or the
// rule (Rule) and the premises its body needed (Premises). For a goal that
// does not hold it lists the rules tried (Tried); each tried rule names the
// premise that failed (Failed) and, when that premise is a call, why it
// failed (Premises, one entry). A goal that holds but whose derivation is
// too large to explain has Holds set and says so in Failed.
type Explanation struct {
	Goal     string
	Holds    bool
	Fact     *FactUse
	Rule     *RuleUse
	Premises []*Explanation
	Tried    []*Explanation
	Failed   string
	// Notes, on the root of a denial only, name what of the question the
	// policy knows nothing of (lang.Program.QuestionNotes): a mistyped
	// type or action is denied like any other, and the notes say why.
	Notes []string
}

// FactUse is a fact used by a derivation.
type FactUse struct {
	Fact string
	// Origin is "stored" or "context".
	Origin string
}

// RuleUse is a rule used (or tried) by a derivation.
type RuleUse struct {
	Text     string
	Position string
}

// Fact origins.
const (
	OriginStored  = "stored"
	OriginContext = "context"
)

// Bounds of an explanation, so that explaining costs a bounded amount.
const (
	explainMaxNodes     = 2000
	explainMaxFailDepth = 4
)

// failTrace records, for one rule body, the deepest literal a failing
// evaluation reached and how it looked then.
type failTrace struct {
	base  int
	cur   *crule
	plan  []step // the rule's plan, set by runRule
	best  int
	lit   *lit
	shown string
	args  []term.Value // arguments of lit when it is a call
}

func (tr *failTrace) reached(s *solver, base int, steps []step, i int) {
	if base != tr.base || len(tr.plan) == 0 || &steps[0] != &tr.plan[0] || i < tr.best {
		return
	}
	l := steps[i].lit
	tr.best, tr.lit = i, l
	tr.shown = s.renderLit(base, l, tr.cur)
	tr.args = tr.args[:0]
	if l.kind == litCall {
		for k := range l.args {
			tr.args = append(tr.args, s.value(s.resolve(base, &l.args[k])))
		}
	}
}

// explainer builds explanations on a solver whose tables are filled.
type explainer struct {
	s     *solver
	nodes int
	path  map[string]bool
}

func (s *solver) explain(p *predInfo, args []term.Value, holds bool) *Explanation {
	x := &explainer{s: s, path: map[string]bool{}}
	if holds {
		if n := x.prove(p, args); n != nil {
			return n
		}
		// Only when the derivation exceeds the explanation budget.
		return &Explanation{Goal: renderCall(p.name, args), Holds: true, Failed: "the derivation is too large to explain"}
	}
	return x.deny(p, args, 0)
}

func ruleUse(r *crule) *RuleUse {
	u := &RuleUse{Text: r.text}
	if r.pos.IsValid() {
		u.Position = r.pos.String()
	}
	return u
}

func (s *solver) origin(pred string, args []term.Value) string {
	if c, ok := s.src.(contextual); ok && c.fromContext(pred, args) {
		return OriginContext
	}
	return OriginStored
}

// prove returns a derivation of some instance of p(args) (wildcards are
// unbound), or nil.
func (x *explainer) prove(p *predInfo, args []term.Value) *Explanation {
	s := x.s
	x.nodes++
	if x.nodes > explainMaxNodes || s.err != nil {
		return nil
	}
	goal := renderCall(p.name, args)
	if x.path[goal] {
		return nil
	}
	pat := make([]term.Value, len(args))
	for i, a := range args {
		if !isWild(a) {
			pat[i] = a
		}
	}
	var fact []term.Value
	matchValues(s.src, p.name, pat, func(a []term.Value) bool {
		fact = append([]term.Value(nil), a...)
		return false
	})
	if fact != nil {
		return &Explanation{Goal: renderCall(p.name, fact), Holds: true,
			Fact: &FactUse{Fact: renderCall(p.name, fact), Origin: s.origin(p.name, fact)}}
	}
	x.path[goal] = true
	defer delete(x.path, goal)
	for _, r := range p.rules {
		var found *Explanation
		argOff := len(s.vals)
		s.vals = s.handles(s.vals, pat)
		bc := &bodyCtx{kind: emitFunc}
		bc.fn = func(base int) bool {
			n := &Explanation{Holds: true, Rule: ruleUse(r)}
			hv := make([]term.Value, len(r.head))
			for i := range r.head {
				hv[i] = s.value(s.resolve(base, &r.head[i]))
			}
			n.Goal = renderCall(p.name, hv)
			for _, st := range r.plan(maskOf(pat)) {
				l := st.lit
				if l.kind != litCall {
					n.Premises = append(n.Premises, &Explanation{Goal: s.renderLit(base, l, r), Holds: true})
					continue
				}
				sub := make([]term.Value, len(l.args))
				for i := range l.args {
					sub[i] = s.value(s.resolve(base, &l.args[i]))
				}
				pn := x.prove(l.pred, sub)
				if pn == nil {
					return s.err == nil // try the next solution
				}
				n.Premises = append(n.Premises, pn)
			}
			found = n
			return false
		}
		s.runRule(-1, argOff, r, bc)
		s.vals = s.vals[:argOff]
		if found != nil {
			return found
		}
	}
	return nil
}

func maskOf(args []term.Value) uint {
	var m uint
	for i, a := range args {
		if !isWild(a) && !a.IsZero() {
			m |= 1 << uint(i)
		}
	}
	return m
}

// deny explains why no instance of p(args) holds: the rules tried and the
// premise each one failed on.
func (x *explainer) deny(p *predInfo, args []term.Value, depth int) *Explanation {
	s := x.s
	x.nodes++
	n := &Explanation{Goal: renderCall(p.name, args)}
	if x.nodes > explainMaxNodes || s.err != nil {
		return n
	}
	if len(p.rules) == 0 {
		n.Failed = "no matching fact"
		return n
	}
	pat := make([]term.Value, len(args))
	for i, a := range args {
		if !isWild(a) {
			pat[i] = a
		}
	}
	for _, r := range p.rulesFor(pat) {
		tried := &Explanation{Goal: n.Goal, Rule: ruleUse(r)}
		argOff := len(s.vals)
		s.vals = s.handles(s.vals, pat)
		tr := &failTrace{base: len(s.frame), best: -1}
		prev := s.trace
		s.trace = tr
		tr.cur = r
		bc := &bodyCtx{kind: emitFound}
		s.runRule(-1, argOff, r, bc)
		s.trace = prev
		s.vals = s.vals[:argOff]
		switch {
		case bc.found:
			tried.Holds = true // holds now (a wildcard or context change); nothing failed
		case tr.plan == nil:
			continue // the head does not match the goal
		case tr.lit == nil:
			tried.Failed = "the rule body is false"
		default:
			tried.Failed = tr.shown
			if tr.lit.kind == litCall && depth+1 < explainMaxFailDepth {
				tried.Premises = append(tried.Premises, x.denyLit(tr, depth+1))
			}
		}
		n.Tried = append(n.Tried, tried)
	}
	if len(n.Tried) == 0 {
		n.Failed = "no matching fact, and no rule matches"
	}
	return n
}

// denyLit explains the failing call recorded in tr, with the arguments it
// had when evaluation reached it.
func (x *explainer) denyLit(tr *failTrace, depth int) *Explanation {
	return x.deny(tr.lit.pred, tr.args, depth)
}

// renderCall renders name(args) in Polar syntax; a wildcard is `_`.
func renderCall(name string, args []term.Value) string {
	var b strings.Builder
	b.WriteString(name)
	b.WriteByte('(')
	for i, a := range args {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(renderVal(a))
	}
	b.WriteByte(')')
	return b.String()
}

func renderVal(v term.Value) string {
	if isWild(v) {
		return "_"
	}
	return v.String()
}

// renderLit renders a literal with the current bindings; an unbound
// variable shows its name.
func (s *solver) renderLit(base int, l *lit, r *crule) string {
	op := func(o operand) string { return s.renderOperand(base, o, r) }
	switch l.kind {
	case litCall:
		parts := make([]string, len(l.args))
		for i, a := range l.args {
			parts[i] = op(a)
		}
		return l.pred.name + "(" + strings.Join(parts, ", ") + ")"
	case litUnify:
		return op(l.args[0]) + " = " + op(l.args[1])
	case litCompare:
		return op(l.args[0]) + " " + l.op + " " + op(l.args[1])
	case litIn:
		return op(l.args[0]) + " in " + op(l.args[1])
	case litMatches:
		return op(l.args[0]) + " matches " + l.typ
	case litNot:
		var alts []string
		for _, alt := range l.alts {
			var parts []string
			for _, il := range alt {
				parts = append(parts, s.renderLit(base, il, r))
			}
			alts = append(alts, strings.Join(parts, " and "))
		}
		return "not (" + strings.Join(alts, " or ") + ")"
	}
	return "false"
}

func (s *solver) renderOperand(base int, o operand, r *crule) string {
	switch o.kind {
	case opVar:
		v := s.value(s.frame[s.deref(base+o.slot)])
		if isWild(v) {
			if r != nil && o.slot < len(r.varNames) {
				return r.varNames[o.slot]
			}
			return "_"
		}
		return v.String()
	case opConst:
		return o.val.String()
	case opNow:
		return "@current_unix_time"
	}
	parts := make([]string, len(o.list))
	for i, e := range o.list {
		parts[i] = s.renderOperand(base, e, r)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
