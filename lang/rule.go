package lang

import (
	"strconv"

	"github.com/castellan-authz/castellan/lang/ast"
	"github.com/castellan-authz/castellan/lang/term"
)

// constCurrentUnixTime is the only built-in constant.
const constCurrentUnixTime = "current_unix_time"

// convertRule checks a hand-written rule and converts it to the IR.
func (c *checker) convertRule(n *ast.Rule) *Rule {
	if n.Name == nil {
		return nil
	}
	errsBefore := len(c.errs)
	r := c.newRule()
	r.Pred, r.Pos = Pred{n.Name.Name, len(n.Params)}, n.Pos
	if len(n.Params) > 0 {
		r.Params = c.paramSlots(len(n.Params))[:0]
	}
	for _, p := range n.Params {
		r.Params = append(r.Params, c.convertParam(p))
	}
	if n.Body != nil {
		r.Body = c.convertExpr(n.Body, 0)
		if len(c.errs) == errsBefore {
			c.checkSafety(n)
			c.checkMixedAndOr(n.Body)
		}
	}
	r.Text = r.String()
	return r
}

func (c *checker) convertParam(p *ast.Param) Param {
	var out Param
	if p == nil {
		return out
	}
	if tv, ok := p.Term.(*ast.TypedVar); ok {
		// `x: T` parsed as a typed variable rather than Param.Type.
		out.Term = c.varTerm(tv.Name)
		if tv.Type != nil {
			c.checkTypeName(tv.Type)
			out.Type = tv.Type.Name
		}
		return out
	}
	out.Term = c.convertTerm(p.Term)
	if p.Type != nil {
		c.checkTypeName(p.Type)
		if _, isVar := out.Term.(Var); !isVar {
			c.errorf(p.Type.Pos, "remove the type, or use a variable: `x: "+p.Type.Name+"`", "only a variable can have a type specializer")
		} else {
			out.Type = p.Type.Name
		}
	}
	return out
}

// variable returns the IR variable for a source name; every "_" becomes a
// fresh anonymous variable.
func (c *checker) variable(name string) Var {
	if name == "_" {
		c.anon++
		return Var{"_#" + strconv.Itoa(c.anon)}
	}
	return Var{name}
}

// convertTerm converts a rule term, folding primitive literals such as
// Integer{3}.
func (c *checker) convertTerm(t ast.Term) Term {
	switch t := t.(type) {
	case *ast.Var:
		return c.varTerm(t.Name)
	case *ast.TypedVar:
		c.errorf(t.Pos, "put the type on a rule parameter (`x: T`) or use `x matches T`", "a typed variable is only allowed in a rule head or a test assertion")
		return c.varTerm(t.Name)
	case *ast.StringLit:
		c.literals[t.Value] = true
		return c.str(t.Value)
	case *ast.IntLit:
		return Const{term.Integer(t.Value)}
	case *ast.BoolLit:
		return Const{term.Bool(t.Value)}
	case *ast.EntityLit:
		c.checkTypeName(t.Type)
		if v, ok := c.entity(t); ok {
			if v.Type == term.TypeString {
				c.literals[v.ID] = true
			}
			return Const{v}
		}
		return Const{}
	case *ast.List:
		l := List{Elems: make([]Term, 0, len(t.Elems))}
		for _, e := range t.Elems {
			l.Elems = append(l.Elems, c.convertTerm(e))
		}
		return l
	case *ast.ConstRef:
		if t.Name != constCurrentUnixTime {
			c.errorf(t.Pos, "the only built-in constant is @"+constCurrentUnixTime, "unknown built-in constant @%s", t.Name)
		}
		return ConstRef{t.Name}
	}
	return Const{}
}

// entity converts Type{id}, folding Integer{3}, Boolean{true} and
// String{"x"} into primitives.
func (c *checker) entity(t *ast.EntityLit) (term.Value, bool) {
	if t.Type == nil {
		return term.Value{}, false
	}
	typ := t.Type.Name
	var id string
	switch v := t.ID.(type) {
	case *ast.StringLit:
		id = v.Value
	case *ast.IntLit:
		id = strconv.FormatInt(v.Value, 10)
	case *ast.BoolLit:
		id = strconv.FormatBool(v.Value)
	default:
		c.errorf(t.Pos, "", "the id of %s{...} must be a string, integer or boolean literal", typ)
		return term.Value{}, false
	}
	switch typ {
	case term.TypeString:
		if _, ok := t.ID.(*ast.StringLit); !ok {
			c.errorf(t.Pos, "write String{\""+id+"\"}", "String{...} needs a string")
			return term.Value{}, false
		}
		return term.String(id), true
	case term.TypeInteger, term.TypeBoolean:
		v, err := term.Normalize(term.Value{Type: typ, ID: id})
		if err != nil {
			c.errorf(t.Pos, "", "%s{%s} is not a valid %s", typ, id, typ)
			return term.Value{}, false
		}
		return v, true
	case AbstractActor, AbstractResource:
		c.errorf(t.Type.Pos, "use a concrete type such as User{\"...\"}", "%s is abstract: it has no values", typ)
		return term.Value{}, false
	}
	if id == "" {
		c.errorf(t.Pos, "", "%s{\"\"}: an id must not be empty", typ)
		return term.Value{}, false
	}
	if len(id) > term.MaxArgBytes {
		c.errorf(t.Pos, "", "%s id is %d bytes, the limit is %d", typ, len(id), term.MaxArgBytes)
		return term.Value{}, false
	}
	return term.Entity(typ, id), true
}

