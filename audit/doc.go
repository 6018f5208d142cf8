// Package audit is Castellan's decision log: one Record per decision the
// server answers, written as JSON lines that form a hash chain, to a Sink
// (a rotated file, standard output), by a Recorder that never makes a
// decision wait for the disk.
//
// The pipeline: a handler builds a Record and calls Recorder.Record, which
// puts it in a bounded buffer before the decision is answered (when the
// buffer is full the Recorder blocks, or drops and counts, per
// Options.WhenFull). One writer goroutine takes records in order, gives
// each the next sequence number and the SHA-256 of the previous line
// (Genesis for the first), encodes it canonically (Encode) and hands the
// line to the sink. With a signing key it also writes checkpoint records:
// an Ed25519 signature over the sequence number and hash of the record
// before it, every Options.CheckpointEvery records or
// Options.CheckpointInterval, and a final one when the Recorder is closed.
//
// Verify reads a log back (rotated files in chain order) and reports the
// first bad line and why: bad JSON, an edited record (its hash is not the
// next record's prev), deleted records (a gap in the sequence), reordered
// records, a bad signature, and, when the log has checkpoints or a public
// key is given, a truncated tail: a log that does not end with a final
// checkpoint. Without signed checkpoints a removed tail cannot be told from
// a log that ended there; with them, records after the last checkpoint are
// reported as unverified.
//
// The package depends only on the standard library: the server fills in
// records, the CLI verifies them.
package audit
