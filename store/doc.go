// Package store defines Castellan's fact store: the Store interface that
// keeps stored facts under monotonically increasing revisions, the Snapshot
// read view that the evaluator queries (it satisfies evaluator.Source), the
// change log, and optional capability interfaces for policy versions
// (PolicyStore), API keys (KeyStore) and clearing all facts (Clearer).
//
// The pipeline of a write: the caller hands Write an ordered batch of Ops;
// every inserted fact is normalized (term.Fact.Normalize) and checked by the
// caller's validator (WithValidator) before anything is written; the batch is
// then applied atomically, gets the next revision and is appended to the
// change log. A read asks Snapshot for a view at the latest revision, or at
// least at a revision the caller saw earlier (Consistency), and reads it with
// Match, Facts and Stats without further I/O.
//
// Implementations: store/memory (the embedded default) and store/postgres
// (production; it follows the change log). Both read from the in-memory
// indexed fact set of store/index, and both pass the conformance suite in
// store/storetest.
package store
