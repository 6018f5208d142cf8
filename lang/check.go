package lang

import (
	"fmt"
	"sort"
	"strings"

	"github.com/castellan-authz/castellan/lang/ast"
	"github.com/castellan-authz/castellan/lang/internal/edit"
	"github.com/castellan-authz/castellan/lang/term"
)

// maxExprDepth bounds how deeply rule bodies may nest before the checker
// reports an error instead of recursing further.
const maxExprDepth = 256

// Check checks parsed files as one policy and returns the checked Program.
// Files are loaded together: a rule in one file may use the blocks of
// another. The error, when not nil, is an ast.ErrorList of every problem
// found, sorted by position. Warnings never fail a check; they are in
// Program.Warnings. The warning about `and` and `or` mixed without
// parentheses needs the source text (the tree keeps no parentheses), so only
// Compile reports it.
func Check(files ...*ast.File) (*Program, error) {
	prog, errs := newChecker().run(files)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return prog, nil
}

// run checks files, turning a panic (a bug in the checker) into an error
// so that no policy can crash the server that loads it.
func (c *checker) run(files []*ast.File) (prog *Program, errs ast.ErrorList) {
	defer func() {
		if r := recover(); r != nil {
			var pos ast.Position
			for _, f := range files {
				if f != nil {
					pos = ast.Position{File: f.Name, Line: 1, Col: 1}
					break
				}
			}
			prog = nil
			errs = ast.ErrorList{{Pos: pos, Msg: fmt.Sprintf("internal checker error: %v", r), Hint: "please report this policy as a bug"}}
		}
	}()
	prog = c.check(files)
	return prog, c.errs
}

// declKind says what a name declared in a block is.
type declKind int

const (
	declRole declKind = iota + 1
	declPermission
	declRelation
)

func (k declKind) String() string {
	switch k {
	case declRole:
		return "role"
	case declPermission:
		return "permission"
	case declRelation:
		return "relation"
	}
	return "name"
}

// predicate returns the rule name a shorthand string of this kind maps to.
func (k declKind) predicate() string {
	switch k {
	case declRole:
		return "has_role"
	case declPermission:
		return "has_permission"
	}
	return "has_relation"
}

// decl is one name declared in a block.
type decl struct {
	kind   declKind
	pos    ast.Position
	target string // relation target type
	owner  *block // the block that declares it (a supertype when inherited)
}

// block is what the checker knows about an actor, resource or global block.
type block struct {
	node *ast.Block
	name string // "global" for the global block
	kind ast.BlockKind
	// own holds the block's own declarations; all adds inherited ones.
	own      map[string]*decl
	all      map[string]*decl
	order    []string // own declarations in source order
	supers   []*block // resolved extends
	resolved bool
	// used marks roles used as impliers (or anywhere in rules), granted
	// marks permissions granted by some rule.
	used, granted map[string]bool
}

