// Package layering holds no code of its own: its test enforces the one-way
// dependency direction of Castellan's packages (lang → evaluator, store →
// server → cmd; clients/go standalone), using `go list`, and that lang and
// evaluator stay free of the wire format (no encoding/json or net/http, no
// json tags).
package layering
