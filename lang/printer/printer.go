package printer

import (
	"bufio"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/castellan-authz/castellan/lang/ast"
)

// lineLimit is the width past which a rule body is split, one conjunct per
// line.
const lineLimit = 100

// Fprint writes f to w as canonical Polar.
func Fprint(w io.Writer, f *ast.File) error {
	bw := bufio.NewWriter(w)
	p := &printer{w: bw}
	p.file(f)
	return bw.Flush()
}

// String returns f printed as canonical Polar.
func String(f *ast.File) string {
	var b strings.Builder
	p := &printer{w: &b}
	p.file(f)
	return b.String()
}

// writer is what the printer writes to; bufio.Writer and strings.Builder
// both are, and neither fails until Flush.
type writer interface {
	io.Writer
	WriteString(string) (int, error)
	WriteByte(byte) error
}

type printer struct {
	w        writer
	comments []*ast.Comment // sorted by offset
	next     int            // index of the next comment to print
}

func (p *printer) file(f *ast.File) {
	if f == nil {
		return
	}
	p.comments = append([]*ast.Comment(nil), f.Comments...)
	sort.SliceStable(p.comments, func(i, j int) bool {
		a, b := p.comments[i].Pos, p.comments[j].Pos
		return !a.IsValid() && b.IsValid() || a.IsValid() == b.IsValid() && a.Offset < b.Offset
	})
	for i, it := range f.Items {
		if i > 0 {
			p.w.WriteByte('\n')
		}
		p.flush(it.Position(), 0)
		p.item(it)
	}
	if p.next < len(p.comments) && len(f.Items) > 0 {
		p.w.WriteByte('\n')
	}
	p.flushAll(0)
}

// flush prints, at the given indentation, the comments that come before
// pos, the start of the next node. Comments without a position (in a tree
// built by hand) come first. Between top-level items, a blank line between
// two comments, or between the last comment and the item, is kept (the
// line numbers tell; inside a block they could also be a multi-line item's).
func (p *printer) flush(pos ast.Position, indent int) {
	last := p.flushBefore(pos, indent, false)
	if indent == 0 && last > 0 && pos.IsValid() && pos.Line > last+1 {
		p.w.WriteByte('\n')
	}
}

// flushBefore prints the comments before pos (all that are left, with
// all) and returns the source line of the last one it printed (0 if none
// had a position).
func (p *printer) flushBefore(pos ast.Position, indent int, all bool) int {
	last := 0
	for p.next < len(p.comments) {
		c := p.comments[p.next]
		if !all && c.Pos.IsValid() && c.Pos.Offset >= pos.Offset {
			break
		}
		if indent == 0 && last > 0 && c.Pos.Line > last+1 {
			p.w.WriteByte('\n')
		}
		p.comment(indent)
		last = c.Pos.Line
	}
	return last
}

func (p *printer) flushAll(indent int) {
	p.flushBefore(ast.Position{}, indent, true)
}

func (p *printer) comment(indent int) {
	p.indent(indent)
	p.w.WriteByte('#')
	p.w.WriteString(p.comments[p.next].Text)
	p.w.WriteByte('\n')
	p.next++
}

// endLine ends a line that printed the node at pos. A comment that stood at
// the end of that node's first line in the source stays at the end of the
// line.
func (p *printer) endLine(pos ast.Position) {
	if pos.IsValid() && p.next < len(p.comments) {
		c := p.comments[p.next]
		if c.Pos.Line == pos.Line && c.Pos.Offset > pos.Offset {
			p.w.WriteString(" #")
			p.w.WriteString(c.Text)
			p.next++
		}
	}
	p.w.WriteByte('\n')
}

func (p *printer) indent(n int) {
	for range n {
		p.w.WriteString("  ")
	}
}

func (p *printer) item(it ast.Item) {
	switch n := it.(type) {
	case *ast.Block:
		p.block(n)
	case *ast.Rule:
		p.rule(n, 0)
	case *ast.Declare:
		p.w.WriteString("declare ")
		p.w.WriteString(identName(n.Name))
		p.w.WriteByte('(')
		for i, t := range n.Types {
			if i > 0 {
				p.w.WriteString(", ")
			}
			p.w.WriteString(identName(t))
		}
		p.w.WriteString(");")
		p.endLine(n.Pos)
	case *ast.Test:
		p.test(n)
	case *ast.Fixture:
		p.w.WriteString("test fixture ")
		p.w.WriteString(identName(n.Name))
		p.w.WriteString(" {\n")
		for i, c := range n.Facts {
			if i > 0 {
				p.separate(n.Facts[i-1].Pos, c.Pos, false)
			}
			p.flush(c.Pos, 1)
			p.indent(1)
			p.w.WriteString(callString(c))
			p.w.WriteByte(';')
			p.endLine(c.Pos)
		}
		p.close(n.End, 0)
	}
}

