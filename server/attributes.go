package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/castellan-authz/castellan/lang/term"
)

// Attributes: the properties that come with a question, as facts.
//
// AuthZEN sends what it knows of the subject, the resource and the action
// as free-form `properties` objects, and of the request as `context`.
// They become per-request facts by one convention (docs/api.md,
// "Attributes"), and the Oso endpoints take the same objects in an
// optional `attributes` field:
//
//	has_attribute(Entity, "name", value)   a property of an entity (the
//	                                       subject, the resource, or the
//	                                       action as a String)
//	has_context("name", value)             a key of the request context
//
// A string is a String, a whole number an Integer, a boolean a Boolean;
// an array gives one fact per element; a nested object gives its keys
// dotted names ("address.city"). null, "", fractional numbers and empty
// arrays or objects give no fact: Polar has no value for them.

// The predicates of attribute facts.
const (
	predHasAttribute = "has_attribute"
	predHasContext   = "has_context"
)

// maxAttributeDepth bounds how deeply properties may nest.
const maxAttributeDepth = 32

// wireAttributes is one item of the Oso endpoints' `attributes`: the
// properties of an entity, or of the request when entity is absent.
type wireAttributes struct {
	Entity     *wireValue      `json:"entity"`
	Properties json.RawMessage `json:"properties"`
}

// attributeFacts converts the `attributes` of an Oso request.
func attributeFacts(ws []wireAttributes, where string) ([]term.Fact, error) {
	var out []term.Fact
	for i, w := range ws {
		at := fmt.Sprintf("%s[%d]", where, i)
		if w.Entity == nil {
			var err error
			if out, err = appendProperties(out, nil, w.Properties, at+".properties"); err != nil {
				return nil, err
			}
			continue
		}
		v, err := toValue(*w.Entity, at+".entity")
		if err != nil {
			return nil, err
		}
		if out, err = appendProperties(out, &v, w.Properties, at+".properties"); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// appendProperties appends the facts of a properties object: those of
// entity of (has_attribute), or of the request when of is nil
// (has_context). An absent or null object has none; anything else but an
// object is refused, naming where.
func appendProperties(out []term.Fact, of *term.Value, raw json.RawMessage, where string) ([]term.Fact, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return out, nil
	}
	var props map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&props); err != nil {
		return nil, badRequest("%s must be an object", where)
	}
	return appendObject(out, of, "", props, where, 0)
}

func appendObject(out []term.Fact, of *term.Value, prefix string, obj map[string]any, where string, depth int) ([]term.Fact, error) {
	if depth > maxAttributeDepth {
		return nil, badRequest("%s: properties nest deeper than %d levels", where, maxAttributeDepth)
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the facts in a stable order
	var err error
	for _, k := range keys {
		if k == "" {
			continue
		}
		name := k
		if prefix != "" {
			name = prefix + "." + k
		}
		if out, err = appendValue(out, of, name, obj[k], where, depth); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func appendValue(out []term.Fact, of *term.Value, name string, x any, where string, depth int) ([]term.Fact, error) {
	var v term.Value
	switch x := x.(type) {
	case map[string]any:
		return appendObject(out, of, name, x, where, depth+1)
	case []any:
		if depth > maxAttributeDepth {
			return nil, badRequest("%s: properties nest deeper than %d levels", where, maxAttributeDepth)
		}
		var err error
		for _, e := range x {
			if out, err = appendValue(out, of, name, e, where, depth+1); err != nil {
				return nil, err
			}
		}
		return out, nil
	case string:
		if x == "" {
			return out, nil
		}
		v = term.String(x)
	case bool:
		v = term.Bool(x)
	case json.Number:
		n, err := x.Int64()
		if err != nil || strings.ContainsAny(x.String(), ".eE") {
			return out, nil // not a whole number: Polar has no floats
		}
		v = term.Integer(n)
	default: // null
		return out, nil
	}
	if len(name) > term.MaxArgBytes {
		return nil, badRequest("%s: the property name %.40q... is %d bytes, the limit is %d", where, name, len(name), term.MaxArgBytes)
	}
	if len(v.ID) > term.MaxArgBytes {
		return nil, badRequest("%s.%s: the value is %d bytes, the limit is %d", where, name, len(v.ID), term.MaxArgBytes)
	}
	if of == nil {
		return append(out, term.Fact{Predicate: predHasContext, Args: []term.Value{term.String(name), v}}), nil
	}
	return append(out, term.Fact{Predicate: predHasAttribute, Args: []term.Value{*of, term.String(name), v}}), nil
}
