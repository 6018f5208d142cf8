package lang

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/castellan-authz/castellan/lang/ast"
	"github.com/castellan-authz/castellan/lang/term"
)

// FactError is returned by CheckFact for a fact the policy cannot use.
type FactError struct {
	Fact term.Fact
	Msg  string
}

// Error returns the reason the fact was rejected.
func (e *FactError) Error() string { return e.Msg }

// CheckFact reports whether f may be stored under this policy: its
// predicate and arity are used in a rule body or declared, and its
// arguments fit one of the argument-type signatures in FactTypes. The error is
// a *FactError saying what the policy expects.
func (p *Program) CheckFact(f term.Fact) error {
	pred := Pred{f.Predicate, len(f.Args)}
	fts, ok := p.FactTypes[pred]
	if !ok {
		return &FactError{Fact: f, Msg: p.unknownPredicate(pred)}
	}
	// What each argument's type is, looked up once rather than per signature.
	var buf [8]argType
	args := buf[:0]
	if len(f.Args) > len(buf) {
		args = make([]argType, 0, len(f.Args))
	}
	for _, a := range f.Args {
		args = append(args, p.argType(a.Type))
	}
	if idx := p.factIndex[pred]; idx != nil {
		if idx.fits(p, args, fts) {
			return nil
		}
	} else {
		for _, ft := range fts {
			if p.fits(args, ft) {
				return nil
			}
		}
	}
	msg := fmt.Sprintf("%s expects %s", pred, formatFactTypes(fts))
	for i, a := range f.Args {
		ok := false
		for _, ft := range fts {
			if p.TypeMatches(a.Type, ft[i]) {
				ok = true
				break
			}
		}
		if !ok {
			return &FactError{Fact: f, Msg: fmt.Sprintf("%s; argument %d is %s", msg, i+1, a) + p.suggestValue(a, fts, i)}
		}
	}
	return &FactError{Fact: f, Msg: fmt.Sprintf("%s; no combination of those types matches %s", msg, f)}
}

// CheckContextFact is CheckFact for a fact sent with one question (a
// context fact): the same check, except that has_permission/3 facts of any
// argument types are usable, because the built-in allow rule reads
// has_permission(actor, action, resource) for any values (as Oso Cloud
// answers such a question; the official Go SDK's fallback test relies on
// it). Stored facts are not held to that: a has_permission fact is stored
// only at the types the policy's rules give it.
func (p *Program) CheckContextFact(f term.Fact) error {
	if f.Predicate == "has_permission" && len(f.Args) == 3 {
		return nil
	}
	return p.CheckFact(f)
}

// minIndexedSignatures is how many argument-type signatures a predicate needs
// before CheckFact indexes them.
const minIndexedSignatures = 8

// factIndex finds the signatures a fact may fit by the type of one argument.
type factIndex struct {
	pos    int              // the argument position indexed
	byType map[string][]int // signatures whose type at pos is this concrete type
	rest   []int            // signatures with "" or an abstract type at pos
}

// buildFactIndexes indexes the fact types of every predicate with many
// signatures, on the position with the most distinct concrete types.
func (p *Program) buildFactIndexes() {
	for pred, fts := range p.FactTypes {
		if len(fts) < minIndexedSignatures {
			continue
		}
		best, bestN := -1, 1
		for i := 0; i < pred.Arity; i++ {
			seen := map[string]bool{}
			for _, ft := range fts {
				if t := ft[i]; t != "" && t != AbstractActor && t != AbstractResource {
					seen[t] = true
				}
			}
			if len(seen) > bestN {
				best, bestN = i, len(seen)
			}
		}
		if best < 0 {
			continue
		}
		idx := &factIndex{pos: best, byType: map[string][]int{}}
		for j, ft := range fts {
			switch t := ft[best]; t {
			case "", AbstractActor, AbstractResource:
				idx.rest = append(idx.rest, j)
			default:
				idx.byType[t] = append(idx.byType[t], j)
			}
		}
		if p.factIndex == nil {
			p.factIndex = map[Pred]*factIndex{}
		}
		p.factIndex[pred] = idx
	}
}

