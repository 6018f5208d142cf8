package evaluator

import "github.com/castellan-authz/castellan/lang/term"

// Source is the fact source a query reads: stored facts at one revision,
// possibly with one request's context facts layered on top (see Layer).
//
// Implementations must be safe for concurrent use and must not change while
// a query reads them (a Source is a snapshot). The fast implementation is
// the indexed fact set of store/index (the snapshots of both stores).
type Source interface {
	// Match calls yield with the arguments of every fact of predicate pred
	// that has exactly len(args) arguments and whose argument i equals
	// args[i] wherever args[i] is not the zero Value. The slice passed to
	// yield is valid only during that call and must not be modified.
	// Iteration stops early when yield returns false. Each matching fact is
	// yielded once; the order is unspecified.
	Match(pred string, args []term.Value, yield func(args []term.Value) bool)

	// Revision is the store revision the source reflects.
	Revision() uint64
}

// IDSource is a Source whose values have integer ids (the snapshots of
// store/index, and a Layer over one): the evaluator then resolves each
// predicate to a relation number and each value to an id once per query,
// matches facts on ids, and turns an id back into a value only for the
// facts it reads. Where a pattern leaves an argument free its id is 0,
// the one wildcard of this interface.
//
// Ids are stable only while the source is reachable (a store frees the id
// of a value no fact holds any more, and reuses it), so the evaluator
// keeps none past the query it was resolved for.
type IDSource interface {
	Source

	// Relation returns the number of the facts of pred with arity
	// arguments, for MatchIDs, or -1 when the source has none.
	Relation(pred string, arity int) int

	// Lookup returns the id of v, never 0, or false when no fact of the
	// source holds v (then no fact matches a pattern holding v).
	Lookup(v term.Value) (uint32, bool)

	// MatchIDs calls yield with the argument ids of every fact of
	// relation rel whose argument i is ids[i] wherever ids[i] is not 0;
	// len(ids) is the relation's arity. The slice passed to yield must not
	// be modified or kept. Iteration stops early when yield returns
	// false; each matching fact is yielded once. yield may call MatchIDs
	// again.
	MatchIDs(rel int, ids []uint32, yield func(ids []uint32) bool)

	// Value returns the value of an id that MatchIDs yielded or Lookup
	// returned.
	Value(id uint32) term.Value

	// Generation identifies the source's ids: sources of the same
	// non-zero generation give a value the same id (or none), so the
	// evaluator resolves the program's constants once per generation. 0:
	// the ids hold for this source only.
	Generation() uint64
}
