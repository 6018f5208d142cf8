package main

// Text rendering of a decision's explanation (authorize --explain).

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	castellan "github.com/castellan-authz/castellan/clients/go"
)

// ruleText renders a rule of an explanation with its position.
func ruleText(r *castellan.RuleUse) string {
	if r.Position == "" {
		return r.Source
	}
	return r.Source + "  (" + r.Position + ")"
}

// headMismatch starts the failure of a rule whose head cannot match the
// goal; such tries are summarised, not listed.
const headMismatch = "the rule head does not match"

// printExplanation renders x as an indented tree; one without a goal
// (not an explanation this CLI knows) it prints as JSON.
func printExplanation(w io.Writer, x *castellan.Explanation) {
	if x.Goal == "" {
		raw, _ := json.Marshal(x)
		fmt.Fprintf(w, "explanation: %s\n", raw)
		return
	}
	writeExplanation(w, x, 0)
	for _, n := range x.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

func writeExplanation(w io.Writer, x *castellan.Explanation, depth int) {
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
		fmt.Fprintf(w, "%s  by %s\n", ind, ruleText(x.Rule))
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
			rule = ruleText(t.Rule)
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
