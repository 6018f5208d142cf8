package localauth

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/castellan-authz/castellan/lang"
	"github.com/castellan-authz/castellan/lang/term"
)

// ErrBindings reports a data-bindings file that cannot be used: it is
// malformed, or names predicates or types the policy cannot use. Errors
// wrapping it are the caller's fault (a 400).
var ErrBindings = errors.New("invalid data bindings")

// BindingError is one problem with a data-bindings file, located by line
// and, when it concerns one binding, by the binding's signature.
type BindingError struct {
	Line    int    // 1-based; 0 when unknown
	Binding string // the signature as written, or ""
	Msg     string
}

// Error renders "data_bindings: line N: binding "sig": msg".
func (e *BindingError) Error() string {
	var b strings.Builder
	b.WriteString("data_bindings: ")
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Binding != "" {
		fmt.Fprintf(&b, "binding %q: ", e.Binding)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap makes every BindingError an ErrBindings.
func (e *BindingError) Unwrap() error { return ErrBindings }

// Bindings is a parsed data-bindings file.
type Bindings struct {
	// Facts are the fact bindings in file order.
	Facts []*Binding
	// SQLTypes maps an entity type to the kind of its ids in SQL.
	SQLTypes map[string]SQLType
	sqlNames map[string]string // the PostgreSQL name of each integer type
}

// Binding maps one fact signature to the SQL that returns its facts.
type Binding struct {
	Signature string // as written
	Name      string // the predicate
	Args      []Arg
	Query     string
	Line      int
}

// Columns returns the positions of the `_` arguments: the query returns
// one column for each, in this order.
func (b *Binding) Columns() []int {
	var out []int
	for i, a := range b.Args {
		if a.Column {
			out = append(out, i)
		}
	}
	return out
}

// Arg is one argument of a signature: a typed column (`Type:_`) or a
// constant (`Type:value`, or a bare word for a String).
type Arg struct {
	Type   string
	Column bool
	Const  term.Value // when !Column
}

// SQLType is how ids of a type are written in SQL.
type SQLType int

// SQL types of ids.
const (
	SQLText    SQLType = iota // quoted literal (text, varchar, or undeclared)
	SQLInteger                // unquoted integer (integer, bigint, smallint)
	SQLUUID                   // quoted literal that must be a UUID
)

var sqlTypeNames = map[string]SQLType{
	"text": SQLText, "varchar": SQLText, "character varying": SQLText, "char": SQLText, "string": SQLText,
	"integer": SQLInteger, "int": SQLInteger, "int2": SQLInteger, "int4": SQLInteger, "int8": SQLInteger,
	"bigint": SQLInteger, "smallint": SQLInteger, "serial": SQLInteger, "bigserial": SQLInteger,
	"uuid": SQLUUID,
}

// intNames maps the integer SQL types to the PostgreSQL type of their
// values.
var intNames = map[string]string{
	"integer": "integer", "int": "integer", "int4": "integer", "serial": "integer",
	"bigint": "bigint", "int8": "bigint", "bigserial": "bigint",
	"smallint": "smallint", "int2": "smallint",
}

// maxBindingsBytes bounds the size of a bindings file.
const maxBindingsBytes = 1 << 20

// ParseBindings parses a data-bindings YAML file. It checks the shape and
// the signature grammar; Check validates the bindings against a policy.
func ParseBindings(src string) (*Bindings, error) {
	if strings.TrimSpace(src) == "" {
		return nil, &BindingError{Msg: "the data bindings are empty: send the contents of the data-bindings YAML file"}
	}
	if len(src) > maxBindingsBytes {
		return nil, &BindingError{Msg: fmt.Sprintf("the data bindings are %d bytes, the limit is %d", len(src), maxBindingsBytes)}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		return nil, &BindingError{Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, &BindingError{Line: doc.Line, Msg: "the top level must be a mapping with the key facts (and optionally sql_types)"}
	}
	b := &Bindings{SQLTypes: map[string]SQLType{}, sqlNames: map[string]string{}}
	top := doc.Content[0]
	sawFacts := false
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		switch k.Value {
		case "facts":
			sawFacts = true
			if err := b.parseFacts(v); err != nil {
				return nil, err
			}
		case "sql_types":
			if err := b.parseSQLTypes(v); err != nil {
				return nil, err
			}
		default:
			return nil, &BindingError{Line: k.Line, Msg: fmt.Sprintf("unknown key %q: the keys are facts and sql_types", k.Value)}
		}
	}
	if !sawFacts {
		return nil, &BindingError{Line: top.Line, Msg: "the key facts is required"}
	}
	return b, nil
}

func (b *Bindings) parseFacts(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		if n.Tag == "!!null" {
			return nil // facts: with nothing under it binds nothing
		}
		return &BindingError{Line: n.Line, Msg: "facts must map fact signatures to {query: ...}"}
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		bd, err := parseSignature(k.Value)
		if err != nil {
			return &BindingError{Line: k.Line, Binding: k.Value, Msg: err.Error()}
		}
		bd.Line = k.Line
		key := bd.key()
		if l, dup := seen[key]; dup {
			return &BindingError{Line: k.Line, Binding: k.Value, Msg: fmt.Sprintf("the same signature is bound on line %d", l)}
		}
		seen[key] = k.Line
		if v.Kind != yaml.MappingNode {
			return &BindingError{Line: v.Line, Binding: k.Value, Msg: "a binding must be a mapping with the key query"}
		}
		for j := 0; j+1 < len(v.Content); j += 2 {
			qk, qv := v.Content[j], v.Content[j+1]
			if qk.Value != "query" {
				return &BindingError{Line: qk.Line, Binding: k.Value, Msg: fmt.Sprintf("unknown key %q: a binding has only query", qk.Value)}
			}
			if qv.Kind != yaml.ScalarNode || qv.Tag == "!!null" || strings.TrimSpace(qv.Value) == "" {
				return &BindingError{Line: qv.Line, Binding: k.Value, Msg: "query must be a non-empty SQL string"}
			}
			bd.Query = strings.TrimRight(strings.TrimSpace(qv.Value), ";")
		}
		if bd.Query == "" {
			return &BindingError{Line: v.Line, Binding: k.Value, Msg: "query is required"}
		}
		if hasTopLevelSemicolon(bd.Query) {
			// A query is pasted into a CTE; a second statement would break
			// out of it.
			return &BindingError{Line: v.Line, Binding: k.Value, Msg: "query must be one SELECT statement (no ';')"}
		}
		b.Facts = append(b.Facts, bd)
	}
	return nil
}

// hasTopLevelSemicolon reports a ';' outside quotes.
func hasTopLevelSemicolon(q string) bool {
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == ';':
			return true
		}
	}
	return false
}

