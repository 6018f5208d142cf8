package lang

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/castellan-authz/castellan/lang/term"
)

// knownNames is what the policy names: the types of its blocks, rules,
// declarations and literals, and the actions its rules can grant.
type knownNames struct {
	types   map[string]bool
	actions map[string]bool
	// anyAction: some allow or has_permission rule takes its action from
	// a variable, so no list of actions is complete.
	anyAction bool
	typeList  []string // sorted, for suggestions
	actList   []string // sorted, for suggestions
}

// buildKnownNames fills p.known from the checked program.
func (p *Program) buildKnownNames() {
	k := &knownNames{types: map[string]bool{}, actions: map[string]bool{}}
	addType := func(t string) {
		if t != "" && t != AbstractActor && t != AbstractResource && !term.IsPrimitiveType(t) {
			k.types[t] = true
		}
	}
	for t, info := range p.Types {
		addType(t)
		for _, perm := range info.Permissions {
			k.actions[perm] = true
		}
	}
	for _, md := range p.Metadata.Resources {
		for _, perm := range md.Permissions {
			k.actions[perm] = true
		}
	}
	for _, fts := range p.FactTypes {
		for _, ft := range fts {
			for _, t := range ft {
				addType(t)
			}
		}
	}
	var walkTerm func(t Term)
	walkTerm = func(t Term) {
		switch x := t.(type) {
		case Const:
			addType(x.Value.Type)
		case List:
			for _, e := range x.Elems {
				walkTerm(e)
			}
		}
	}
	var walk func(e Expr)
	walk = func(e Expr) {
		switch x := e.(type) {
		case And:
			for _, y := range x.Exprs {
				walk(y)
			}
		case Or:
			for _, y := range x.Exprs {
				walk(y)
			}
		case Not:
			walk(x.Expr)
		case Call:
			for _, a := range x.Args {
				walkTerm(a)
			}
		case Unify:
			walkTerm(x.Left)
			walkTerm(x.Right)
		case Compare:
			walkTerm(x.Left)
			walkTerm(x.Right)
		case In:
			walkTerm(x.Elem)
			walkTerm(x.List)
		case Matches:
			addType(x.Type)
		}
	}
	for pred, rules := range p.Rules {
		grants := pred == (Pred{"allow", 3}) || pred == (Pred{"has_permission", 3}) || pred == (Pred{"has_permission", 2})
		for _, r := range rules {
			for i, prm := range r.Params {
				addType(prm.Type)
				walkTerm(prm.Term)
				if grants && i == 1 {
					if c, ok := prm.Term.(Const); ok && c.Value.Type == term.TypeString {
						k.actions[c.Value.ID] = true
					} else if r.Text != derivedAllowText {
						k.anyAction = true
					}
				}
			}
			if r.Body != nil {
				walk(r.Body)
			}
		}
	}
	for t := range k.types {
		k.typeList = append(k.typeList, t)
	}
	for a := range k.actions {
		k.actList = append(k.actList, a)
	}
	sort.Strings(k.typeList)
	sort.Strings(k.actList)
	p.known = k
}

// QuestionNotes says what of a question allow(actor, action, resource)
// the policy knows nothing of, with the nearest name it does know: a type
// of neither value, an action no rule can grant. Such a question is
// denied, as in Oso Cloud; the notes tell a caller who mistyped a name why.
// Nil when the policy knows every name (or for a program that was not
// checked).
func (p *Program) QuestionNotes(actor term.Value, action string, resource term.Value) []string {
	k := p.known
	if k == nil {
		return nil
	}
	var notes []string
	seen := map[string]bool{}
	for _, v := range []term.Value{actor, resource} {
		t := v.Type
		if t == "" || term.IsPrimitiveType(t) || k.types[t] || seen[t] {
			continue
		}
		seen[t] = true
		note := fmt.Sprintf("the policy knows no type %s", t)
		if n := Nearest(t, k.typeList); n != "" {
			note += fmt.Sprintf(": did you mean %s?", n)
		}
		notes = append(notes, note)
	}
	if !k.anyAction && action != "" && !k.actions[action] {
		note := fmt.Sprintf("the policy grants no action %s", strconv.Quote(action))
		if n := Nearest(action, k.actList); n != "" {
			note += fmt.Sprintf(": did you mean %s?", strconv.Quote(n))
		}
		notes = append(notes, note)
	}
	return notes
}