// fits reports whether arguments fit one of fts, trying only the signatures
// whose type at the indexed position the argument can match.
func (x *factIndex) fits(p *Program, args []argType, fts []FactType) bool {
	try := func(js []int) bool {
		for _, j := range js {
			if p.fits(args, fts[j]) {
				return true
			}
		}
		return false
	}
	a := args[x.pos]
	if try(x.byType[a.name]) || try(x.rest) {
		return true
	}
	if !a.extends {
		return false
	}
	for t := range x.byType {
		if t != a.name && p.extends(a.name, t, 0) && try(x.byType[t]) {
			return true
		}
	}
	return false
}

// argType is what CheckFact needs to know about an argument's type.
type argType struct {
	name     string
	actor    bool // matches Actor
	resource bool // matches Resource
	extends  bool // extends some type
}

func (p *Program) argType(t string) argType {
	a := argType{name: t}
	if info := p.Types[t]; info != nil {
		a.actor = p.TypeMatches(t, AbstractActor)
		a.resource = true
		a.extends = len(info.Extends) > 0
	}
	return a
}

// fits reports whether arguments of the given types fit ft: TypeMatches
// without a map lookup per signature.
func (p *Program) fits(args []argType, ft FactType) bool {
	for i, a := range args {
		switch c := ft[i]; {
		case c == "" || c == a.name:
		case c == AbstractActor:
			if !a.actor {
				return false
			}
		case c == AbstractResource:
			if !a.resource {
				return false
			}
		case !a.extends || !p.extends(a.name, c, 0):
			return false
		}
	}
	return true
}

func (p *Program) unknownPredicate(pred Pred) string {
	if pred == (Pred{"allow", 3}) {
		return "allow/3 is the built-in entry point derived from has_permission: store has_permission or role facts instead (or declare allow to store allow facts)"
	}
	var arities []string
	for q := range p.FactTypes {
		if q.Name == pred.Name {
			arities = append(arities, fmt.Sprint(q.Arity))
		}
	}
	if len(arities) > 0 {
		sort.Strings(arities)
		return fmt.Sprintf("wrong number of arguments: %s facts take %s arguments, not %d", pred.Name, strings.Join(arities, " or "), pred.Arity)
	}
	msg := fmt.Sprintf("unknown predicate %s: the policy neither uses nor declares it", pred)
	// The nearest name of the same arity first: has_relaton/3 is far more
	// likely has_relation/3 than a 2-ary has_relatio.
	var same, other []string
	for q := range p.FactTypes {
		if q.Arity == pred.Arity {
			same = append(same, q.Name)
		} else {
			other = append(other, q.Name)
		}
	}
	sort.Strings(same)
	sort.Strings(other)
	if n := Nearest(pred.Name, same); n != "" {
		return msg + "; did you mean " + n + "?"
	}
	if n := Nearest(pred.Name, other); n != "" {
		return msg + "; did you mean " + n + "?"
	}
	return msg
}

