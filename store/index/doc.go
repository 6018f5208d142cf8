// Package index is the indexed fact set that Castellan's stores read from:
// the stored facts held in memory, interned and indexed for
// store.Snapshot.Match, under multi-version concurrency control.
// store/memory is built on it, and store/postgres keeps one that follows
// its change log; this package knows nothing of either, of SQL, or of the
// evaluator.
//
// The pipeline of a write: a store validates and normalizes a batch
// (store.Prepare), then applies it to an Index as one revision with Apply
// (a revision chosen by the caller, e.g. the database's) or ApplyNext (the
// revision after the current one), or fact by fact through Begin, Tx.Insert
// (Tx.InsertAll for many), Tx.Delete and Tx.Commit. Nothing is visible
// before Commit, and everything at once after it. A batch's inserts take the
// index's lock once per 1,024 facts, not once per fact.
//
//   - Interning: every argument value is given a uint32 id the first time it
//     is stored (the type names are interned too), so a record is a row of
//     ids and comparing arguments compares integers. The interner holds no
//     pointers: its entries are in chunks, id strings are copied into
//     shared byte arenas, and its hash table keeps 32 bits of each value's
//     hash beside its id, so a lookup compares strings only on a hash match.
//     A value is counted by
//     the records (live, or dead and not compacted yet) and retained changes
//     that use it; with the last one it is freed and its id reused, so
//     churn does not grow the index (PruneChanges bounds the change log);
//     the arenas are copied anew once freed bytes outnumber live ones.
//   - Posting lists: facts live in one table per (predicate, arity), which
//     is how Match finds the facts of a predicate; a table has one posting
//     list per (argument position, value id), ascending record numbers, and
//     Match walks the shortest list among the bound positions. A position's
//     lists are mostly frozen into one flat array; the records added since
//     are in small per-list slices until they are a quarter of the frozen
//     ones, when the lists are frozen again. A value's slot in the
//     position's hash table says where its frozen list is (a list of one
//     record is in the slot itself), so finding a list reads one slot. A
//     set of the live records keyed by their ids, one word a slot with 32
//     bits of the hash, makes inserts idempotent, ground deletes direct and
//     a ground question one cache line of slots.
//   - MVCC records: a record carries the revision that added it and the one
//     that removed it; a Snapshot at revision r sees the records with
//     added <= r < removed. Records are stored in chunks of 4,096 (so a
//     table grows without copying) in revision order, so the revisions that
//     added them are kept as runs (a revision sees a prefix of the table)
//     and the removed ones as a bit each plus a map of their revisions. Writers never change what an existing Snapshot
//     sees, so readers take no part in a write and a Snapshot never shows
//     half a batch.
//   - Snapshots: Index.Snapshot returns the view at the latest revision,
//     shared by every caller until the next commit. Reachable snapshots are
//     counted per revision (released by runtime.AddCleanup once a snapshot
//     is garbage), which gives the oldest revision still readable.
//   - Reads on ids: besides Match on values, a Snapshot answers on the
//     interner's ids (evaluator.IDSource): Relation numbers a table,
//     Lookup gives a value's id, MatchIDs matches rows of ids (0: any
//     value) and Value reads an id back without the lock, through the
//     interner's storage as it was when the snapshot was made. A ground
//     pattern is one probe of the live set (falling back to the posting
//     lists only when a record of the table was removed after the
//     snapshot's revision, so that the snapshot may see a dead record); a
//     pattern whose shortest posting list is short is answered from that
//     list in one hold of the lock.
//     Ids hold while the snapshot is reachable; Generation tells the
//     snapshots apart for callers that keep ids between queries.
//   - Validity windows: a record may carry the window of its fact
//     (term.Window, as nanoseconds; a table keeps the two columns only
//     once one of its records has one). A Snapshot shows every record of
//     its revision; Snapshot.At gives the view at one instant, where Match
//     and Facts skip the records outside their window. Telling a stored
//     fact with another window replaces its record (a delete and an insert
//     in the change log). Tx.ExpireBefore (an Op's ExpiredBy) removes the
//     records whose window has ended, as an ordinary delete of a revision,
//     and compaction then drops them like any dead record.
//   - Compaction: at commit, a table whose dead records are more than a
//     quarter of it (and more than a minimum) is rebuilt without the records
//     that no reachable snapshot can see, keeping the order of the others.
//   - Change log: an index made WithChangeLog also logs each change that
//     stored or removed a fact, as varint-encoded ids in chunks (about 10
//     bytes per change of a 3-argument fact), for Changes. store/memory
//     serves its change log from it; store/postgres keeps its own in
//     PostgreSQL and does not ask for one.
//
// An Index is safe for concurrent use: one Tx at a time (Begin waits for
// the previous one to commit) and any number of readers.
package index
