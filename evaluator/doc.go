// Package evaluator answers authorization queries over a checked policy
// (a *lang.Program) and a fact Source.
//
// The pipeline is: New compiles the program once (rule bodies are put in
// disjunctive normal form, `matches` literals become type constraints on
// variables, rules are indexed by the constants in their heads, and for
// every rule a plan is computed per binding pattern of its head, ordering
// body literals so that the most-bound literal runs first); each query then
// borrows pooled per-request state (a solver) and evaluates top-down with
// memoization (tabling): every call of a rule-backed predicate with a given
// pattern of bound arguments (and type of the unbound ones) is solved once
// per request, and recursive calls are iterated to a fixpoint by the leader
// of their strongly connected component, so that cycles in the data
// terminate.
//
// A head variable that a rule body leaves unbound is a wildcard: the answer
// holds for any value (of the variable's type constraint). Wildcards are
// carried through evaluation and reported as such (ListResult.Wildcard, a
// nil in a query Row); they are never expanded into every value of a type.
// An answer in which several arguments are one unbound variable (p(x, x))
// records that they are equal. Negation is by failure over bound values;
// over a wildcard that nothing after it reads, `not G` asks whether some
// value falsifies G (it does unless G holds for every value), and over a
// wildcard the rule returns it is conservative: it fails when any value
// satisfies G, since "every value but these" cannot be returned.
//
// The entry points are Authorize (one ground question, with its
// derivation on request), AuthorizeEach (one actor and action over many
// resources), AuthorizeBatch (any checks in one evaluation, each answered
// as alone, with its own error), Actions, ActionsEach, List and ListEach (walking from the bound actor
// outward, lazily: the calls outside every table are unfolded rather than
// tabled, so that answers stream and a page costs what it returns; a
// paged walk is suspended between pages and kept in Cursors, its token
// pinning the revision), Query and QueryValues (any predicate with variables), and
// Residual (partial evaluation: what only facts held elsewhere can decide,
// for local authorization); RunTests runs a policy's test blocks against an
// isolated source. Every query is bounded by Limits (recursion depth and
// work) and by its context. A chain of recursive calls deeper than the
// depth limit is not an error: past half the limit a new subgoal is
// generalized against the innermost active table of its predicate (the
// arguments that differ become wildcards), so the chain is one table
// iterated to its fixpoint, rather than one nested table per link.
//
// Facts are read from the Source on integer ids when it is an IDSource
// (the store's snapshots, and a Layer over one): a query resolves its
// values, and a snapshot generation the program's constants and
// predicates, to ids once, and the facts come back as ids (see ids.go);
// other sources are matched on values.
package evaluator
