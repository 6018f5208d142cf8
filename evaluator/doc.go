// Package evaluator answers authorization queries over a checked policy
// (a *lang.Program) and a fact Source.
//
// The pipeline is: New compiles the program once (rule bodies are put in
// disjunctive normal form, `matches` literals become type constraints on
// variables, and for every rule a plan is computed per binding pattern of
// its head, ordering body literals so that the most-bound literal runs
// first); each query then borrows pooled per-request state (a solver) and
// evaluates top-down with memoization (tabling): every call of a rule-backed
// predicate with a given pattern of bound arguments is solved once per
// request, and recursive calls are iterated to a fixpoint, so that cycles in
// the data terminate.
//
// A head variable that a rule body leaves unbound is a wildcard: the answer
// holds for any value (of the variable's type constraint). Wildcards are
// carried through evaluation and reported as such (ListResult.Wildcard, a
// nil in a query Row); they are never expanded into every value of a type.
//
// Authorize, Actions, List and Query are the entry points the HTTP server
// uses; RunTests runs a policy's test blocks against an isolated source.
// Every query is bounded by Limits (recursion depth and work) and by its
// context.
package evaluator
