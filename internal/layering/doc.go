// Package layering holds no code of its own: its test enforces the one-way
// dependency direction of Castellan's packages (lang → evaluator, store →
// server → cmd; clients/go standalone), using `go list`.
package layering
