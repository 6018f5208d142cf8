package localauth

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/castellan-authz/castellan/evaluator"
	"github.com/castellan-authz/castellan/lang/term"
)

// Shapes returns the local shapes of the bindings, one per binding in
// file order (shape i is Facts[i]).
func (b *Bindings) Shapes() []evaluator.LocalShape {
	out := make([]evaluator.LocalShape, len(b.Facts))
	for i, f := range b.Facts {
		sh := evaluator.LocalShape{Name: f.Name, Types: make([]string, len(f.Args)), Consts: make([]term.Value, len(f.Args))}
		for j, a := range f.Args {
			sh.Types[j] = a.Type
			if !a.Column {
				sh.Consts[j] = a.Const
			}
		}
		out[i] = sh
	}
	return out
}

// The authorize SQL when the application's data cannot change the
// decision.
const (
	AllowedSQL = "SELECT true AS allowed"
	DeniedSQL  = "SELECT false AS allowed"
)

// AuthorizeSQL returns a query giving one row with the boolean column
// allowed: AllowedSQL or DeniedSQL when stored and context facts decide
// alone.
func (b *Bindings) AuthorizeSQL(res *evaluator.Residual) string {
	w := b.writer(res)
	body, always := w.union(res.Conjs, nil)
	switch {
	case always:
		return AllowedSQL
	case body == "":
		return DeniedSQL
	}
	return w.with() + "SELECT EXISTS (" + body + ") AS allowed"
}

// ListSQL returns a boolean condition on column, true for the rows whose
// column holds a value output 0 of res may take.
//
// The condition is column = ANY (ARRAY(subquery)) rather than column IN
// (subquery): PostgreSQL computes the array once (an InitPlan) and probes
// the column's index with it (Index Cond: id = ANY ($n)), whereas for IN
// it plans a semi-join whose side it picks from the estimated size of the
// subquery, and over-estimates (recursion, unions) make it hash the
// subquery against a sequential scan of the whole table. IN is kept when
// an answer is a quoted literal of a type without sql_types: only IN lets
// PostgreSQL coerce such an untyped literal to the column's type.
func (b *Bindings) ListSQL(res *evaluator.Residual, column string) string {
	var some, open []evaluator.Conj
	for _, c := range res.Conjs {
		if c.Out[0].IsAny() {
			open = append(open, c)
		} else {
			some = append(some, c)
		}
	}
	var parts []string
	w := b.writer(res)
	if body, always := w.union(open, nil); always {
		return "true"
	} else if body != "" {
		parts = append(parts, "EXISTS ("+w.with()+body+")")
	}
	w = b.writer(res)
	if body, _ := w.union(some, w.outputs(0)); body != "" {
		cond := column + " = ANY (ARRAY(" + w.with() + body + "))"
		if b.untypedLiteral(some) {
			cond = column + " IN (" + w.with() + body + ")"
		}
		parts = append([]string{cond}, parts...)
	}
	switch len(parts) {
	case 0:
		return "false"
	case 1:
		return parts[0]
	}
	return "(" + strings.Join(parts, " OR ") + ")"
}

// untypedLiteral reports whether output 0 of one of cs is a literal that
// SQL writes as an untyped string: a value of an entity type that
// sql_types does not declare.
func (b *Bindings) untypedLiteral(cs []evaluator.Conj) bool {
	for _, c := range cs {
		t := c.Out[0].Val.Type
		if c.Out[0].Var >= 0 || t == term.TypeInteger || t == term.TypeBoolean || t == term.TypeString {
			continue
		}
		if _, declared := b.SQLTypes[t]; !declared {
			return true
		}
	}
	return false
}

// ActionsSQL returns a query giving one row per action (output 0 of res),
// in the text column actions. Answers for any action name none.
func (b *Bindings) ActionsSQL(res *evaluator.Residual) string {
	var some []evaluator.Conj
	for _, c := range res.Conjs {
		if !c.Out[0].IsAny() {
			some = append(some, c)
		}
	}
	w := b.writer(res)
	body, _ := w.union(some, w.outputs(0))
	if body == "" {
		return "SELECT NULL::text AS actions WHERE false"
	}
	return w.with() + "SELECT DISTINCT x.actions::text AS actions FROM (" + body + ") AS x(actions) ORDER BY 1"
}

