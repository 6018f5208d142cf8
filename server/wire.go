package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/castellan-authz/castellan/lang/term"
)

// The Oso wire format: every value is {"type", "id"} with id a string;
// patterns may carry null for either (a wildcard).

// wireValue is a value or a pattern value as sent by clients.
type wireValue struct {
	Type *string `json:"type"`
	ID   *string `json:"id"`
}

// wireFact is a fact or a fact pattern as sent by clients.
type wireFact struct {
	Predicate *string     `json:"predicate"`
	Args      []wireValue `json:"args"`
	// ValidFrom and ValidUntil bound the validity window of a stored fact
	// (RFC 3339); either may be left out. Patterns and context facts have
	// none.
	ValidFrom  *string `json:"valid_from,omitempty"`
	ValidUntil *string `json:"valid_until,omitempty"`
}

// outValue is a value as the server sends it.
type outValue struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// outFact is a fact as the server sends it.
type outFact struct {
	Predicate  string     `json:"predicate"`
	Args       []outValue `json:"args"`
	ValidFrom  string     `json:"valid_from,omitempty"`
	ValidUntil string     `json:"valid_until,omitempty"`
}

func toOutValue(v term.Value) outValue { return outValue{Type: v.Type, ID: v.ID} }

func toOutFact(f term.Fact) outFact {
	args := make([]outValue, len(f.Args))
	for i, a := range f.Args {
		args[i] = toOutValue(a)
	}
	out := outFact{Predicate: f.Predicate, Args: args}
	if !f.Valid.From.IsZero() {
		out.ValidFrom = f.Valid.From.UTC().Format(time.RFC3339Nano)
	}
	if !f.Valid.Until.IsZero() {
		out.ValidUntil = f.Valid.Until.UTC().Format(time.RFC3339Nano)
	}
	return out
}

// decodeJSON decodes the request body into v, strictly: one JSON value,
// no unknown fields. Errors say where the body went wrong.
func decodeJSON(r *http.Request, v any) error { return decodeBody(r, v, true) }

// decodeJSONLenient decodes the request body into v, ignoring unknown
// fields (AuthZEN requests may carry extensions).
func decodeJSONLenient(r *http.Request, v any) error { return decodeBody(r, v, false) }

func decodeBody(r *http.Request, v any, strict bool) error {
	_, span := childSpan(r.Context(), "decode")
	defer span.End()
	body, err := readBody(r)
	if err != nil {
		return jsonError(err)
	}
	return decodeBytes(body, v, strict)
}

// decodeBytes decodes body into v: one JSON value, valid UTF-8, no key
// twice in an object and, when strict, no unknown fields.
func decodeBytes(body []byte, v any, strict bool) error {
	if err := checkJSON(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errorf(http.StatusBadRequest, codeInvalidJSON, "malformed JSON: unexpected data after the JSON value at offset %d", dec.InputOffset())
	}
	return nil
}