// close prints the comments before a closing brace, then the brace.
func (p *printer) close(end ast.Position, indent int) {
	if end.IsValid() {
		p.flushBefore(end, indent+1, false)
	}
	p.indent(indent)
	p.w.WriteString("}\n")
}

func (p *printer) block(b *ast.Block) {
	switch b.Kind {
	case ast.GlobalBlock:
		p.w.WriteString("global")
	default:
		p.w.WriteString(b.Kind.String())
		p.w.WriteByte(' ')
		p.w.WriteString(identName(b.Name))
		for i, e := range b.Extends {
			if i == 0 {
				p.w.WriteString(" extends ")
			} else {
				p.w.WriteString(", ")
			}
			p.w.WriteString(identName(e))
		}
	}
	if len(b.Body) == 0 && !p.commentBefore(b.End) {
		p.w.WriteString(" {}")
		p.endLine(b.Pos)
		return
	}
	p.w.WriteString(" {\n")
	for i, it := range b.Body {
		if i > 0 {
			_, short := it.(*ast.Shorthand)
			_, prevShort := b.Body[i-1].(*ast.Shorthand)
			p.separate(b.Body[i-1].Position(), it.Position(), short && !prevShort)
		}
		p.flush(it.Position(), 1)
		p.indent(1)
		p.blockItem(it)
	}
	p.close(b.End, 0)
}

// separate writes a blank line between two lines of a body (block items,
// facts, assertions) when forced, or when the source had one: the next
// line, or the comment before it, starts more than one line after the
// previous item started. (An item that spanned lines, now printed on one,
// gets a blank line after it; printing stays idempotent.)
func (p *printer) separate(prev, next ast.Position, forced bool) {
	if !forced && prev.IsValid() && next.IsValid() {
		line := next.Line
		if p.commentBefore(next) && p.comments[p.next].Pos.IsValid() {
			line = p.comments[p.next].Pos.Line
		}
		forced = line > prev.Line+1
	}
	if forced {
		p.w.WriteByte('\n')
	}
}

// commentBefore reports whether a comment not yet printed comes before pos.
func (p *printer) commentBefore(pos ast.Position) bool {
	return pos.IsValid() && p.next < len(p.comments) && p.comments[p.next].Pos.Offset < pos.Offset
}

func (p *printer) blockItem(it ast.BlockItem) {
	switch n := it.(type) {
	case *ast.Declaration:
		p.w.WriteString(n.Keyword)
		p.w.WriteString(" = [")
		for i, s := range n.Names {
			if i > 0 {
				p.w.WriteString(", ")
			}
			if s != nil {
				p.w.WriteString(quote(s.Value))
			}
		}
		p.w.WriteString("];")
		p.endLine(n.Pos)
	case *ast.Relations:
		if len(n.Relations) == 0 {
			p.w.WriteString("relations = {};")
			p.endLine(n.Pos)
			return
		}
		p.w.WriteString("relations = { ")
		for i, r := range n.Relations {
			if r == nil {
				continue
			}
			if i > 0 {
				p.w.WriteString(", ")
			}
			p.w.WriteString(identName(r.Name))
			p.w.WriteString(": ")
			p.w.WriteString(identName(r.Type))
		}
		p.w.WriteString(" };")
		p.endLine(n.Pos)
	case *ast.Shorthand:
		p.w.WriteString(shorthandName(n.Head))
		p.w.WriteString(" if ")
		if n.Cond != nil {
			p.w.WriteString(exprString(n.Cond, precAnd))
			p.w.WriteByte(';')
			p.endLine(n.Pos)
			return
		}
		if n.Global {
			p.w.WriteString("global ")
		}
		p.w.WriteString(shorthandName(n.Implier))
		if n.On != nil {
			p.w.WriteString(" on ")
			p.w.WriteString(quote(n.On.Value))
		}
		p.w.WriteByte(';')
		p.endLine(n.Pos)
	}
}