// convertExpr converts a rule body.
func (c *checker) convertExpr(e ast.Expr, depth int) Expr {
	if depth > c.maxDepth {
		if e != nil {
			c.errorf(e.Position(), "split the rule into smaller rules", "expression nested too deeply (more than %d levels)", c.maxDepth)
		}
		return nil
	}
	switch e := e.(type) {
	case *ast.And:
		out := And{}
		for _, x := range e.Exprs {
			sub := c.convertExpr(x, depth+1)
			if a, ok := sub.(And); ok && len(a.Exprs) > 0 || !ok && sub != nil {
				if out.Exprs == nil {
					out.Exprs = make([]Expr, 0, len(e.Exprs))
				}
			}
			if a, ok := sub.(And); ok {
				out.Exprs = append(out.Exprs, a.Exprs...)
			} else if sub != nil {
				out.Exprs = append(out.Exprs, sub)
			}
		}
		return out
	case *ast.Or:
		out := Or{}
		for _, x := range e.Exprs {
			sub := c.convertExpr(x, depth+1)
			if o, ok := sub.(Or); ok {
				out.Exprs = append(out.Exprs, o.Exprs...)
			} else if sub != nil {
				out.Exprs = append(out.Exprs, sub)
			}
		}
		return out
	case *ast.Not:
		sub := c.convertExpr(e.Expr, depth+1)
		if sub == nil {
			return nil
		}
		return Not{Expr: sub}
	case *ast.Call:
		return c.convertCall(e)
	case *ast.Binary:
		l, r := c.convertTerm(e.Left), c.convertTerm(e.Right)
		switch e.Op {
		case "=":
			return Unify{Left: l, Right: r}
		case "in":
			return In{Elem: l, List: r}
		case "==", "!=", "<", "<=", ">", ">=":
			return Compare{Op: e.Op, Left: l, Right: r}
		}
		c.errorf(e.Pos, "", "unknown operator %s", e.Op)
		return nil
	case *ast.Matches:
		if e.Type == nil {
			c.errorf(e.Pos, "", "matches needs a type name")
			return nil
		}
		c.checkTypeName(e.Type)
		return Matches{Term: c.convertTerm(e.Term), Type: e.Type.Name}
	case *ast.ShorthandRef:
		// Expanded by expandCondition; absent when that reported an error.
		if body, ok := c.shorthandRefs[e]; ok {
			return body
		}
		if c.shorthandRefs == nil {
			c.errorf(e.Pos, "", "a role or permission is only a condition inside a shorthand rule")
		}
		return nil
	}
	// Fail closed: a condition that cannot be converted must reject the
	// policy, never be dropped (dropping it would widen access).
	if e != nil {
		c.errorf(e.Position(), "", "unsupported expression %T in a rule body", e)
	}
	return nil
}

func (c *checker) convertCall(e *ast.Call) Expr {
	if e.Name == nil {
		c.errorf(e.Pos, "", "a call needs a predicate name")
		return nil
	}
	call := Call{Pred: Pred{e.Name.Name, len(e.Args)}, Pos: e.Pos, Args: c.termSlots(len(e.Args))}
	for i, a := range e.Args {
		call.Args[i] = c.convertTerm(a)
	}
	return call
}

// checkMixedAndOr warns where `and` and `or` are mixed without
// parentheses: `or` binds tighter than `and` in Polar, which surprises.
func (c *checker) checkMixedAndOr(e ast.Expr) {
	switch e := e.(type) {
	case *ast.And:
		for _, x := range e.Exprs {
			if o, ok := x.(*ast.Or); ok && !c.parenthesized(o) {
				c.warnf(o.Position(), "add parentheses to say which you mean: `a and (b or c)`",
					"`or` binds tighter than `and` here: the `or` is grouped first, as if in parentheses")
			}
			c.checkMixedAndOr(x)
		}
	case *ast.Or:
		for _, x := range e.Exprs {
			if a, ok := x.(*ast.And); ok && !c.parenthesized(a) {
				c.warnf(a.Position(), "add parentheses to say which you mean", "`and` and `or` mixed without parentheses")
			}
			c.checkMixedAndOr(x)
		}
	case *ast.Not:
		c.checkMixedAndOr(e.Expr)
	}
}

// parenthesized reports whether a group expression was written inside
// parentheses. The tree keeps no parentheses, so this looks at the source
// for a "(" just before the group's first operand.
func (c *checker) parenthesized(e ast.Expr) bool {
	var first ast.Expr
	switch e := e.(type) {
	case *ast.And:
		if len(e.Exprs) == 0 {
			return true
		}
		first = e.Exprs[0]
	case *ast.Or:
		if len(e.Exprs) == 0 {
			return true
		}
		first = e.Exprs[0]
	default:
		return true
	}
	start := leftmost(first)
	if src := c.sources[start.File]; src != nil && start.Offset <= len(src) {
		i := start.Offset - 1
		for i >= 0 && (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r') {
			i--
		}
		return i >= 0 && src[i] == '('
	}
	// Without the source there is no telling: stay quiet.
	return true
}

// leftmost returns the position of the first token of an expression.
func leftmost(e ast.Expr) ast.Position {
	pos := e.Position()
	var sub ast.Position
	switch e := e.(type) {
	case *ast.And:
		if len(e.Exprs) > 0 {
			sub = leftmost(e.Exprs[0])
		}
	case *ast.Or:
		if len(e.Exprs) > 0 {
			sub = leftmost(e.Exprs[0])
		}
	case *ast.Binary:
		if e.Left != nil {
			sub = e.Left.Position()
		}
	case *ast.Matches:
		if e.Term != nil {
			sub = e.Term.Position()
		}
	case *ast.Call:
		if e.Name != nil {
			sub = e.Name.Pos
		}
	}
	if sub.IsValid() && (!pos.IsValid() || sub.Line < pos.Line || (sub.Line == pos.Line && sub.Col < pos.Col)) {
		return sub
	}
	return pos
}
