// Package term defines the values and facts that every layer of Castellan
// shares: the language, the evaluator, the stores and the HTTP API.
//
// It is a leaf package (standard library only) so that store can import it
// without pulling in the parser.
package term

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Names of the primitive types. On the wire every value is {type, id}, with
// primitives carrying their textual value as id.
const (
	TypeString  = "String"
	TypeInteger = "Integer"
	TypeBoolean = "Boolean"
)

// MaxArgBytes is the largest id a fact argument may carry (as Oso Cloud).
const MaxArgBytes = 384

// Value is a typed value: an entity such as User{"alice"} or a primitive
// (String, Integer, Boolean) whose ID is its canonical text.
// The zero Value is "no value" and is used as a wildcard in patterns.
type Value struct {
	Type string
	ID   string
}

// String returns a String value.
func String(s string) Value { return Value{Type: TypeString, ID: s} }

// Integer returns an Integer value.
func Integer(i int64) Value { return Value{Type: TypeInteger, ID: strconv.FormatInt(i, 10)} }

// Bool returns a Boolean value.
func Bool(b bool) Value { return Value{Type: TypeBoolean, ID: strconv.FormatBool(b)} }

// Entity returns a value of a non-primitive type, such as User{"alice"}.
func Entity(typ, id string) Value { return Value{Type: typ, ID: id} }

// IsZero reports whether v is the zero Value (a wildcard in patterns).
func (v Value) IsZero() bool { return v.Type == "" && v.ID == "" }

// IsPrimitive reports whether v is a String, Integer or Boolean.
func (v Value) IsPrimitive() bool { return IsPrimitiveType(v.Type) }

// IsPrimitiveType reports whether typ names a primitive type.
func IsPrimitiveType(typ string) bool {
	return typ == TypeString || typ == TypeInteger || typ == TypeBoolean
}

// Int returns the integer held by an Integer value.
func (v Value) Int() (int64, bool) {
	if v.Type != TypeInteger {
		return 0, false
	}
	i, err := strconv.ParseInt(v.ID, 10, 64)
	return i, err == nil
}

// String renders v in Polar syntax: "text", 42, true or User{"alice"}.
func (v Value) String() string {
	switch v.Type {
	case TypeString:
		return strconv.Quote(v.ID)
	case TypeInteger, TypeBoolean:
		return v.ID
	case "":
		return "_"
	}
	return v.Type + "{" + strconv.Quote(v.ID) + "}"
}

// Errors returned by Normalize and Fact.Validate.
var (
	// ErrInvalidValue reports a value that is malformed: empty type or id,
	// an Integer that is not a 64-bit integer, a Boolean that is not true/false.
	ErrInvalidValue = errors.New("invalid value")
	// ErrTooLarge reports an argument longer than MaxArgBytes.
	ErrTooLarge = errors.New("value too large")
)

// Normalize checks v and returns it in canonical form (Integer ids in
// base-10 without sign or leading zeros, Boolean ids "true"/"false").
func Normalize(v Value) (Value, error) {
	if v.Type == "" {
		return v, fmt.Errorf("%w: type must not be empty", ErrInvalidValue)
	}
	if v.ID == "" {
		return v, fmt.Errorf("%w: %s id must not be empty", ErrInvalidValue, v.Type)
	}
	if len(v.ID) > MaxArgBytes {
		return v, fmt.Errorf("%w: %s id is %d bytes, the limit is %d", ErrTooLarge, v.Type, len(v.ID), MaxArgBytes)
	}
	switch v.Type {
	case TypeInteger:
		i, err := strconv.ParseInt(strings.TrimPrefix(v.ID, "+"), 10, 64)
		if err != nil {
			return v, fmt.Errorf("%w: Integer id %q is not a 64-bit integer", ErrInvalidValue, v.ID)
		}
		return Integer(i), nil
	case TypeBoolean:
		b, err := strconv.ParseBool(v.ID)
		if err != nil || (v.ID != "true" && v.ID != "false") {
			return v, fmt.Errorf("%w: Boolean id %q is not true or false", ErrInvalidValue, v.ID)
		}
		return Bool(b), nil
	}
	return v, nil
}

// Fact is a predicate applied to ground values, such as
// has_role(User{"alice"}, "maintainer", Repository{"anvil"}).
//
// A stored fact may carry a validity Window: outside it the fact does not
// hold (stores and the evaluator read facts at one instant, see
// store.Snapshot.At). Context facts carry none. The window is not part of
// the fact's identity: Equal and String ignore it, and a store keeps a fact
// once, with the window it was last told with.
type Fact struct {
	Predicate string
	Args      []Value
	Valid     Window
}

// String renders f in Polar syntax.
func (f Fact) String() string {
	var b strings.Builder
	b.WriteString(f.Predicate)
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

// Normalize checks that f is a well-formed ground fact and returns it with
// every argument in canonical form and its window rounded (see Window). It does not check f against a policy.
func (f Fact) Normalize() (Fact, error) {
	if f.Predicate == "" {
		return f, fmt.Errorf("%w: predicate must not be empty", ErrInvalidValue)
	}
	if len(f.Args) == 0 {
		return f, fmt.Errorf("%w: %s has no arguments", ErrInvalidValue, f.Predicate)
	}
	w, err := f.Valid.normalize()
	if err != nil {
		return f, fmt.Errorf("%s: %w", f.Predicate, err)
	}
	out := Fact{Predicate: f.Predicate, Args: make([]Value, len(f.Args)), Valid: w}
	for i, a := range f.Args {
		n, err := Normalize(a)
		if err != nil {
			return f, fmt.Errorf("%s argument %d: %w", f.Predicate, i+1, err)
		}
		out.Args[i] = n
	}
	return out, nil
}

// Equal reports whether f and g are the same fact.
func (f Fact) Equal(g Fact) bool {
	if f.Predicate != g.Predicate || len(f.Args) != len(g.Args) {
		return false
	}
	for i := range f.Args {
		if f.Args[i] != g.Args[i] {
			return false
		}
	}
	return true
}

// Pattern selects facts. An empty Predicate matches any predicate. Each
// argument's Type and ID are matched independently; an empty string matches
// anything, so {Type: "Repo"} is any Repo and the zero PatternValue is any
// value. A Pattern matches only facts with exactly len(Args) arguments unless
// AnyArity is set, in which case facts with more arguments match too (for
// a pattern that leaves out its trailing wildcards).
type Pattern struct {
	Predicate string
	Args      []Value
	AnyArity  bool
}

// Matches reports whether f matches p.
func (p Pattern) Matches(f Fact) bool {
	if p.Predicate != "" && p.Predicate != f.Predicate {
		return false
	}
	if len(f.Args) < len(p.Args) || (!p.AnyArity && len(f.Args) != len(p.Args)) {
		return false
	}
	for i, a := range p.Args {
		if a.Type != "" && a.Type != f.Args[i].Type {
			return false
		}
		if a.ID != "" && a.ID != f.Args[i].ID {
			return false
		}
	}
	return true
}

// IsGround reports whether p names one fact exactly (no wildcard anywhere).
func (p Pattern) IsGround() bool {
	if p.Predicate == "" || p.AnyArity {
		return false
	}
	for _, a := range p.Args {
		if a.Type == "" || a.ID == "" {
			return false
		}
	}
	return true
}