func shorthandName(n *ast.ShorthandName) string {
	if n == nil {
		return ""
	}
	if n.Quoted {
		return quote(n.Name)
	}
	return n.Name
}

func (p *printer) rule(r *ast.Rule, indent int) {
	var b strings.Builder
	b.WriteString(identName(r.Name))
	b.WriteByte('(')
	for i, prm := range r.Params {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(termString(prm.Term))
		if prm.Type != nil {
			b.WriteString(": ")
			b.WriteString(identName(prm.Type))
		}
	}
	b.WriteByte(')')
	head := b.String()
	p.indent(indent)
	p.w.WriteString(head)
	if r.Body == nil {
		p.w.WriteByte(';')
		p.endLine(r.Pos)
		return
	}
	body := exprString(r.Body, precAnd)
	and, isAnd := r.Body.(*ast.And)
	if !isAnd || 2*indent+len(head)+len(" if ")+len(body)+1 <= lineLimit {
		p.w.WriteString(" if ")
		p.w.WriteString(body)
		p.w.WriteByte(';')
		p.endLine(r.Pos)
		return
	}
	p.w.WriteString(" if\n")
	for i, e := range and.Exprs {
		p.indent(indent + 1)
		p.w.WriteString(exprString(e, precNot))
		if i < len(and.Exprs)-1 {
			p.w.WriteString(" and\n")
		}
	}
	p.w.WriteString(";\n")
}

func (p *printer) test(t *ast.Test) {
	p.w.WriteString("test ")
	if t.Name != nil {
		p.w.WriteString(quote(t.Name.Value))
	} else {
		p.w.WriteString(`""`)
	}
	p.w.WriteString(" {\n")
	if s := t.Setup; s != nil {
		p.flush(s.Pos, 1)
		p.indent(1)
		p.w.WriteString("setup {\n")
		order := s.Order
		if len(order) == 0 {
			for _, f := range s.Fixtures {
				order = append(order, f)
			}
			for _, c := range s.Facts {
				order = append(order, c)
			}
		}
		for i, n := range order {
			if i > 0 {
				p.separate(order[i-1].Position(), n.Position(), false)
			}
			p.flush(n.Position(), 2)
			p.indent(2)
			switch n := n.(type) {
			case *ast.Ident:
				p.w.WriteString("fixture ")
				p.w.WriteString(n.Name)
			case *ast.Call:
				p.w.WriteString(callString(n))
			}
			p.w.WriteByte(';')
			p.endLine(n.Position())
		}
		p.indent(1)
		p.w.WriteString("}\n")
		if len(t.Assertions) > 0 {
			p.w.WriteByte('\n')
		}
	}
	for i, a := range t.Assertions {
		if i > 0 {
			p.separate(t.Assertions[i-1].Pos, a.Pos, false)
		}
		p.flush(a.Pos, 1)
		p.indent(1)
		if a.Negated {
			p.w.WriteString("assert_not ")
		} else {
			p.w.WriteString("assert ")
		}
		p.w.WriteString(callString(a.Call))
		if a.Iff != nil {
			p.w.WriteString(" iff ")
			p.w.WriteString(identName(a.Iff.Var))
			if a.Iff.Not {
				p.w.WriteString(" not")
			}
			p.w.WriteString(" in ")
			p.w.WriteString(termString(a.Iff.List))
		}
		p.w.WriteByte(';')
		p.endLine(a.Pos)
	}
	p.close(t.End, 0)
}

func identName(id *ast.Ident) string {
	if id == nil {
		return ""
	}
	return id.Name
}

// Precedence levels, loosest first.
const (
	precAnd = iota + 1
	precOr
	precNot
	precAtom
)

func prec(e ast.Expr) int {
	switch e.(type) {
	case *ast.And:
		return precAnd
	case *ast.Or:
		return precOr
	case *ast.Not:
		return precNot
	}
	return precAtom
}

// exprString prints e, in parentheses when it binds more loosely than min.
func exprString(e ast.Expr, min int) string {
	var b strings.Builder
	writeExpr(&b, e, min)
	return b.String()
}

