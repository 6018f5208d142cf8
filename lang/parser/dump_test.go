package parser_test

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/castellan-authz/castellan/lang/ast"
)

// dump renders a file as an s-expression with positions left out: compact
// enough for table tests and golden files, and independent of the printer.
func dump(f *ast.File) string {
	var b strings.Builder
	for _, it := range f.Items {
		b.WriteString(dumpItem(it))
		b.WriteByte('\n')
	}
	return b.String()
}

func dumpItem(it ast.Item) string {
	switch n := it.(type) {
	case *ast.Block:
		var parts []string
		if n.Kind == ast.GlobalBlock {
			parts = append(parts, "global")
		} else {
			parts = append(parts, n.Kind.String(), n.Name.Name)
		}
		if len(n.Extends) > 0 {
			ext := []string{"extends"}
			for _, e := range n.Extends {
				ext = append(ext, e.Name)
			}
			parts = append(parts, "("+strings.Join(ext, " ")+")")
		}
		s := "(" + strings.Join(parts, " ")
		for _, bi := range n.Body {
			s += "\n  " + dumpBlockItem(bi)
		}
		return s + ")"
	case *ast.Rule:
		s := "(rule " + n.Name.Name + " ("
		for i, p := range n.Params {
			if i > 0 {
				s += " "
			}
			s += dumpTerm(p.Term)
			if p.Type != nil {
				s += ":" + p.Type.Name
			}
		}
		s += ")"
		if n.Body != nil {
			s += " " + dumpExpr(n.Body)
		}
		return s + ")"
	case *ast.Declare:
		s := "(declare " + n.Name.Name
		for _, t := range n.Types {
			s += " " + t.Name
		}
		return s + ")"
	case *ast.Fixture:
		s := "(fixture " + n.Name.Name
		for _, c := range n.Facts {
			s += "\n  " + dumpExpr(c)
		}
		return s + ")"
	case *ast.Test:
		s := "(test " + strconv.Quote(n.Name.Value)
		if n.Setup != nil {
			s += "\n  (setup"
			for _, o := range n.Setup.Order {
				switch o := o.(type) {
				case *ast.Ident:
					s += " (fixture " + o.Name + ")"
				case *ast.Call:
					s += " " + dumpExpr(o)
				}
			}
			s += ")"
		}
		for _, a := range n.Assertions {
			kw := "assert"
			if a.Negated {
				kw = "assert_not"
			}
			s += "\n  (" + kw + " " + dumpExpr(a.Call)
			if a.Iff != nil {
				op := "in"
				if a.Iff.Not {
					op = "not-in"
				}
				s += " (iff " + a.Iff.Var.Name + " " + op + " " + dumpTerm(a.Iff.List) + ")"
			}
			s += ")"
		}
		return s + ")"
	}
	return fmt.Sprintf("(unknown %T)", it)
}

func dumpBlockItem(bi ast.BlockItem) string {
	switch n := bi.(type) {
	case *ast.Declaration:
		s := "(" + n.Keyword
		for _, x := range n.Names {
			s += " " + strconv.Quote(x.Value)
		}
		return s + ")"
	case *ast.Relations:
		s := "(relations"
		for _, r := range n.Relations {
			s += " (" + r.Name.Name + " " + r.Type.Name + ")"
		}
		return s + ")"
	case *ast.Shorthand:
		s := "(shorthand " + dumpSName(n.Head)
		if n.Cond != nil {
			return s + " if " + dumpExpr(n.Cond) + ")"
		}
		if n.Global {
			s += " global"
		}
		s += " " + dumpSName(n.Implier)
		if n.On != nil {
			s += " on " + strconv.Quote(n.On.Value)
		}
		return s + ")"
	}
	return fmt.Sprintf("(unknown %T)", bi)
}

func dumpSName(n *ast.ShorthandName) string {
	if n.Quoted {
		return strconv.Quote(n.Name)
	}
	return n.Name
}

func dumpExpr(e ast.Expr) string {
	switch n := e.(type) {
	case *ast.And:
		return "(and " + dumpExprs(n.Exprs) + ")"
	case *ast.Or:
		return "(or " + dumpExprs(n.Exprs) + ")"
	case *ast.Not:
		return "(not " + dumpExpr(n.Expr) + ")"
	case *ast.Call:
		s := "(" + n.Name.Name
		for _, a := range n.Args {
			s += " " + dumpTerm(a)
		}
		return s + ")"
	case *ast.Binary:
		return "(" + n.Op + " " + dumpTerm(n.Left) + " " + dumpTerm(n.Right) + ")"
	case *ast.Matches:
		return "(matches " + dumpTerm(n.Term) + " " + n.Type.Name + ")"
	case *ast.ShorthandRef:
		s := "(ref "
		if n.Global {
			s += "global "
		}
		s += dumpSName(n.Name)
		if n.On != nil {
			s += " on " + strconv.Quote(n.On.Value)
		}
		return s + ")"
	}
	return fmt.Sprintf("(unknown %T)", e)
}

func dumpExprs(es []ast.Expr) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = dumpExpr(e)
	}
	return strings.Join(parts, " ")
}

func dumpTerm(t ast.Term) string {
	switch n := t.(type) {
	case *ast.Var:
		return n.Name
	case *ast.TypedVar:
		return n.Name + ":" + n.Type.Name
	case *ast.StringLit:
		return strconv.Quote(n.Value)
	case *ast.IntLit:
		return strconv.FormatInt(n.Value, 10)
	case *ast.BoolLit:
		return strconv.FormatBool(n.Value)
	case *ast.EntityLit:
		return n.Type.Name + "{" + dumpTerm(n.ID) + "}"
	case *ast.List:
		parts := make([]string, len(n.Elems))
		for i, e := range n.Elems {
			parts[i] = dumpTerm(e)
		}
		return "[" + strings.Join(parts, " ") + "]"
	case *ast.ConstRef:
		return "@" + n.Name
	}
	return fmt.Sprintf("(unknown %T)", t)
}