// SelectSQL returns a query giving one row per answer of res, output i in
// column columns[i] (NULL for an answer that holds for any value). With no
// columns it gives one row with the boolean column result.
func (b *Bindings) SelectSQL(res *evaluator.Residual, columns []string) string {
	if len(columns) == 0 {
		s := b.AuthorizeSQL(res)
		return strings.TrimSuffix(s, " AS allowed") + " AS result"
	}
	idx := make([]int, len(columns))
	names := make([]string, len(columns))
	for i, c := range columns {
		idx[i] = i
		names[i] = quoteIdent(c)
	}
	w := b.writer(res)
	body, _ := w.union(res.Conjs, w.outputs(idx...))
	if body == "" {
		nulls := make([]string, len(columns))
		for i := range nulls {
			nulls[i] = "NULL AS " + names[i]
		}
		return "SELECT " + strings.Join(nulls, ", ") + " WHERE false"
	}
	return w.with() + "SELECT DISTINCT * FROM (" + body + ") AS x(" + strings.Join(names, ", ") + ")"
}

// quoteIdent quotes a column name as one SQL identifier.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, "\x00", ""), `"`, `""`) + `"`
}

// placeholderRE matches an output column that is variable N, with an
// optional cast.
var placeholderRE = regexp.MustCompile(`^\$([0-9]+)(::[a-z]+)?$`)

var columnRE = regexp.MustCompile(`^\s*[A-Za-z_"][A-Za-z0-9_."$ ]*$`)

// CheckColumn validates the column an application names for list and
// filter SQL: a possibly qualified identifier, pasted into the SQL as
// given.
func CheckColumn(column string) error {
	if !columnRE.MatchString(column) || strings.Count(column, `"`)%2 != 0 {
		return fmt.Errorf("%w: column %q is not a column name (such as id, issues.id or \"Issue\".\"id\")", ErrBindings, column)
	}
	return nil
}

// writer writes the SQL of one residual.
type writer struct {
	b     *Bindings
	res   *evaluator.Residual
	ctes  []int // bindings used, in order of first use
	cteOf map[int]int
	recs  map[int]bool
	empty []bool // recursive predicates without rows
	alias int
}

func (b *Bindings) writer(res *evaluator.Residual) *writer {
	w := &writer{b: b, res: res, cteOf: map[int]int{}, recs: map[int]bool{}, empty: make([]bool, len(res.Recs))}
	// A recursive predicate without a base case has no rows; so has one
	// whose every case reads an empty one.
	for i := range w.empty {
		w.empty[i] = true
	}
	for changed := true; changed; {
		changed = false
		for i, r := range res.Recs {
			if !w.empty[i] {
				continue
			}
			for _, c := range r.Base {
				if !w.readsEmpty(c) {
					w.empty[i], changed = false, true
					break
				}
			}
		}
	}
	return w
}

func (w *writer) readsEmpty(c evaluator.Conj) bool {
	for _, a := range c.Atoms {
		if a.Kind == evaluator.AtomRec && w.empty[a.Rec] {
			return true
		}
	}
	return false
}

// outputs selects the given outputs of a conjunction as columns.
func (w *writer) outputs(idx ...int) func(c *evaluator.Conj) ([]string, bool) {
	return func(c *evaluator.Conj) ([]string, bool) {
		out := make([]string, len(idx))
		for i, j := range idx {
			o := c.Out[j]
			switch {
			case o.IsAny():
				out[i] = "NULL"
			case o.Var < 0:
				l, ok := w.literal(o.Val)
				if !ok {
					return nil, false
				}
				out[i] = l
			default:
				out[i] = "$" + strconv.Itoa(o.Var) // resolved by conj
			}
		}
		return out, true
	}
}

