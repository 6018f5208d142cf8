package server

import "github.com/castellan-authz/castellan/evaluator"

// explanationOut is an evaluator.Explanation as the server sends it with
// ?explain=true: the evaluator carries no wire format, so the JSON keys,
// their order and what is left out when empty are fixed here.
type explanationOut struct {
	Goal     string            `json:"goal"`
	Holds    bool              `json:"holds"`
	Fact     *factUseOut       `json:"fact,omitempty"`
	Rule     *ruleUseOut       `json:"rule,omitempty"`
	Premises []*explanationOut `json:"premises,omitempty"`
	Tried    []*explanationOut `json:"tried,omitempty"`
	Failed   string            `json:"failed,omitempty"`
	Notes    []string          `json:"notes,omitempty"`
}

// factUseOut is an evaluator.FactUse on the wire.
type factUseOut struct {
	Fact   string `json:"fact"`
	Origin string `json:"origin"`
}

// ruleUseOut is an evaluator.RuleUse on the wire.
type ruleUseOut struct {
	Source   string `json:"source"`
	Position string `json:"position,omitempty"`
}

// toExplanationOut converts x (nil stays nil) and everything below it.
func toExplanationOut(x *evaluator.Explanation) *explanationOut {
	if x == nil {
		return nil
	}
	out := &explanationOut{
		Goal:     x.Goal,
		Holds:    x.Holds,
		Premises: toExplanationsOut(x.Premises),
		Tried:    toExplanationsOut(x.Tried),
		Failed:   x.Failed,
		Notes:    x.Notes,
	}
	if x.Fact != nil {
		out.Fact = &factUseOut{Fact: x.Fact.Fact, Origin: x.Fact.Origin}
	}
	if x.Rule != nil {
		out.Rule = &ruleUseOut{Source: x.Rule.Text, Position: x.Rule.Position}
	}
	return out
}

func toExplanationsOut(xs []*evaluator.Explanation) []*explanationOut {
	if xs == nil {
		return nil
	}
	out := make([]*explanationOut, len(xs))
	for i, x := range xs {
		out[i] = toExplanationOut(x)
	}
	return out
}
