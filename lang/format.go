package lang

import (
	"strconv"
	"strings"
)

// String renders the rule in Polar syntax, as the evaluator sees it
// (shorthand expanded). Anonymous variables print as "_".
func (r *Rule) String() string {
	var b strings.Builder
	b.Grow(128) // most rules fit: one allocation
	b.WriteString(r.Pred.Name)
	b.WriteByte('(')
	for i, p := range r.Params {
		if i > 0 {
			b.WriteString(", ")
		}
		writeTerm(&b, p.Term)
		if p.Type != "" {
			b.WriteString(": ")
			b.WriteString(p.Type)
		}
	}
	b.WriteByte(')')
	if r.Body != nil {
		b.WriteString(" if ")
		writeExpr(&b, r.Body, false)
	}
	b.WriteByte(';')
	return b.String()
}

// String returns "name/arity".
func (p Pred) String() string { return p.Name + "/" + strconv.Itoa(p.Arity) }

// FormatExpr renders a rule body in Polar syntax, with parentheses wherever
// a group is nested in another.
func FormatExpr(e Expr) string {
	var b strings.Builder
	writeExpr(&b, e, false)
	return b.String()
}

// FormatTerm renders a term in Polar syntax.
func FormatTerm(t Term) string {
	var b strings.Builder
	writeTerm(&b, t)
	return b.String()
}

func writeExpr(b *strings.Builder, e Expr, nested bool) {
	switch e := e.(type) {
	case And:
		writeGroup(b, e.Exprs, " and ", nested)
	case Or:
		writeGroup(b, e.Exprs, " or ", nested)
	case Not:
		b.WriteString("not ")
		writeExpr(b, e.Expr, true)
	case Call:
		b.WriteString(e.Pred.Name)
		b.WriteByte('(')
		for i, a := range e.Args {
			if i > 0 {
				b.WriteString(", ")
			}
			writeTerm(b, a)
		}
		b.WriteByte(')')
	case Unify:
		writeTerm(b, e.Left)
		b.WriteString(" = ")
		writeTerm(b, e.Right)
	case Compare:
		writeTerm(b, e.Left)
		b.WriteString(" " + e.Op + " ")
		writeTerm(b, e.Right)
	case In:
		writeTerm(b, e.Elem)
		b.WriteString(" in ")
		writeTerm(b, e.List)
	case Matches:
		writeTerm(b, e.Term)
		b.WriteString(" matches ")
		b.WriteString(e.Type)
	case nil:
		b.WriteString("<nil>")
	}
}

func writeGroup(b *strings.Builder, es []Expr, sep string, nested bool) {
	if nested && len(es) > 1 {
		b.WriteByte('(')
	}
	for i, x := range es {
		if i > 0 {
			b.WriteString(sep)
		}
		writeExpr(b, x, true)
	}
	if nested && len(es) > 1 {
		b.WriteByte(')')
	}
}

func writeTerm(b *strings.Builder, t Term) {
	switch t := t.(type) {
	case Var:
		if strings.HasPrefix(t.Name, "_#") {
			b.WriteByte('_')
		} else {
			b.WriteString(t.Name)
		}
	case Const:
		b.WriteString(t.Value.String())
	case List:
		b.WriteByte('[')
		for i, x := range t.Elems {
			if i > 0 {
				b.WriteString(", ")
			}
			writeTerm(b, x)
		}
		b.WriteByte(']')
	case ConstRef:
		b.WriteString("@" + t.Name)
	}
}
