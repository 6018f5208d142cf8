// Package localauth implements Oso Cloud's local authorization: it turns a
// question into SQL that the application runs on its own database.
//
// The pipeline is: ParseBindings reads the data-bindings YAML (a fact
// signature per binding, such as has_relation(Issue:_, String:repository,
// Repository:_), with the SQL that returns one column per `_`), and
// Bindings.Check validates it against the live policy. The evaluator then
// partially evaluates the question (evaluator.Residual): predicates that
// have bindings are local, everything else (stored facts, context facts,
// rules) is decided by Castellan, and what is left is a union of
// conjunctions over local atoms, literal tables and recursive predicates.
// Compile turns that residual into one self-contained PostgreSQL text:
// one CTE per binding used (NOT MATERIALIZED, so PostgreSQL plans through
// it onto the application's indexes), stored and context facts inlined as
// VALUES, recursion as WITH RECURSIVE, every literal quoted.
//
// This is the only package that writes SQL text for applications.
package localauth