// decodeOptionalJSON is decodeJSON that accepts an empty body (leaving v
// as it is).
func decodeOptionalJSON(r *http.Request, v any) error {
	body, err := readBody(r)
	if err != nil {
		return jsonError(err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	return decodeBytes(body, v, true)
}

// jsonError turns an encoding/json error into a 400 naming where the body
// is wrong.
func jsonError(err error) error {
	if mbe, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return mbe
	}
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return errorf(http.StatusBadRequest, codeInvalidJSON, "malformed JSON at offset %d: %s", se.Offset, se.Error())
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		field := te.Field
		if field == "" {
			field = "the request body"
		}
		return errorf(http.StatusBadRequest, codeInvalidJSON, "malformed JSON at offset %d: %s must be %s, got %s", te.Offset, field, jsonTypeName(te.Type.String()), te.Value)
	}
	switch {
	case errors.Is(err, io.EOF):
		return errorf(http.StatusBadRequest, codeInvalidJSON, "malformed JSON: the request body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errorf(http.StatusBadRequest, codeInvalidJSON, "malformed JSON: the request body ends before the JSON value does")
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return errorf(http.StatusBadRequest, codeInvalidJSON, "malformed JSON: unknown field %s", f)
	}
	return errorf(http.StatusBadRequest, codeInvalidJSON, "malformed JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
}

// jsonTypeName names a Go type in JSON terms for error messages.
func jsonTypeName(goType string) string {
	switch {
	case goType == "string" || goType == "*string":
		return "a string"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case strings.HasPrefix(goType, "map[") || strings.Contains(goType, "server."):
		return "an object"
	case goType == "bool":
		return "a boolean"
	case strings.HasPrefix(goType, "int") || strings.HasPrefix(goType, "uint") || strings.HasPrefix(goType, "float") || goType == "*int":
		return "a number"
	}
	return goType
}

// toValue converts a concrete wire value (both type and id required) to a
// canonical term.Value. where names it in errors ("actor").
func toValue(w wireValue, where string) (term.Value, error) {
	if w.Type == nil || *w.Type == "" {
		return term.Value{}, badRequest("%s: type is required", where)
	}
	if w.ID == nil || *w.ID == "" {
		return term.Value{}, badRequest("%s: id is required", where)
	}
	return normalizeValue(*w.Type, *w.ID, where)
}

// normalizeValue returns Type{id} in canonical form.
func normalizeValue(typ, id, where string) (term.Value, error) {
	if typ == "" {
		return term.Value{}, badRequest("%s: type is required", where)
	}
	if id == "" {
		return term.Value{}, badRequest("%s: id is required", where)
	}
	v, err := term.Normalize(term.Value{Type: typ, ID: id})
	if err != nil {
		return term.Value{}, badRequest("%s: %v", where, err)
	}
	return v, nil
}

// toFact converts a wire fact to a canonical, ground term.Fact.
func toFact(w wireFact, where string) (term.Fact, error) {
	if w.Predicate == nil || *w.Predicate == "" {
		return term.Fact{}, badRequest("%s: predicate is required", where)
	}
	if len(w.Args) == 0 {
		return term.Fact{}, badRequest("%s: %s needs at least one argument", where, *w.Predicate)
	}
	if verifiedPredicate(*w.Predicate) {
		return term.Fact{}, badRequest("%s: %s facts are verified facts: Castellan adds them from the request's credentials, and no caller may send or store them", where, *w.Predicate)
	}
	f := term.Fact{Predicate: *w.Predicate, Args: make([]term.Value, len(w.Args))}
	for i, a := range w.Args {
		if v, ok := plainValue(a); ok {
			f.Args[i] = v
			continue
		}
		// Not plain: toValue says what is wrong, or normalizes.
		v, err := toValue(a, fmt.Sprintf("%s: %s argument %d", where, *w.Predicate, i+1))
		if err != nil {
			return term.Fact{}, err
		}
		f.Args[i] = v
	}
	var err error
	if f.Valid.From, err = windowBound(w.ValidFrom, where, "valid_from"); err != nil {
		return term.Fact{}, err
	}
	if f.Valid.Until, err = windowBound(w.ValidUntil, where, "valid_until"); err != nil {
		return term.Fact{}, err
	}
	if !f.Valid.From.IsZero() && !f.Valid.Until.IsZero() && !f.Valid.Until.After(f.Valid.From) {
		return term.Fact{}, badRequest("%s: valid_until %s is not after valid_from %s (the fact would never hold)", where, *w.ValidUntil, *w.ValidFrom)
	}
	return f, nil
}

// plainValue converts a wire value with a type and an id that term.Normalize
// accepts, without naming it: the common case, which needs no message (an
// argument's name is formatted only for the error it is needed for).
func plainValue(w wireValue) (term.Value, bool) {
	if w.Type == nil || w.ID == nil || *w.Type == "" || *w.ID == "" {
		return term.Value{}, false
	}
	v, err := term.Normalize(term.Value{Type: *w.Type, ID: *w.ID})
	return v, err == nil
}

// windowBound parses one bound of a validity window: absent is unbounded.
func windowBound(s *string, where, name string) (time.Time, error) {
	if s == nil {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		return time.Time{}, badRequest("%s: %s %q is not an RFC 3339 timestamp (such as 2027-01-01T00:00:00Z)", where, name, *s)
	}
	return t, nil
}

// noWindows refuses validity windows where they have no meaning: on
// patterns (a delete removes the fact whatever its window) and on context
// facts (they hold for their one request).
func noWindows(w wireFact, where, what string) error {
	if w.ValidFrom != nil || w.ValidUntil != nil {
		return badRequest("%s: %s has no validity window (valid_from, valid_until belong to stored facts)", where, what)
	}
	return nil
}

// toFacts converts a list of wire facts, naming each by its index.
func toFacts(ws []wireFact, where string) ([]term.Fact, error) {
	out := make([]term.Fact, len(ws))
	for i, w := range ws {
		f, err := toFact(w, "")
		if err != nil {
			// Again, named in the error (formatted only when needed).
			_, err = toFact(w, fmt.Sprintf("%s[%d]", where, i))
			return nil, err
		}
		out[i] = f
	}
	return out, nil
}

// toPatternValue converts a wire pattern value: null type or id is a
// wildcard. An Integer or Boolean id is canonicalised.
func toPatternValue(w wireValue, where string) (term.Value, error) {
	var v term.Value
	if w.Type != nil {
		v.Type = *w.Type
	}
	if w.ID != nil {
		v.ID = *w.ID
	}
	if v.Type != "" && v.ID != "" {
		return normalizeValue(v.Type, v.ID, where)
	}
	if len(v.ID) > term.MaxArgBytes {
		return term.Value{}, badRequest("%s: id is %d bytes, the limit is %d", where, len(v.ID), term.MaxArgBytes)
	}
	return v, nil
}

// toPattern converts a wire fact pattern (exact arity; null predicate is
// any predicate).
func toPattern(w wireFact, where string) (term.Pattern, error) {
	var p term.Pattern
	if err := noWindows(w, where, "a fact pattern"); err != nil {
		return p, err
	}
	if w.Predicate != nil {
		p.Predicate = *w.Predicate
	}
	if len(w.Args) == 0 {
		return p, badRequest("%s: a fact pattern needs at least one argument", where)
	}
	p.Args = make([]term.Value, len(w.Args))
	for i, a := range w.Args {
		if v, ok := plainValue(a); ok {
			p.Args[i] = v
			continue
		}
		v, err := toPatternValue(a, fmt.Sprintf("%s: argument %d", where, i+1))
		if err != nil {
			return p, err
		}
		p.Args[i] = v
	}
	return p, nil
}

// toPatterns converts a list of wire patterns, naming each by its index.
func toPatterns(ws []wireFact, where string) ([]term.Pattern, error) {
	out := make([]term.Pattern, len(ws))
	for i, w := range ws {
		p, err := toPattern(w, "")
		if err != nil {
			_, err = toPattern(w, fmt.Sprintf("%s[%d]", where, i))
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}
