package castellan

import (
	"fmt"
	"strings"
	"time"
)

// Error is an error answered by the server: a non-2xx response decoded from
// its envelope {"message": ..., "code": ..., "details": [...]}.
type Error struct {
	// StatusCode is the HTTP status of the response.
	StatusCode int
	// Message is the server's message (what Oso SDKs show).
	Message string
	// Code is a machine-readable code such as "invalid_policy" or
	// "tests_failed"; empty when the server sent none.
	Code string
	// RequestID is the X-Request-ID of the request, for the server's logs.
	RequestID string
	// Details carries positioned policy errors and failed tests.
	Details []ErrorDetail

	retryAfter time.Duration // from Retry-After, for 409 and 429
}

// ErrorDetail is one entry of an error's details: a policy error with its
// position and hint, a failed policy test, or (code "unusable_facts") the
// stored facts of one predicate a strict upload would leave unusable.
type ErrorDetail struct {
	Test    string `json:"test,omitempty"`
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Message string `json:"message,omitempty"`
	Hint    string `json:"hint,omitempty"`
	// Predicate, Arity, Count, Unused and Sample describe unusable facts
	// (see UnusableFacts).
	Predicate string   `json:"predicate,omitempty"`
	Arity     int      `json:"arity,omitempty"`
	Count     int      `json:"count,omitempty"`
	Unused    bool     `json:"unused,omitempty"`
	Sample    []string `json:"sample,omitempty"`
}

// Error returns the message with the status, code and request id.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("castellan: ")
	b.WriteString(e.Message)
	fmt.Fprintf(&b, " (status %d", e.StatusCode)
	if e.Code != "" {
		fmt.Fprintf(&b, ", code %s", e.Code)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, ", request id %s", e.RequestID)
	}
	b.WriteByte(')')
	return b.String()
}

// String renders d as file:line:col: message, followed by its hint.
func (d ErrorDetail) String() string {
	var b strings.Builder
	if d.Test != "" {
		fmt.Fprintf(&b, "test %q: ", d.Test)
	}
	if d.File != "" || d.Line > 0 {
		fmt.Fprintf(&b, "%s:%d:%d: ", d.File, d.Line, d.Column)
	}
	if d.Predicate != "" {
		fmt.Fprintf(&b, "%s/%d: %d facts", d.Predicate, d.Arity, d.Count)
		if len(d.Sample) > 0 {
			fmt.Fprintf(&b, " (e.g. %s)", d.Sample[0])
		}
		b.WriteString(": ")
	}
	b.WriteString(d.Message)
	if d.Hint != "" {
		b.WriteString("\n\thint: ")
		b.WriteString(d.Hint)
	}
	return b.String()
}