// suggestValue is the hint for argument i, a, that fits no signature of
// fts: the value the caller probably meant, when one is plain. A primitive
// written as the wrong primitive ("true" where a Boolean is expected, "3"
// where an Integer is), a type one typo away from an expected one
// (Repositry{"x"}), or a bare string where one entity type is expected
// ("alice" where a User is).
func (p *Program) suggestValue(a term.Value, fts []FactType, i int) string {
	var want []string
	for _, ft := range fts {
		if t := ft[i]; t != "" && !slices.Contains(want, t) {
			want = append(want, t)
		}
	}
	sort.Strings(want)
	try := func(typ string) string {
		v, err := term.Normalize(term.Value{Type: typ, ID: a.ID})
		if err != nil || !p.TypeMatches(v.Type, typ) {
			return ""
		}
		if v.IsPrimitive() {
			return fmt.Sprintf(" (%s); the policy expects %s there: did you mean %s{%s}?", article(a.Type), typ, typ, quoteID(v))
		}
		return fmt.Sprintf(" (%s); the policy expects %s there: did you mean %s?", article(a.Type), typ, v)
	}
	for _, t := range want {
		if term.IsPrimitiveType(t) && a.IsPrimitive() {
			if s := try(t); s != "" {
				return s
			}
		}
	}
	if n := Nearest(a.Type, want); n != "" && n != AbstractActor && n != AbstractResource {
		if s := try(n); s != "" {
			return s
		}
	}
	if len(want) == 1 && a.Type == term.TypeString && !term.IsPrimitiveType(want[0]) && want[0] != AbstractActor && want[0] != AbstractResource {
		return try(want[0])
	}
	return ""
}

// article returns "a T" or "an T" by T's first letter.
func article(t string) string {
	if t != "" && strings.ContainsRune("AEIOUaeiou", rune(t[0])) {
		return "an " + t
	}
	return "a " + t
}

// quoteID is v's id as it is written inside Type{...}: quoted for a
// String, bare for Integer and Boolean.
func quoteID(v term.Value) string {
	if v.Type == term.TypeString {
		return strconv.Quote(v.ID)
	}
	return v.ID
}

// formatFactTypes renders fact types as "(Actor, String, Repository | Organization)",
// the union of the types allowed at each position (or several signatures when
// the union would allow more than the signatures do).
func formatFactTypes(fts []FactType) string {
	if len(fts) == 0 {
		return "nothing"
	}
	cols := make([][]string, len(fts[0]))
	for _, ft := range fts {
		for i, t := range ft {
			if t == "" {
				t = "any"
			}
			if !slices.Contains(cols[i], t) {
				cols[i] = append(cols[i], t)
			}
		}
	}
	product := 1
	for _, c := range cols {
		product *= len(c)
	}
	if product == len(fts) {
		parts := make([]string, len(cols))
		for i, c := range cols {
			parts[i] = strings.Join(c, " | ")
		}
		return "(" + strings.Join(parts, ", ") + ")"
	}
	var signatures []string
	for _, ft := range fts {
		parts := make([]string, len(ft))
		for i, t := range ft {
			if t == "" {
				t = "any"
			}
			parts[i] = t
		}
		signatures = append(signatures, "("+strings.Join(parts, ", ")+")")
	}
	return strings.Join(signatures, " or ")
}

// Predicates returns every predicate that has rules or may be stored,
// sorted by name and arity.
func (p *Program) Predicates() []Pred {
	seen := map[Pred]bool{}
	var out []Pred
	for q := range p.Rules {
		if !seen[q] {
			seen[q] = true
			out = append(out, q)
		}
	}
	for q := range p.FactTypes {
		if !seen[q] {
			seen[q] = true
			out = append(out, q)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Arity < out[j].Arity
	})
	return out
}

// isBuiltinPredicate reports whether name is one of the predicates
// shorthand rules expand to.
func isBuiltinPredicate(name string) bool {
	return name == "has_role" || name == "has_permission" || name == "has_relation"
}

// factUse is one call that may read stored facts.
type factUse struct {
	pred  Pred
	types FactType
	pos   ast.Position
}

