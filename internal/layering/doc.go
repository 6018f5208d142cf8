// Package layering holds no code of its own: its tests enforce the one-way
// dependency direction of Castellan's packages (lang → evaluator, store →
// policy → server → cmd; clients/go standalone; audit, the
// decision log, on the standard library only: its PostgreSQL sink lives in
// store/postgres, which may import audit), using `go list`; that lang,
// evaluator and policy stay free of the wire format (no encoding/json or
// net/http, no json tags); and that only package policy compiles policies
// (lang.Compile, lang.Check, evaluator.New), by reading the module's
// non-test Go files.
package layering
