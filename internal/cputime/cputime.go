// Package cputime reads the CPU time a thread or the process has used, so
// that benchmarks can report CPU time per operation: other work on a busy
// machine inflates it far less than wall time. It imports nothing of
// Castellan.
package cputime
