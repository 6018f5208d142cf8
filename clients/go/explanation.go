package castellan

// Explanation is the server's derivation of a decision, returned with
// WithExplain.
//
// For a goal that holds it names the fact that proves it (Fact) or the rule
// (Rule) and the premises its body needed (Premises). For a goal that does
// not hold it lists the rules tried (Tried); each tried rule names the
// premise that failed (Failed) and, when that premise is a call, why it
// failed (Premises, one entry). A goal that holds but whose derivation is
// too large to explain has Holds set and says so in Failed.
type Explanation struct {
	Goal     string         `json:"goal"`
	Holds    bool           `json:"holds"`
	Fact     *FactUse       `json:"fact,omitempty"`
	Rule     *RuleUse       `json:"rule,omitempty"`
	Premises []*Explanation `json:"premises,omitempty"`
	Tried    []*Explanation `json:"tried,omitempty"`
	Failed   string         `json:"failed,omitempty"`
	// Notes, on the root of a denial, name what of the question the policy
	// knows nothing of, with the nearest name it knows ("the policy knows
	// no type Repositry: did you mean Repository?").
	Notes []string `json:"notes,omitempty"`
}

// FactUse is a fact a derivation used.
type FactUse struct {
	// Fact is the fact in Polar syntax.
	Fact string `json:"fact"`
	// Origin is OriginStored or OriginContext.
	Origin string `json:"origin"`
}

// Origins of a FactUse.
const (
	OriginStored  = "stored"  // a stored fact
	OriginContext = "context" // a context fact sent with the question
)

// RuleUse is a rule a derivation used or tried.
type RuleUse struct {
	// Source is the rule as written (the shorthand rule for desugared ones).
	Source string `json:"source"`
	// Position is file:line:col, or empty for rules with no place in the
	// policy's text.
	Position string `json:"position,omitempty"`
}
