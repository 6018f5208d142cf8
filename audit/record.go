package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Genesis is the prev of the first record of a chain: 64 zeros, the hex
// form of a SHA-256 no line has.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// Kinds of record.
const (
	KindDecision   = "decision"
	KindCheckpoint = "checkpoint"
)

// Value is an actor or a resource as asked: a type and an id.
type Value struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// Record is one line of the decision log. The writer sets Seq, Prev and
// Kind (and Time when it is zero); the server sets the rest. A field that
// does not apply to a decision is left zero and omitted from the line.
type Record struct {
	// Seq numbers the records of a chain from 1.
	Seq uint64 `json:"seq"`
	// Prev is the SHA-256 (hex) of the previous line's bytes, without
	// its newline; Genesis for the first record.
	Prev string    `json:"prev"`
	Kind string    `json:"kind"`
	Time time.Time `json:"time"`

	// RequestID is the request's X-Request-ID.
	RequestID string `json:"request_id,omitzero"`
	// Endpoint names the question: authorize, authorize_resources,
	// actions, bulk_actions, list, query, evaluate_query,
	// authzen.evaluation, authzen.evaluations, authzen.search.subject,
	// authzen.search.resource, authzen.search.action, local.authorize,
	// local.list, local.actions, ...
	Endpoint string `json:"endpoint,omitzero"`
	// Caller is the API key id (or "admin-key", "dev") that asked.
	Caller string `json:"caller,omitzero"`
	// OnBehalfOf is the user the caller asked for, when it said.
	OnBehalfOf string `json:"on_behalf_of,omitzero"`
	Actor      Value  `json:"actor,omitzero"`
	Action     string `json:"action,omitzero"`
	Resource   Value  `json:"resource,omitzero"`
	// Resources are the resources of a batch question
	// (authorize_resources, bulk forms).
	Resources []Value `json:"resources,omitzero"`
	// ResourceType is the type a list or search asked for.
	ResourceType string `json:"resource_type,omitzero"`
	// Query is a query asked, in its printed form.
	Query string `json:"query,omitzero"`

	// Allowed is the answer of a yes/no question.
	Allowed *bool `json:"allowed,omitzero"`
	// Count is the number of results of a list, a query or a batch.
	Count *int `json:"count,omitzero"`
	// Results are the results (ids, actions, answers) when the log keeps them.
	Results []string `json:"results,omitzero"`
	// Error is why the question had no answer.
	Error string `json:"error,omitzero"`

	PolicyVersion int64  `json:"policy_version"`
	Revision      uint64 `json:"revision"`
	// Latency is the time from the request's arrival to its answer.
	Latency time.Duration `json:"latency_ns"`

	// ContextFacts are the context facts sent (ContextAll).
	ContextFacts []string `json:"context_facts,omitzero"`
	// ContextFactsSHA256 is the SHA-256 of the context facts, one per
	// line (ContextHashed).
	ContextFactsSHA256 string `json:"context_facts_sha256,omitzero"`
	// Explanation is the derivation, when the request asked for one.
	Explanation any `json:"explanation,omitzero"`

	// Checkpoint is set on checkpoint records.
	Checkpoint *Checkpoint `json:"checkpoint,omitzero"`
}

// Pointers for Record.Allowed: no allocation per decision.
var (
	allowedTrue  = true
	allowedFalse = false
)

// Allowed returns a pointer to b for Record.Allowed.
func Allowed(b bool) *bool {
	if b {
		return &allowedTrue
	}
	return &allowedFalse
}

// Encode returns the canonical line of r, without its newline: the fields
// in the order of Record, times in RFC 3339 UTC, no HTML escaping. The
// hash chain is over these bytes, so a record must be encoded once.
func Encode(r *Record) ([]byte, error) {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	r.Time = r.Time.UTC()
	if err := e.Encode(r); err != nil {
		return nil, fmt.Errorf("encoding record %d: %w", r.Seq, err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Hash returns the SHA-256 of line (without its newline) in hex: the Prev
// of the record after it.
func Hash(line []byte) string {
	sum := sha256.Sum256(line)
	return hex.EncodeToString(sum[:])
}

// HashFacts returns the SHA-256 of facts, one per line, in hex: the
// ContextFactsSHA256 of a record.
func HashFacts(facts []string) string {
	h := sha256.New()
	for _, f := range facts {
		h.Write([]byte(f))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ContextMode says what a record keeps of the context facts sent.
type ContextMode string

// Context modes.
const (
	ContextAll    ContextMode = "all"    // every fact, printed
	ContextHashed ContextMode = "hashed" // their SHA-256 (HashFacts)
	ContextNone   ContextMode = "none"   // nothing
)

// ParseContextMode parses all, hashed or none.
func ParseContextMode(s string) (ContextMode, error) {
	switch m := ContextMode(s); m {
	case ContextAll, ContextHashed, ContextNone:
		return m, nil
	}
	return "", fmt.Errorf("context facts mode %q: want all, hashed or none", s)
}
