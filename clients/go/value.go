package castellan

import (
	"strconv"
	"strings"
	"time"
)

// Names of the primitive types. On the wire every value is {type, id}, with
// primitives carrying their textual value as id.
const (
	TypeString  = "String"
	TypeInteger = "Integer"
	TypeBoolean = "Boolean"
)

// Value is a typed value: an entity such as User{"alice"} or a primitive
// (String, Integer, Boolean) whose ID is its text. In patterns (Delete, Get,
// Query) an empty Type or ID is a wildcard: Value{} matches anything and
// Value{Type: "User"} matches any User.
//
// As JSON it is the Oso wire format of a concrete value, {"type", "id"}
// (a wildcard's empty fields are sent as "", not as the null of a pattern).
type Value struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// Entity returns a value of a non-primitive type, such as User{"alice"}.
func Entity(typ, id string) Value { return Value{Type: typ, ID: id} }

// String returns a String value.
func String(s string) Value { return Value{Type: TypeString, ID: s} }

// Integer returns an Integer value.
func Integer(i int64) Value { return Value{Type: TypeInteger, ID: strconv.FormatInt(i, 10)} }

// Bool returns a Boolean value.
func Bool(b bool) Value { return Value{Type: TypeBoolean, ID: strconv.FormatBool(b)} }

// Any returns the wildcard that matches any value (in patterns).
func Any() Value { return Value{} }

// AnyOf returns the wildcard that matches any value of type typ (in patterns).
func AnyOf(typ string) Value { return Value{Type: typ} }

// IsWildcard reports whether v leaves its type or its id open.
func (v Value) IsWildcard() bool { return v.Type == "" || v.ID == "" }

// String renders v in Polar syntax: "text", 42, true or User{"alice"}.
// Wildcards render as _ and Type{_}.
func (v Value) String() string {
	switch {
	case v.Type == "":
		return "_"
	case v.ID == "":
		return v.Type + "{_}"
	}
	switch v.Type {
	case TypeString:
		return strconv.Quote(v.ID)
	case TypeInteger, TypeBoolean:
		return v.ID
	}
	return v.Type + "{" + strconv.Quote(v.ID) + "}"
}

// Fact is a predicate applied to values, such as
// has_role(User{"bob"}, "owner", Organization{"acme"}). Used as a pattern,
// its arguments may be wildcards. As JSON it is the Oso wire format of a
// fact, {"predicate", "args": [{"type", "id"}, ...]}.
//
// A stored fact may carry a validity window: it holds from ValidFrom
// (included) until ValidUntil (excluded); a zero bound is unbounded on
// that side. Facts the server returns carry the window they were stored
// with. Context facts and patterns have none.
type Fact struct {
	Predicate  string    `json:"predicate"`
	Args       []Value   `json:"args"`
	ValidFrom  time.Time `json:"valid_from,omitzero"`
	ValidUntil time.Time `json:"valid_until,omitzero"`
}

// Until returns f holding until t (excluded): "grant read until Friday".
func (f Fact) Until(t time.Time) Fact {
	f.ValidUntil = t
	return f
}

// From returns f holding from t on.
func (f Fact) From(t time.Time) Fact {
	f.ValidFrom = t
	return f
}

// NewFact returns the fact predicate(args...).
func NewFact(predicate string, args ...Value) Fact {
	return Fact{Predicate: predicate, Args: args}
}

// String renders f in Polar syntax.
func (f Fact) String() string {
	var b strings.Builder
	pred := f.Predicate
	if pred == "" {
		pred = "_"
	}
	b.WriteString(pred)
	b.WriteByte('(')
	for i, a := range f.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.String())
	}
	b.WriteByte(')')
	return b.String()
}
