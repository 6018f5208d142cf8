package castellan

import (
	"encoding/json"
	"fmt"
)

// Value and Fact are the wire format of concrete values and facts. A
// pattern differs: a wildcard is sent as null.

// wirePatternValue is a value in a pattern; null type or id is a wildcard.
type wirePatternValue struct {
	Type *string `json:"type"`
	ID   *string `json:"id"`
}

type wirePattern struct {
	Predicate string             `json:"predicate"`
	Args      []wirePatternValue `json:"args"`
}

// cloneFact returns f with its own copy of the arguments, for a fact kept
// after the call that received it returns (the caller may reuse Args).
func cloneFact(f Fact) Fact {
	return Fact{Predicate: f.Predicate, Args: append([]Value(nil), f.Args...), ValidFrom: f.ValidFrom, ValidUntil: f.ValidUntil}
}

// orEmpty returns fs, or an empty list for nil: the server is sent [], not
// null, as the Oso SDKs do.
func orEmpty(fs []Fact) []Fact {
	if fs == nil {
		return []Fact{}
	}
	return fs
}

func toWirePattern(f Fact) wirePattern {
	w := wirePattern{Predicate: f.Predicate, Args: make([]wirePatternValue, len(f.Args))}
	for i, a := range f.Args {
		if a.Type != "" {
			t := a.Type
			w.Args[i].Type = &t
		}
		if a.ID != "" {
			id := a.ID
			w.Args[i].ID = &id
		}
	}
	return w
}

// checkFact reports a fact that cannot be sent as a concrete fact.
func checkFact(f Fact) error {
	if f.Predicate == "" {
		return fmt.Errorf("fact has no predicate")
	}
	if len(f.Args) == 0 {
		return fmt.Errorf("fact %s has no arguments", f.Predicate)
	}
	for i, a := range f.Args {
		if a.IsWildcard() {
			return fmt.Errorf("fact %s: argument %d (%s) is not concrete", f, i+1, a)
		}
	}
	return nil
}

func checkFacts(fs []Fact) error {
	for _, f := range fs {
		if err := checkFact(f); err != nil {
			return err
		}
	}
	return nil
}

// Call is one predicate call in a Query: a predicate name applied to
// variable names. On the wire it is the two-element array [name, [vars...]].
type Call struct {
	Name string
	Args []string
}

// MarshalJSON encodes c as [name, [args...]].
func (c Call) MarshalJSON() ([]byte, error) {
	args := c.Args
	if args == nil {
		args = []string{}
	}
	return json.Marshal([]any{c.Name, args})
}

// UnmarshalJSON decodes [name, [args...]].
func (c *Call) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if len(raw) != 2 {
		return fmt.Errorf("call: want [name, [args]], got %d elements", len(raw))
	}
	if err := json.Unmarshal(raw[0], &c.Name); err != nil {
		return err
	}
	return json.Unmarshal(raw[1], &c.Args)
}

// Constraint restricts a query variable to a type and, when IDs is not nil,
// to those ids (an "in" constraint). Every variable of a Query needs one.
type Constraint struct {
	Type string   `json:"type"`
	IDs  []string `json:"ids"`
}

// Query is the /api/evaluate_query request (the Oso query builder's wire
// model): the conjunction of Predicate and every Calls entry, each applied
// to variables constrained in Constraints.
type Query struct {
	Predicate   Call                  `json:"predicate"`
	Calls       []Call                `json:"calls"`
	Constraints map[string]Constraint `json:"constraints"`
}
