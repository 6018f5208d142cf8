// Package storetest is the conformance suite that every store.Store
// implementation passes: Run(t, newStore) checks ordering and atomicity of
// batches, wildcard deletes, idempotent inserts, revisions and consistency,
// snapshot isolation under concurrent writers, the change log, Match, Facts
// and Stats, clearing, policy versions with rollback, and API keys.
//
// It also generates the deterministic data sets that store benchmarks use
// (GitHubFacts).
package storetest