// inferFactTypes fills Program.FactTypes from declarations, block
// declarations and every call in a rule body.
func (c *checker) inferFactTypes() {
	ft := map[Pred][]FactType{}
	add := func(p Pred, t FactType) { ft[p] = append(ft[p], t) }

	for p, ds := range c.declares {
		for _, d := range ds {
			t := make(FactType, len(d.Types))
			for i, id := range d.Types {
				t[i] = id.Name
			}
			add(p, t)
		}
	}
	for _, b := range c.blockOrder {
		hasRoles := false
		for _, name := range b.order {
			switch d := b.own[name]; d.kind {
			case declRelation:
				add(Pred{"has_relation", 3}, FactType{b.name, term.TypeString, d.target})
			case declRole:
				hasRoles = true
			}
		}
		if hasRoles {
			add(Pred{"has_role", 3}, FactType{AbstractActor, term.TypeString, b.name})
		}
	}
	if c.global != nil && len(c.global.names(declRole)) > 0 {
		add(Pred{"has_role", 2}, FactType{AbstractActor, term.TypeString})
	}

	// Each call is recorded once per distinct argument-type signature; the key
	// buffer is reused so that repeated signatures allocate nothing.
	seen := map[string]bool{}
	var key []byte
	use := func(u factUse) {
		if len(c.declares[u.pred]) > 0 {
			c.checkDeclareConflict(u)
		}
		key = append(key[:0], u.pred.Name...)
		key = append(key, 0, byte(u.pred.Arity))
		for _, t := range u.types {
			key = append(key, 0)
			key = append(key, t...)
		}
		if seen[string(key)] {
			return
		}
		seen[string(key)] = true
		add(u.pred, c.factType(u.types))
	}
	// A rule head is storable too, with the types of its parameters: Oso
	// Cloud accepts a fact "explicit to the rule itself" (has_permission
	// facts for a policy that derives has_permission), which then holds
	// beside what the rule derives. The built-in allow rule is not a use.
	var head FactType
	headUse := func(r *Rule, env map[string]string) {
		head = head[:0]
		for _, p := range r.Params {
			t := p.Type
			switch x := p.Term.(type) {
			case Const:
				t = x.Value.Type
			case Var:
				if refine(t) && env[x.Name] != "" {
					t = env[x.Name]
				}
			default:
				t = ""
			}
			head = append(head, t)
		}
		key = append(key[:0], r.Pred.Name...)
		key = append(key, 0, byte(r.Pred.Arity))
		for _, t := range head {
			key = append(key, 0)
			key = append(key, t...)
		}
		if seen[string(key)] {
			return
		}
		seen[string(key)] = true
		add(r.Pred, c.factType(head))
	}
	env := map[string]string{}
	var buf FactType
	for _, rules := range c.prog.Rules {
		for _, r := range rules {
			if r == c.derived {
				continue
			}
			clear(env)
			for _, p := range r.Params {
				if v, ok := p.Term.(Var); ok && p.Type != "" {
					env[v.Name] = p.Type
				}
			}
			buf = c.bodyUses(r.Body, env, buf, use)
			headUse(r, env)
		}
	}

	for p, ts := range ft {
		c.prog.FactTypes[p] = c.simplify(ts)
	}
	c.prog.buildFactIndexes()
}

// refine reports whether a variable of type have may be narrowed to a
// more precise type (it has none, or only an abstract one).
func refine(have string) bool {
	return have == "" || have == AbstractActor || have == AbstractResource
}

