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
