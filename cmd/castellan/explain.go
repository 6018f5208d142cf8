package main

// Text rendering of a decision's explanation (authorize --explain).

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// explanation is the derivation the server returns with ?explain=true: for
// a goal that holds, the fact or the rule and premises that prove it; for
// one that does not, the rules tried and where each failed.
type explanation struct {
	Goal     string         `json:"goal"`
	Holds    bool           `json:"holds"`
	Fact     *explainFact   `json:"fact"`
	Rule     *explainRule   `json:"rule"`
	Premises []*explanation `json:"premises"`
	Tried    []*explanation `json:"tried"`
	Failed   string         `json:"failed"`
}

type explainFact struct {
	Fact   string `json:"fact"`
	Origin string `json:"origin"`
}

type explainRule struct {
	Source   string `json:"source"`
	Position string `json:"position"`
}

func (r *explainRule) String() string {
	if r.Position == "" {
		return r.Source
	}
	return r.Source + "  (" + r.Position + ")"
}

// headMismatch starts the failure of a rule whose head cannot match the
// goal; such tries are summarised, not listed.
const headMismatch = "the rule head does not match"

// printExplanation renders raw as an indented tree; what it cannot decode
// it prints as JSON.
func printExplanation(w io.Writer, raw json.RawMessage) {
	var x explanation
	if err := json.Unmarshal(raw, &x); err != nil || x.Goal == "" {
		fmt.Fprintf(w, "explanation: %s\n", raw)
		return
	}
	writeExplanation(w, &x, 0)
}

func writeExplanation(w io.Writer, x *explanation, depth int) {
	ind := strings.Repeat("  ", depth)
	switch {
	case x.Fact != nil:
		fmt.Fprintf(w, "%s%s  [%s fact]\n", ind, x.Goal, x.Fact.Origin)
		return
	case x.Holds:
		fmt.Fprintf(w, "%s%s\n", ind, x.Goal)
	default:
		fmt.Fprintf(w, "%s%s  does not hold\n", ind, x.Goal)
	}
	if x.Rule != nil {
		fmt.Fprintf(w, "%s  by %s\n", ind, x.Rule)
	}
	for _, p := range x.Premises {
		writeExplanation(w, p, depth+1)
	}
	shown := 0
	for _, t := range x.Tried {
		if strings.HasPrefix(t.Failed, headMismatch) {
			continue
		}
		shown++
		rule := "a rule"
		if t.Rule != nil {
			rule = t.Rule.String()
		}
		fmt.Fprintf(w, "%s  tried %s\n", ind, rule)
		if t.Failed != "" {
			fmt.Fprintf(w, "%s    failed at %s\n", ind, t.Failed)
		}
		for _, p := range t.Premises {
			writeExplanation(w, p, depth+2)
		}
	}
	if !x.Holds && x.Rule == nil && shown == 0 {
		fmt.Fprintf(w, "%s  no fact, and no rule whose head matches\n", ind)
	}
}
