// Package evaltest holds a GitHub-like policy and a deterministic fact
// generator shared by the benchmarks of the evaluator, the stores and the
// HTTP server, so that every layer is measured on the same model; and a
// policy of folders in folders with a generator of parent chains, for the
// tests of deep recursion.
package evaltest
