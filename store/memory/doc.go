// Package memory is Castellan's embedded store and the home of the indexed
// fact set that both stores read from.
//
// Index interns values to integers, keeps facts in one table per
// (predicate, arity) with a posting list per (argument position, value),
// and versions every record with the revisions that added and removed it
// (multi-version concurrency control), so a Snapshot at one revision stays
// readable and consistent while writers proceed. Store wraps an Index with a
// change log, policy versions and API keys; it is the default store of
// `castellan serve` when no database is configured. store/postgres keeps an
// Index too, following its change log.
package memory
