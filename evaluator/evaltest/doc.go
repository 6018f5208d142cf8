// Package evaltest holds a GitHub-like policy and a deterministic fact
// generator shared by the benchmarks of the evaluator, the stores and the
// HTTP server, so that every layer is measured on the same model.
package evaltest
