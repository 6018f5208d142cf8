// Package policy is the lifecycle of a Castellan policy, shared by the HTTP
// API, the --policy file watcher and the offline CLI.
//
// The pipeline: policy files (File) are compiled by lang.Compile into a
// checked program, an evaluator is built on it and the policy's test blocks
// run, each against an isolated fact source (Compile). The result is an
// immutable *Compiled: version, files, digest, program, evaluator and the
// fact validator of writes under it. A policy that does not compile is an
// ast.ErrorList; one whose tests fail a *TestsFailedError. CompileOnly skips
// the tests (for versions that passed them when they were saved); Validate
// runs both and reports what it found as data (errors, warnings, each
// test's result) for an editor, saving nothing.
//
// A Manager keeps the live policy of one server: it loads the store's live
// version at start, loads new uploads (Load: validate, compile, test, save,
// make live; an unchanged upload changes nothing), makes a stored version
// live again (Activate: rollback), compiles older versions on demand
// (Version) and follows the versions other replicas on the same database
// make live (Sync, Follow). Requests in flight keep the *Compiled they
// started with: the live policy is swapped whole.
//
// Before a load goes live, the guard refuses a policy that would deny
// everything or orphan every stored fact (unless forced), and the data
// check (CheckData) reports the stored facts the policy cannot use, per
// predicate: facts of a predicate no rule uses, and facts that do not
// type-check; LoadResult.Data carries the report, and Strict refuses such
// a load. The check counts facts per predicate from the snapshot
// (store.PredicateCounter) and reads only the facts it must.
//
// Only this package compiles policies (internal/layering enforces it).
package policy