// union writes the conjunctions as a UNION of SELECTs of the columns
// sel gives; a nil sel is for EXISTS (SELECT 1 ...), and then always
// reports a conjunction without conditions.
func (w *writer) union(cs []evaluator.Conj, sel func(c *evaluator.Conj) ([]string, bool)) (sql string, always bool) {
	exists := sel == nil
	if exists {
		sel = func(*evaluator.Conj) ([]string, bool) { return []string{"1"}, true }
	}
	var parts []string
	for i := range cs {
		c := &cs[i]
		if w.readsEmpty(*c) {
			continue
		}
		cols, ok := sel(c)
		if !ok {
			continue
		}
		if exists && len(c.Atoms) == 0 {
			return "", true
		}
		s, ok := w.conj(c, cols, -1, false)
		if ok {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, " UNION "), false
}

// conj writes one conjunction as a SELECT of cols ("$N" is variable N).
// The atom reading recursive predicate self, if any, reads the alias s:
// from the enclosing query (a LATERAL) or, with selfInFrom, as the
// first table of the FROM list.
func (w *writer) conj(c *evaluator.Conj, cols []string, self int, selfInFrom bool) (string, bool) {
	varExpr := make([]string, len(c.VarTypes))
	var from, where []string
	eq := func(expr string, t evaluator.RTerm) bool {
		if t.Var < 0 {
			l, ok := w.literal(t.Val)
			if !ok {
				return false
			}
			where = append(where, expr+" = "+l)
			return true
		}
		if varExpr[t.Var] == "" {
			varExpr[t.Var] = expr
		} else {
			where = append(where, expr+" = "+varExpr[t.Var])
		}
		return true
	}
	var notEq []evaluator.Atom
	for _, a := range c.Atoms {
		switch a.Kind {
		case evaluator.AtomLocal:
			alias := w.nextAlias("f")
			from = append(from, w.cte(a.Shape)+" AS "+alias)
			for j, arg := range a.Args {
				if !w.b.Facts[a.Shape].Args[j].Column {
					continue // a constant of the signature: no column
				}
				if !eq(alias+".arg"+strconv.Itoa(j), arg) {
					return "", false
				}
			}
		case evaluator.AtomTable:
			alias := w.nextAlias("t")
			var rows []string
			for _, row := range a.Rows {
				vals := make([]string, len(row))
				ok := true
				for j, v := range row {
					vals[j], ok = w.literal(v)
					if !ok {
						break
					}
				}
				if ok {
					rows = append(rows, "("+strings.Join(vals, ", ")+")")
				}
			}
			if len(rows) == 0 {
				return "", false
			}
			names := make([]string, len(a.Args))
			for j := range a.Args {
				names[j] = "a" + strconv.Itoa(j)
			}
			from = append(from, "(VALUES "+strings.Join(rows, ", ")+") AS "+alias+"("+strings.Join(names, ", ")+")")
			for j, arg := range a.Args {
				if !eq(alias+"."+names[j], arg) {
					return "", false
				}
			}
		case evaluator.AtomRec:
			alias := "s"
			if a.Rec == self && selfInFrom {
				from = append([]string{w.rec(self) + " AS s"}, from...)
			}
			if a.Rec != self {
				alias = w.nextAlias("r")
				from = append(from, w.rec(a.Rec)+" AS "+alias)
			}
			for j, arg := range a.Args {
				if !eq(alias+".a"+strconv.Itoa(j), arg) {
					return "", false
				}
			}
		case evaluator.AtomNotEqual:
			notEq = append(notEq, a)
		}
	}
	expr := func(t evaluator.RTerm) (string, bool) {
		if t.Var < 0 {
			return w.literal(t.Val)
		}
		return varExpr[t.Var], varExpr[t.Var] != ""
	}
	for _, a := range notEq {
		x, ok1 := expr(a.Args[0])
		y, ok2 := expr(a.Args[1])
		if !ok1 || !ok2 {
			return "", false
		}
		where = append(where, x+" <> "+y)
	}
	out := make([]string, len(cols))
	for i, col := range cols {
		if m := placeholderRE.FindStringSubmatch(col); m != nil {
			v, _ := strconv.Atoi(m[1])
			col = varExpr[v]
			if col == "" {
				col = "NULL"
			}
			col += m[2]
		}
		out[i] = col
	}
	var s strings.Builder
	s.WriteString("SELECT " + strings.Join(out, ", "))
	if len(from) > 0 {
		s.WriteString(" FROM " + strings.Join(from, ", "))
	}
	if len(where) > 0 {
		s.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	return s.String(), true
}

func (w *writer) nextAlias(p string) string {
	w.alias++
	return p + strconv.Itoa(w.alias)
}

// cte returns the name of the CTE of binding i.
func (w *writer) cte(i int) string {
	n, ok := w.cteOf[i]
	if !ok {
		n = len(w.ctes)
		w.cteOf[i] = n
		w.ctes = append(w.ctes, i)
	}
	return "c" + strconv.Itoa(n)
}

// rec returns the name of recursive predicate i, marking it used.
func (w *writer) rec(i int) string {
	w.recs[i] = true
	return "r" + strconv.Itoa(i)
}

// with writes the WITH RECURSIVE clause of what was used.
func (w *writer) with() string {
	// Recursive predicates first: writing them may use more bindings.
	var recDefs []string
	done := map[int]bool{}
	for len(done) < len(w.recs) {
		for i := range w.res.Recs {
			if w.recs[i] && !done[i] {
				done[i] = true
				recDefs = append(recDefs, w.recDef(i))
			}
		}
	}
	var defs []string
	for n, i := range w.ctes {
		f := w.b.Facts[i]
		var cols []string
		for _, j := range f.Columns() {
			cols = append(cols, "arg"+strconv.Itoa(j))
		}
		defs = append(defs, fmt.Sprintf("c%d(%s) AS NOT MATERIALIZED (\n%s\n)", n, strings.Join(cols, ", "), f.Query))
	}
	defs = append(defs, recDefs...)
	if len(defs) == 0 {
		return ""
	}
	return "WITH RECURSIVE " + strings.Join(defs, ", ") + " "
}

// recDef writes recursive predicate i: its base cases, then its steps.
// PostgreSQL allows one recursive term, reading the predicate once: several
// steps are joined under one LATERAL over the predicate's rows.
func (w *writer) recDef(i int) string {
	r := w.res.Recs[i]
	name := "r" + strconv.Itoa(i)
	cols := make([]string, len(r.Types))
	for j := range cols {
		cols[j] = "a" + strconv.Itoa(j)
	}
	all := make([]int, len(r.Types))
	for j := range all {
		all[j] = j
	}
	sel := func(c *evaluator.Conj) ([]string, bool) {
		out, ok := w.outputs(all...)(c)
		if !ok {
			return nil, false
		}
		for j := range out {
			out[j] += w.cast(r.Types[j])
		}
		return out, true
	}
	var base []string
	for k := range r.Base {
		c := &r.Base[k]
		if w.readsEmpty(*c) {
			continue
		}
		if cs, ok := sel(c); ok {
			if s, ok := w.conj(c, cs, -1, false); ok {
				base = append(base, s)
			}
		}
	}
	var steps []string
	for k := range r.Step {
		c := &r.Step[k]
		if w.readsEmpty(*c) {
			continue
		}
		if cs, ok := sel(c); ok {
			if s, ok := w.conj(c, cs, i, len(r.Step) == 1); ok {
				steps = append(steps, s)
			}
		}
	}
	def := name + "(" + strings.Join(cols, ", ") + ") AS (" + strings.Join(base, " UNION ")
	switch len(steps) {
	case 0:
	case 1:
		def += " UNION " + steps[0]
	default:
		def += " UNION SELECT x.* FROM " + name + " AS s CROSS JOIN LATERAL (" + strings.Join(steps, " UNION ALL ") + ") AS x"
	}
	return def + ")"
}

// cast returns the cast that gives a column of a recursive CTE of Polar
// type t one SQL type in its base case and its step (PostgreSQL requires
// them to be equal).
func (w *writer) cast(t string) string {
	switch {
	case t == term.TypeInteger:
		return "::bigint"
	case t == term.TypeBoolean:
		return "::boolean"
	}
	switch w.b.SQLTypes[t] {
	case SQLInteger:
		return "::" + w.b.sqlNames[t]
	case SQLUUID:
		return "::uuid"
	}
	return "::text"
}

var uuidRE = regexp.MustCompile(`^(?i)\{?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?$`)

// literal writes a value as an SQL literal. ok is false for a value no
// row of the database can hold (an id that is not an integer for an
// integer type, a NUL or invalid UTF-8 in text): the condition that
// needs it can never hold.
func (w *writer) literal(v term.Value) (string, bool) {
	switch v.Type {
	case term.TypeInteger:
		if _, err := strconv.ParseInt(v.ID, 10, 64); err != nil {
			return "", false
		}
		return v.ID, true
	case term.TypeBoolean:
		switch v.ID {
		case "true":
			return "TRUE", true
		case "false":
			return "FALSE", true
		}
		return "", false
	}
	switch w.b.SQLTypes[v.Type] {
	case SQLInteger:
		i, err := strconv.ParseInt(v.ID, 10, 64)
		if err != nil {
			return "", false
		}
		return strconv.FormatInt(i, 10), true
	case SQLUUID:
		if !uuidRE.MatchString(v.ID) {
			return "", false
		}
		return "'" + v.ID + "'::uuid", true
	}
	return quoteString(v.ID)
}

// quoteString writes s as a PostgreSQL string constant that means s
// whatever standard_conforming_strings is: E'...' with quotes and
// backslashes doubled.
func quoteString(s string) (string, bool) {
	if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		return "", false
	}
	if !strings.ContainsAny(s, `'\`) {
		return "'" + s + "'", true
	}
	r := strings.NewReplacer(`\`, `\\`, `'`, `''`)
	return "E'" + r.Replace(s) + "'", true
}