// bodyUses appends the calls of a rule body with the argument types known
// from the variables' specializers, `matches`, unifications with literals,
// and declared relations.
//
// Each call is passed to use with its types in buf (reused: use must copy
// them to keep them); bodyUses returns buf, grown as needed.
func (c *checker) bodyUses(e Expr, env map[string]string, buf FactType, use func(factUse)) FactType {
	switch e := e.(type) {
	case And:
		// Narrow variable types for this conjunction in env itself, and
		// undo that afterwards (cheaper than copying env).
		type saved struct {
			name, typ string
			had       bool
		}
		var undo []saved
		set := func(name, typ string) {
			old, had := env[name]
			undo = append(undo, saved{name, old, had})
			env[name] = typ
		}
		for range 2 { // twice, so that relation chains propagate
			for _, x := range e.Exprs {
				switch x := x.(type) {
				case Matches:
					if v, ok := x.Term.(Var); ok && refine(env[v.Name]) && env[v.Name] != x.Type {
						set(v.Name, x.Type)
					}
				case Unify:
					if name, t := unifyType(x.Left, x.Right, env); name != "" {
						set(name, t)
					}
					if name, t := unifyType(x.Right, x.Left, env); name != "" {
						set(name, t)
					}
				case Call:
					if t := c.relationTarget(x, env); t != "" {
						if v, ok := x.Args[2].(Var); ok && refine(env[v.Name]) && env[v.Name] != t {
							set(v.Name, t)
						}
					}
				}
			}
		}
		for _, x := range e.Exprs {
			buf = c.bodyUses(x, env, buf, use)
		}
		for i := len(undo) - 1; i >= 0; i-- {
			if u := undo[i]; u.had {
				env[u.name] = u.typ
			} else {
				delete(env, u.name)
			}
		}
	case Or:
		for _, x := range e.Exprs {
			buf = c.bodyUses(x, env, buf, use)
		}
	case Not:
		buf = c.bodyUses(e.Expr, env, buf, use)
	case Call:
		buf = buf[:0]
		for _, a := range e.Args {
			buf = append(buf, termType(a, env))
		}
		if rt := c.relationTarget(e, env); rt != "" && refine(buf[2]) {
			buf[2] = rt
		}
		use(factUse{pred: e.Pred, types: buf, pos: e.Pos})
	}
	return buf
}

// unifyType returns the variable v names and the type it takes from
// `v = other`, or "" when v is not a variable that other narrows.
func unifyType(v, other Term, env map[string]string) (string, string) {
	if x, ok := v.(Var); ok && refine(env[x.Name]) {
		if t := termType(other, env); t != "" && !refine(t) && t != env[x.Name] {
			return x.Name, t
		}
	}
	return "", ""
}

// relationTarget returns T for has_relation(s, "rel", o) when s's type
// declares rel: T.
func (c *checker) relationTarget(call Call, env map[string]string) string {
	if call.Pred != (Pred{"has_relation", 3}) {
		return ""
	}
	rel, ok := call.Args[1].(Const)
	if !ok || rel.Value.Type != term.TypeString {
		return ""
	}
	b := c.blocks[termType(call.Args[0], env)]
	if b == nil {
		return ""
	}
	if d, ok := b.all[rel.Value.ID]; ok && d.kind == declRelation {
		return d.target
	}
	return ""
}

func termType(t Term, env map[string]string) string {
	switch t := t.(type) {
	case Var:
		return env[t.Name]
	case Const:
		return t.Value.Type
	case ConstRef:
		return term.TypeInteger
	}
	return ""
}

// checkDeclareConflict reports a call of a declared (non built-in)
// predicate with a primitive argument that no declaration allows, such as
// is_public(repo, "yes") under declare is_public(Repository, Boolean).
func (c *checker) checkDeclareConflict(u factUse) {
	ds := c.declares[u.pred]
	if len(ds) == 0 || isBuiltinPredicate(u.pred.Name) {
		return
	}
	for i, t := range u.types {
		if !term.IsPrimitiveType(t) {
			continue
		}
		ok := false
		for _, d := range ds {
			if dt := d.Types[i].Name; dt == t || (!term.IsPrimitiveType(dt) && !c.isKnownType(dt)) {
				ok = true
			}
		}
		if !ok {
			d := ds[0]
			c.errorf(u.pos, fmt.Sprintf("declared at %s as %s(%s)", d.Pos, u.pred.Name, declTypes(d)),
				"%s: argument %d is a %s, but the declarations of %s do not allow it", u.pred, i+1, t, u.pred)
			return
		}
	}
}

func declTypes(d *ast.Declare) string {
	var s []string
	for _, t := range d.Types {
		s = append(s, t.Name)
	}
	return strings.Join(s, ", ")
}