func writeExpr(b *strings.Builder, e ast.Expr, min int) {
	if isNilExpr(e) {
		return
	}
	if prec(e) < min {
		b.WriteByte('(')
		writeExpr(b, e, precAnd)
		b.WriteByte(')')
		return
	}
	switch n := e.(type) {
	case *ast.And:
		for i, x := range n.Exprs {
			if i > 0 {
				b.WriteString(" and ")
			}
			// Polar's `or` binds tighter than `and`, which surprises
			// readers used to other languages: an `or` inside an `and` is
			// printed in parentheses although they change nothing.
			writeExpr(b, x, precNot)
		}
	case *ast.Or:
		for i, x := range n.Exprs {
			if i > 0 {
				b.WriteString(" or ")
			}
			writeExpr(b, x, precNot)
		}
	case *ast.Not:
		b.WriteString("not ")
		writeExpr(b, n.Expr, precNot)
	case *ast.Call:
		writeCall(b, n)
	case *ast.Binary:
		writeTerm(b, n.Left)
		b.WriteByte(' ')
		b.WriteString(n.Op)
		b.WriteByte(' ')
		writeTerm(b, n.Right)
	case *ast.Matches:
		writeTerm(b, n.Term)
		b.WriteString(" matches ")
		b.WriteString(identName(n.Type))
	case *ast.ShorthandRef:
		if n.Global {
			b.WriteString("global ")
		}
		b.WriteString(shorthandName(n.Name))
		if n.On != nil {
			b.WriteString(" on ")
			b.WriteString(quote(n.On.Value))
		}
	}
}

// isNilExpr is isNil for expressions.
func isNilExpr(e ast.Expr) bool {
	switch n := e.(type) {
	case nil:
		return true
	case *ast.And:
		return n == nil
	case *ast.Or:
		return n == nil
	case *ast.Not:
		return n == nil
	case *ast.Call:
		return n == nil
	case *ast.Binary:
		return n == nil
	case *ast.Matches:
		return n == nil
	case *ast.ShorthandRef:
		return n == nil
	}
	return false
}

// isNil reports whether t is nil or a nil pointer in an interface, as a
// tree built by hand may hold; the printer skips those rather than panic.
func isNil(t ast.Term) bool {
	switch n := t.(type) {
	case nil:
		return true
	case *ast.Var:
		return n == nil
	case *ast.TypedVar:
		return n == nil
	case *ast.StringLit:
		return n == nil
	case *ast.IntLit:
		return n == nil
	case *ast.BoolLit:
		return n == nil
	case *ast.EntityLit:
		return n == nil
	case *ast.List:
		return n == nil
	case *ast.ConstRef:
		return n == nil
	}
	return false
}

func callString(c *ast.Call) string {
	var b strings.Builder
	writeCall(&b, c)
	return b.String()
}

func writeCall(b *strings.Builder, c *ast.Call) {
	if c == nil {
		return
	}
	b.WriteString(identName(c.Name))
	b.WriteByte('(')
	for i, a := range c.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		writeTerm(b, a)
	}
	b.WriteByte(')')
}

func termString(t ast.Term) string {
	var b strings.Builder
	writeTerm(&b, t)
	return b.String()
}

func writeTerm(b *strings.Builder, t ast.Term) {
	if isNil(t) {
		return
	}
	switch n := t.(type) {
	case *ast.Var:
		b.WriteString(n.Name)
	case *ast.TypedVar:
		b.WriteString(n.Name)
		b.WriteString(": ")
		b.WriteString(identName(n.Type))
	case *ast.StringLit:
		b.WriteString(quote(n.Value))
	case *ast.IntLit:
		b.WriteString(strconv.FormatInt(n.Value, 10))
	case *ast.BoolLit:
		b.WriteString(strconv.FormatBool(n.Value))
	case *ast.EntityLit:
		b.WriteString(identName(n.Type))
		b.WriteByte('{')
		writeTerm(b, n.ID)
		b.WriteByte('}')
	case *ast.List:
		b.WriteByte('[')
		for i, e := range n.Elems {
			if i > 0 {
				b.WriteString(", ")
			}
			writeTerm(b, e)
		}
		b.WriteByte(']')
	case *ast.ConstRef:
		b.WriteByte('@')
		b.WriteString(n.Name)
	}
}

// quote writes s as a Polar string literal: only '"', '\\', newline, tab
// and carriage return are escaped, every other byte is written as is.
func quote(s string) string {
	if !strings.ContainsAny(s, "\"\\\n\t\r") {
		return `"` + s + `"`
	}
	var b strings.Builder
	b.Grow(len(s) + 4)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
