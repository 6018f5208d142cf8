// Package postgres is Castellan's production store: PostgreSQL holds the
// facts, a change log, policy versions and API keys (schema in package
// migrations), and every Store keeps an in-memory indexed fact set
// (store/index, as store/memory does), following the change log, so a check
// does no SQL.
//
// A write is one transaction: it bumps the revision counter (whose row lock
// serializes writers, so revisions commit in order), deletes and inserts
// facts (large inserts through COPY, in binary rows encoded here), appends
// what actually changed to the change log, and announces the revision with
// pg_notify. Concurrent writes are committed in groups, one transaction
// for many batches; a group without COPY is sent in one round trip (one
// pgx batch, run by PostgreSQL as one implicit transaction), its revisions
// numbered from the index's and checked against the counter, and a group
// of inserts only (without windows) is one INSERT for all its batches. The facts table has no index on arguments: a delete by a bound
// id finds the keys of the facts it matches in the in-memory index (which
// holds exactly the stored facts once the writer holds the row lock). Open
// loads every fact into the index in one repeatable-read transaction (one
// binary COPY in insertion order, decoded and inserted in a pipeline,
// logging its progress); a follower
// goroutine then listens for notifications on its own connection and reads
// the change log (also every PollInterval, in case a notification is lost),
// applying it one revision at a time. Two stores on one database see each
// other's writes this way. When PostgreSQL is unreachable, snapshots keep
// answering from the index, writes fail with store.ErrUnavailable, and the
// follower reconnects with backoff.
//
// With Options.ReadURL the index is loaded from, and the follower polls, a
// hot standby instead (a standby cannot LISTEN). With
// Options.ChangeRetention the store prunes old revisions from the change
// log; a follower whose index fell behind the pruned revisions reloads it
// from the facts.
package postgres