// simplify removes duplicate signatures and signatures another one subsumes, and
// sorts the rest. A signature is subsumed when a signature made of, position by
// position, the same type, a supertype, an abstract type or "" exists; the
// candidates are looked up instead of comparing every pair.
func (c *checker) simplify(ts []FactType) []FactType {
	var key []byte
	keyOf := func(t FactType) []byte {
		key = key[:0]
		for _, s := range t {
			key = append(key, s...)
			key = append(key, 0)
		}
		return key
	}
	seen := make(map[string]bool, len(ts))
	uniq := ts[:0:0]
	for _, t := range ts {
		if k := keyOf(t); !seen[string(k)] {
			seen[string(k)] = true
			uniq = append(uniq, t)
		}
	}
	if c.wider == nil {
		c.wider = map[string][]string{} // shared by every predicate
	}
	var out []FactType
	for i, t := range uniq {
		if !c.subsumed(t, seen, uniq, i, c.wider) {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return slices.Compare(out[i], out[j]) < 0 })
	return out
}

// maxSubsumeLookups bounds the candidate signatures subsumed looks up; past it
// (very wide predicates) it compares with every signature instead.
const maxSubsumeLookups = 256

// subsumed reports whether another signature of seen (keyed by its types, each
// followed by a 0 byte) accepts every fact t accepts. all and at are the
// signatures and t's index in them; wider caches widerTypes.
func (c *checker) subsumed(t FactType, seen map[string]bool, all []FactType, at int, wider map[string][]string) bool {
	var cbuf [8][]string
	cands := cbuf[:0]
	product := 1
	for _, typ := range t {
		w, ok := wider[typ]
		if !ok {
			w = c.widerTypes(typ)
			wider[typ] = w
		}
		cands = append(cands, w)
		product *= len(w)
		if product > maxSubsumeLookups {
			for j, u := range all {
				if j != at && c.subsumes(u, t) {
					return true
				}
			}
			return false
		}
	}
	// Enumerate every combination except t itself (each list starts with
	// the type itself), building keys in one buffer.
	var ibuf [8]int
	idx := ibuf[:0]
	for range t {
		idx = append(idx, 0)
	}
	var key []byte
	for {
		i := 0
		for ; i < len(idx); i++ {
			idx[i]++
			if idx[i] < len(cands[i]) {
				break
			}
			idx[i] = 0
		}
		if i == len(idx) {
			return false
		}
		key = key[:0]
		for p, j := range idx {
			key = append(key, cands[p][j]...)
			key = append(key, 0)
		}
		if seen[string(key)] {
			return true
		}
	}
}

// widerTypes returns typ and every type constraint a value of type typ
// satisfies: its supertypes, the abstract types it belongs to, and "".
func (c *checker) widerTypes(typ string) []string {
	if typ == "" {
		return []string{""}
	}
	out := make([]string, 2, 4)
	out[0], out[1] = typ, ""
	if term.IsPrimitiveType(typ) {
		return out
	}
	var walk func(b *block, depth int)
	walk = func(b *block, depth int) {
		if depth > len(c.blockOrder) {
			return
		}
		for _, s := range b.supers {
			if !slices.Contains(out, s.name) {
				out = append(out, s.name)
			}
			walk(s, depth+1)
		}
	}
	if b := c.blocks[typ]; b != nil {
		walk(b, 0)
	}
	for _, abstract := range []string{AbstractActor, AbstractResource} {
		if abstract != typ && c.prog.TypeMatches(typ, abstract) {
			out = append(out, abstract)
		}
	}
	return out
}

// subsumes reports whether every fact that fits b also fits a.
func (c *checker) subsumes(a, b FactType) bool {
	for i := range a {
		if a[i] != "" && a[i] != b[i] && (b[i] == "" || !c.prog.TypeMatches(b[i], a[i])) {
			return false
		}
	}
	return true
}
