// Package memory is Castellan's embedded store, the default of
// `castellan serve` when no database is configured.
//
// Store keeps its facts in an index.Index (see store/index: interned
// values, posting lists, records versioned by revision) made with its
// change log, so Write applies a validated batch as the next revision,
// Snapshot and Head read the index, and Changes reads its log. Policy
// versions and API keys are kept beside it in plain slices and maps.
// Nothing is persisted: everything is gone when the process ends.
package memory