func (b *block) names(kinds ...declKind) []string {
	var out []string
	for name, d := range b.all {
		for _, k := range kinds {
			if d.kind == k {
				out = append(out, name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// checker holds the state of one Check.
type checker struct {
	errs, warns ast.ErrorList
	maxDepth    int

	blocks     map[string]*block // actor and resource blocks by type name
	blockOrder []*block
	global     *block

	prog     *Program
	declares map[Pred][]*ast.Declare
	fixtures map[string]*ast.Fixture
	literals map[string]bool   // string literals used in hand-written rules
	sources  map[string][]byte // file name -> source, when known
	derived  *Rule             // the derived allow rule
	anon     int
	// shorthandRefs holds, while a shorthand condition is converted, the
	// expansion of each role or permission inside it.
	shorthandRefs map[*ast.ShorthandRef]Expr

	fixtureCache map[*ast.Fixture][]term.Fact
	testFacts    []testFact

	// Blocks that Rules, call arguments and string constants are handed
	// out of (see alloc.go).
	ruleArena  []Rule
	termArena  []Term
	paramArena []Param
	strTerms   map[string]Term
	varTerms   map[string]Term

	// wider caches widerTypes for simplify, once the types are known.
	wider map[string][]string
	// typeArena is where factType copies argument-type tuples.
	typeArena []string
}

func newChecker() *checker {
	return &checker{
		maxDepth: maxExprDepth,
		blocks:   map[string]*block{},
		declares: map[Pred][]*ast.Declare{},
		fixtures: map[string]*ast.Fixture{},
		literals: map[string]bool{},
		prog: &Program{
			Rules:     map[Pred][]*Rule{},
			Types:     map[string]*TypeInfo{},
			FactTypes: map[Pred][]FactType{},
			Metadata:  Metadata{Resources: map[string]ResourceMetadata{}},
		},
	}
}

func (c *checker) errorf(pos ast.Position, hint, format string, args ...any) {
	c.errs.Add(pos, fmt.Sprintf(format, args...), hint)
}

func (c *checker) warnf(pos ast.Position, hint, format string, args ...any) {
	c.warns.Add(pos, fmt.Sprintf(format, args...), hint)
}

// check runs every pass. It always returns the program built so far; the
// caller discards it when c.errs is not empty.
func (c *checker) check(files []*ast.File) *Program {
	c.prog.Files = files
	// Pass 1: blocks, declarations, fixtures and declares, so that rules
	// can refer to anything declared anywhere.
	for _, f := range files {
		if f == nil {
			continue
		}
		for _, it := range f.Items {
			switch it := it.(type) {
			case *ast.Block:
				c.collectBlock(it)
			case *ast.Fixture:
				c.collectFixture(it)
			case *ast.Declare:
				c.collectDeclare(it)
			}
		}
	}
	c.resolveBlocks()
	// Pass 2: rules (shorthand expanded) and tests, in source order.
	for _, f := range files {
		if f == nil {
			continue
		}
		for _, it := range f.Items {
			switch it := it.(type) {
			case *ast.Block:
				c.expandBlock(it)
			case *ast.Rule:
				c.addRule(c.convertRule(it))
			case *ast.Test:
				c.convertTest(it)
			case *ast.Declare:
				for _, t := range it.Types {
					c.checkTypeName(t)
				}
			}
		}
	}
	c.derived = derivedAllow()
	c.addRule(c.derived)
	c.buildTypes()
	c.inferFactTypes()
	c.prog.buildKnownNames()
	c.checkTestFacts()
	c.usageWarnings()
	c.errs.Sort()
	c.warns.Sort()
	c.prog.Warnings = c.warns
	return c.prog
}

func (c *checker) addRule(r *Rule) {
	if r == nil {
		return
	}
	c.prog.Rules[r.Pred] = append(c.prog.Rules[r.Pred], r)
}

// derivedAllow is allow(actor, action, resource) if
// has_permission(actor, action, resource), added to every program.
func derivedAllow() *Rule {
	a, x, r := Var{"actor"}, Var{"action"}, Var{"resource"}
	return &Rule{
		Pred:   Pred{"allow", 3},
		Params: []Param{{Term: a}, {Term: x}, {Term: r}},
		Body:   Call{Pred: Pred{"has_permission", 3}, Args: []Term{a, x, r}},
		Text:   derivedAllowText,
	}
}

// derivedAllowText is the Text of the derived allow rule.
const derivedAllowText = "allow if has_permission"

// collectBlock records a block and its declarations.
func (c *checker) collectBlock(n *ast.Block) {
	b := &block{node: n, kind: n.Kind, own: map[string]*decl{}, used: map[string]bool{}, granted: map[string]bool{}}
	switch {
	case n.Kind == ast.GlobalBlock:
		b.name = "global"
		if c.global != nil {
			c.errorf(n.Pos, "merge them into one global block", "duplicate global block (the first is at %s)", c.global.node.Pos)
			return
		}
		c.global = b
	case n.Name == nil:
		return // the parser reported it
	default:
		b.name = n.Name.Name
		if term.IsPrimitiveType(b.name) || b.name == AbstractActor || b.name == AbstractResource {
			c.errorf(n.Name.Pos, "", "%s is a built-in type and cannot be declared by a block", b.name)
			return
		}
		if prev, ok := c.blocks[b.name]; ok {
			c.errorf(n.Name.Pos, "", "duplicate block %s (the first is at %s)", b.name, prev.node.Pos)
			return
		}
		c.blocks[b.name] = b
		c.blockOrder = append(c.blockOrder, b)
	}
	seenKeyword := map[string]ast.Position{}
	for _, it := range n.Body {
		switch it := it.(type) {
		case *ast.Declaration:
			if prev, ok := seenKeyword[it.Keyword]; ok {
				c.errorf(it.Pos, "merge the two lists into one", "%s declared twice in %s (the first is at %s)", it.Keyword, b.name, prev)
			}
			seenKeyword[it.Keyword] = it.Pos
			kind := declRole
			if it.Keyword == "permissions" {
				kind = declPermission
			}
			for _, s := range it.Names {
				c.declare(b, s.Value, &decl{kind: kind, pos: s.Pos, owner: b})
			}
		case *ast.Relations:
			if n.Kind == ast.GlobalBlock {
				c.errorf(it.Pos, "declare relations on the resource blocks they relate", "the global block cannot declare relations")
				continue
			}
			if prev, ok := seenKeyword["relations"]; ok {
				c.errorf(it.Pos, "merge the two declarations into one", "relations declared twice in %s (the first is at %s)", b.name, prev)
			}
			seenKeyword["relations"] = it.Pos
			for _, r := range it.Relations {
				if r.Name == nil || r.Type == nil {
					continue
				}
				c.declare(b, r.Name.Name, &decl{kind: declRelation, pos: r.Name.Pos, target: r.Type.Name, owner: b})
			}
		}
	}
}

func (c *checker) declare(b *block, name string, d *decl) {
	if name == "" {
		c.errorf(d.pos, "", "empty %s name in %s", d.kind, b.name)
		return
	}
	if prev, ok := b.own[name]; ok {
		if prev.kind == d.kind {
			c.errorf(d.pos, "", "%s %q declared twice in %s (the first is at %s)", d.kind, name, b.name, prev.pos)
		} else {
			c.errorf(d.pos, "a name may be declared once per block, as a role, a permission or a relation",
				"%q declared as both %s and %s in %s", name, prev.kind, d.kind, b.name)
		}
		return
	}
	b.own[name] = d
	b.order = append(b.order, name)
}

// resolveBlocks resolves extends and relation targets, and computes each
// block's inherited declarations.
func (c *checker) resolveBlocks() {
	names := c.blockNames()
	for _, b := range c.blockOrder {
		for _, e := range b.node.Extends {
			switch {
			case e.Name == AbstractResource || (e.Name == AbstractActor && b.kind == ast.ActorBlock):
				continue // every block already is one: a no-op
			case e.Name == AbstractActor:
				c.errorf(e.Pos, "declare it with `actor "+b.name+"` to make it an actor", "resource %s cannot extend Actor", b.name)
				continue
			}
			sup, ok := c.blocks[e.Name]
			if !ok {
				c.errorf(e.Pos, hintFor(e.Name, names, "", ""), "%s extends %s, which no actor or resource block declares", b.name, e.Name)
				continue
			}
			b.supers = append(b.supers, sup)
		}
	}
	if c.global != nil && len(c.global.node.Extends) > 0 {
		c.errorf(c.global.node.Extends[0].Pos, "", "the global block cannot extend types")
	}
	for _, b := range c.blockOrder {
		c.resolve(b, nil)
	}
	if c.global != nil {
		c.global.all = c.global.own
	}
	// Relation targets must be blocks.
	for _, b := range c.blockOrder {
		for _, name := range b.order {
			d := b.own[name]
			if d.kind != declRelation {
				continue
			}
			if _, ok := c.blocks[d.target]; !ok {
				hint := hintFor(d.target, names, "", "")
				if hint == "" {
					hint = "declare it with `actor " + d.target + " {}` or `resource " + d.target + " {}`"
				}
				c.errorf(c.relationTypePos(b, name), hint, "relation %s of %s targets %s, which no actor or resource block declares", name, b.name, d.target)
			}
		}
	}
}

// relationTypePos finds where the target type of relation name is written.
func (c *checker) relationTypePos(b *block, name string) ast.Position {
	for _, it := range b.node.Body {
		if rels, ok := it.(*ast.Relations); ok {
			for _, r := range rels.Relations {
				if r.Name != nil && r.Name.Name == name && r.Type != nil {
					return r.Type.Pos
				}
			}
		}
	}
	return b.own[name].pos
}

// resolve computes b.all (own plus inherited declarations), reporting
// cycles in extends.
func (c *checker) resolve(b *block, stack []*block) {
	if b.resolved {
		return
	}
	for _, s := range stack {
		if s == b {
			var path []string
			for _, t := range stack {
				path = append(path, t.name)
			}
			path = append(path, b.name)
			c.errorf(b.node.Name.Pos, "", "extends cycle: %s", strings.Join(path, " extends "))
			b.supers = nil
			b.all = b.own
			b.resolved = true
			return
		}
	}
	all := map[string]*decl{}
	for _, s := range b.supers {
		c.resolve(s, append(stack, b))
		for name, d := range s.all {
			if prev, ok := all[name]; ok && (prev.kind != d.kind || prev.target != d.target) {
				c.errorf(b.node.Name.Pos, "", "%s inherits %q both as %s from %s and as %s from %s", b.name, name, prev.kind, prev.owner.name, d.kind, d.owner.name)
				continue
			}
			all[name] = d
		}
	}
	for name, d := range b.own {
		if prev, ok := all[name]; ok && (prev.kind != d.kind || prev.target != d.target) {
			c.errorf(d.pos, "", "%q is declared as %s here but inherited as %s from %s", name, d.kind, prev.kind, prev.owner.name)
		}
		all[name] = d
	}
	b.all = all
	b.resolved = true
}

func (c *checker) blockNames() []string {
	out := make([]string, 0, len(c.blockOrder))
	for _, b := range c.blockOrder {
		out = append(out, b.name)
	}
	return out
}

func (c *checker) collectFixture(n *ast.Fixture) {
	if n.Name == nil {
		return
	}
	if prev, ok := c.fixtures[n.Name.Name]; ok {
		c.errorf(n.Name.Pos, "", "duplicate test fixture %s (the first is at %s)", n.Name.Name, prev.Pos)
		return
	}
	c.fixtures[n.Name.Name] = n
}

func (c *checker) collectDeclare(n *ast.Declare) {
	if n.Name == nil {
		return
	}
	p := Pred{n.Name.Name, len(n.Types)}
	c.declares[p] = append(c.declares[p], n)
}

// isKnownType reports whether name is a block, a primitive or abstract.
func (c *checker) isKnownType(name string) bool {
	if _, ok := c.blocks[name]; ok {
		return true
	}
	return term.IsPrimitiveType(name) || name == AbstractActor || name == AbstractResource
}

// checkTypeName warns when a type name used in a specializer, `matches`
// or `declare` has no block but is one typo away from a declared type.
// Types without blocks are allowed (custom roles: `role matches Role`).
func (c *checker) checkTypeName(id *ast.Ident) {
	if id == nil || c.isKnownType(id.Name) {
		return
	}
	cands := append(c.blockNames(), term.TypeString, term.TypeInteger, term.TypeBoolean, AbstractActor, AbstractResource)
	// Nearest allows two edits in longer names; a type without a block is
	// legitimate, so only one edit counts as a typo here (Role is not File).
	if n := Nearest(id.Name, cands); n != "" && edit.Distance(strings.ToLower(id.Name), strings.ToLower(n)) <= 1 {
		c.warnf(id.Pos, "did you mean `"+n+"`?", "type %s has no block", id.Name)
	}
}

// buildTypes fills Program.Types and Program.Metadata.
func (c *checker) buildTypes() {
	all := c.blockOrder
	if c.global != nil {
		all = append(all[:len(all):len(all)], c.global)
	}
	// "global" is always listed, empty when the policy has no global block,
	// as Oso Cloud answers policy metadata (its SDKs compare it exactly).
	c.prog.Metadata.Resources["global"] = ResourceMetadata{Roles: []string{}, Permissions: []string{}, Relations: map[string]string{}}
	for _, b := range all {
		roles, perms := b.names(declRole), b.names(declPermission)
		if roles == nil {
			roles = []string{}
		}
		if perms == nil {
			perms = []string{}
		}
		rels := map[string]string{}
		for name, d := range b.all {
			if d.kind == declRelation {
				rels[name] = d.target
			}
		}
		c.prog.Metadata.Resources[b.name] = ResourceMetadata{Roles: roles, Permissions: perms, Relations: rels}
		if b.kind == ast.GlobalBlock {
			continue
		}
		info := &TypeInfo{Name: b.name, Kind: ResourceType, Roles: roles, Permissions: perms, Relations: rels, Pos: b.node.Pos}
		if b.kind == ast.ActorBlock {
			info.Kind = ActorType
		}
		for _, s := range b.supers {
			info.Extends = append(info.Extends, s.name)
		}
		c.prog.Types[b.name] = info
	}
}

// usageWarnings warns about roles nothing uses and permissions nothing grants.
func (c *checker) usageWarnings() {
	all := c.blockOrder
	if c.global != nil {
		all = append(all[:len(all):len(all)], c.global)
	}
	for _, b := range all {
		for _, name := range b.order {
			d := b.own[name]
			switch d.kind {
			case declRole:
				if !b.used[name] && !c.literals[name] {
					c.warnf(d.pos, "use it in a shorthand rule (\"permission\" if \""+name+"\";) or remove it", "role %q of %s is declared but never used", name, b.name)
				}
			case declPermission:
				if !b.granted[name] && !c.literals[name] {
					c.warnf(d.pos, "grant it with a shorthand rule (\""+name+"\" if \"role\";) or remove it", "permission %q of %s is never granted", name, b.name)
				}
			}
		}
	}
}