func (b *Bindings) parseSQLTypes(n *yaml.Node) error {
	if n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return &BindingError{Line: n.Line, Msg: "sql_types must map type names to SQL types"}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !identRE.MatchString(k.Value) {
			return &BindingError{Line: k.Line, Msg: fmt.Sprintf("sql_types: %q is not a type name", k.Value)}
		}
		t, ok := sqlTypeNames[strings.ToLower(strings.TrimSpace(v.Value))]
		if v.Kind != yaml.ScalarNode || !ok {
			return &BindingError{Line: v.Line, Msg: fmt.Sprintf("sql_types.%s: unsupported SQL type %q (use integer, bigint, smallint, uuid or text)", k.Value, v.Value)}
		}
		b.SQLTypes[k.Value] = t
		b.sqlNames[k.Value] = intNames[strings.ToLower(strings.TrimSpace(v.Value))]
	}
	return nil
}

var (
	identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	sigRE   = regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\((.*)\)\s*$`)
)

// parseSignature parses `name(arg, ...)`.
func parseSignature(s string) (*Binding, error) {
	m := sigRE.FindStringSubmatch(s)
	if m == nil {
		return nil, errors.New("a signature is predicate(Type:_, ...), e.g. has_relation(Issue:_, String:repository, Repository:_)")
	}
	bd := &Binding{Signature: s, Name: m[1]}
	if strings.TrimSpace(m[2]) == "" {
		return nil, errors.New("a signature needs at least one argument")
	}
	for i, raw := range strings.Split(m[2], ",") {
		a, err := parseArg(strings.TrimSpace(raw))
		if err != nil {
			return nil, fmt.Errorf("argument %d: %v", i+1, err)
		}
		bd.Args = append(bd.Args, a)
	}
	if len(bd.Columns()) == 0 {
		return nil, errors.New("a signature needs at least one Type:_ argument (the query returns one column per _)")
	}
	return bd, nil
}

func parseArg(s string) (Arg, error) {
	typ, val, typed := strings.Cut(s, ":")
	if !typed {
		// A bare word is a String constant.
		if !identRE.MatchString(s) || s == "_" {
			return Arg{}, fmt.Errorf("%q is neither Type:_, Type:value nor a bare word", s)
		}
		return Arg{Type: term.TypeString, Const: term.String(s)}, nil
	}
	typ, val = strings.TrimSpace(typ), strings.TrimSpace(val)
	if !identRE.MatchString(typ) {
		return Arg{}, fmt.Errorf("%q is not a type name", typ)
	}
	if typ == lang.AbstractActor || typ == lang.AbstractResource {
		return Arg{}, fmt.Errorf("type %s is abstract; name a concrete type", typ)
	}
	if val == "_" {
		return Arg{Type: typ, Column: true}, nil
	}
	if uq, err := strconv.Unquote(val); err == nil {
		val = uq
	}
	v, err := term.Normalize(term.Value{Type: typ, ID: val})
	if err != nil {
		return Arg{}, err
	}
	return Arg{Type: typ, Const: v}, nil
}

// key identifies a signature up to spelling: name, and per argument the
// type and the constant.
func (b *Binding) key() string {
	var s strings.Builder
	s.WriteString(b.Name)
	for _, a := range b.Args {
		s.WriteString("\x00" + a.Type)
		if !a.Column {
			s.WriteString("\x01" + a.Const.ID)
		}
	}
	return s.String()
}

// Check validates the bindings against a policy: every predicate is one
// the policy uses with this arity, every type is known, and the argument
// types fit what the policy expects of the predicate.
func (b *Bindings) Check(p *lang.Program) error {
	for _, bd := range b.Facts {
		for i, a := range bd.Args {
			if !knownType(p, a.Type) {
				return &BindingError{Line: bd.Line, Binding: bd.Signature, Msg: fmt.Sprintf("argument %d: unknown type %s: the policy neither declares nor uses it", i+1, a.Type)}
			}
		}
		f := term.Fact{Predicate: bd.Name, Args: make([]term.Value, len(bd.Args))}
		for i, a := range bd.Args {
			f.Args[i] = term.Value{Type: a.Type, ID: "x"}
		}
		if err := p.CheckFact(f); err != nil {
			var fe *lang.FactError
			msg := err.Error()
			if errors.As(err, &fe) {
				msg = fe.Msg
			}
			return &BindingError{Line: bd.Line, Binding: bd.Signature, Msg: msg}
		}
	}
	types := make([]string, 0, len(b.SQLTypes))
	for t := range b.SQLTypes {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		if term.IsPrimitiveType(t) || !knownType(p, t) {
			return &BindingError{Msg: fmt.Sprintf("sql_types: unknown type %s: name a type the policy declares or uses", t)}
		}
	}
	return nil
}

func knownType(p *lang.Program, t string) bool {
	if term.IsPrimitiveType(t) || p.Types[t] != nil {
		return true
	}
	for _, fts := range p.FactTypes {
		for _, ft := range fts {
			for _, x := range ft {
				if x == t {
					return true
				}
			}
		}
	}
	return false
}
