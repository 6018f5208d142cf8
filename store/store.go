package store

import (
	"context"
	"fmt"
	"iter"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/castellan-authz/castellan/lang/term"
)

// Revision numbers the committed states of a store. It grows by one with
// every committed batch; revision 0 is the empty store before any write.
// It is an alias so that Snapshot.Revision() uint64 satisfies
// evaluator.Source.
type Revision = uint64

// Op is one changeset of a batch. Its Delete patterns are applied first,
// then its Insert facts (as POST /api/bulk: deletes before tells). A batch
// ([]Op) is applied in order and atomically.
type Op struct {
	// Insert holds ground facts to store. Inserting a fact that is already
	// stored changes nothing (a fact is stored at most once).
	Insert []term.Fact
	// Delete holds patterns; every stored fact matching one is removed
	// (see term.Pattern for wildcards). A pattern that matches nothing is
	// not an error. A wildcard-free pattern removes at most one fact.
	Delete []term.Pattern
	// ExpiredBy, when not zero, removes every stored fact whose validity
	// window ended at or before it, before the Delete patterns apply
	// (see Expirer).
	ExpiredBy time.Time
}

// Consistency says how fresh a snapshot must be.
type Consistency struct {
	// AtLeast is the oldest acceptable revision; zero means "latest".
	AtLeast Revision
}

// Snapshot is a consistent read view of the stored facts at one revision.
// It never shows part of a batch and never changes, whatever writers do
// meanwhile. It implements evaluator.Source and is safe for concurrent use.
//
// A snapshot that a Store returns shows every stored fact whatever its
// validity window (term.Window): that is the view of backups, exports and
// stats. A question reads the snapshot At one instant, read once from its
// clock, so that all of it sees the same facts hold.
type Snapshot interface {
	// At returns the view of the snapshot at the instant now: Match and
	// Facts show only the facts whose window contains now. It is cheap
	// (the snapshot itself when no fact of it has a window).
	At(now time.Time) Snapshot

	// Match calls yield with the arguments of every fact of predicate pred
	// that has exactly len(args) arguments and whose argument i equals
	// args[i] wherever args[i] is not the zero Value. The slice passed to
	// yield is valid only during that call and must not be modified.
	// Iteration stops when yield returns false. Each matching fact is
	// yielded once, in no particular order. yield may call Match again.
	Match(pred string, args []term.Value, yield func(args []term.Value) bool)

	// Revision is the revision the snapshot reflects.
	Revision() uint64

	// Facts returns the stored facts matching p, ordered by predicate, then
	// arity, then the order in which they were stored. The facts yielded
	// belong to the caller.
	Facts(p term.Pattern) iter.Seq[term.Fact]

	// Stats counts the stored facts.
	Stats() Stats
}

// PredicateCount is how many facts of one predicate (name and arity) a
// snapshot holds.
type PredicateCount struct {
	Predicate string
	Arity     int
	Facts     int
}

// PredicateCounter is implemented by snapshots that count their facts per
// predicate without reading them (store/index). PredicateCounts lists
// every predicate with at least one fact, ordered by predicate, then
// arity.
type PredicateCounter interface {
	PredicateCounts() []PredicateCount
}

// Stats counts the facts of a snapshot (GET /api/stats).
type Stats struct {
	// Facts is the number of stored facts.
	Facts int
	// Roles is the number of has_role facts.
	Roles int
	// Relations is the number of has_relation facts.
	Relations int
}

// ChangeOp says whether a change stored or removed a fact.
type ChangeOp uint8

// The change operations.
const (
	// OpInsert records a fact that was stored.
	OpInsert ChangeOp = iota + 1
	// OpDelete records a fact that was removed.
	OpDelete
)

// String returns "insert" or "delete".
func (o ChangeOp) String() string {
	switch o {
	case OpInsert:
		return "insert"
	case OpDelete:
		return "delete"
	}
	return "unknown"
}

// Change is one entry of the change log: a fact that a committed batch
// actually stored or removed. Inserting a fact already stored, or deleting
// with a pattern that matches nothing, leaves no change.
type Change struct {
	// Revision is the revision of the batch that made the change.
	Revision Revision
	// Op says whether Fact was stored or removed.
	Op ChangeOp
	// Fact is the (normalized) fact.
	Fact term.Fact
}

// Store keeps stored facts under revisions. Implementations are safe for
// concurrent use.
type Store interface {
	// Write applies batch atomically and returns the revision it committed.
	// Before anything is written, every inserted fact is normalized
	// (term.Fact.Normalize) and passed to the validators of opts; if one
	// fails, nothing is written and the error is an *InvalidFactError
	// (errors.Is(err, ErrInvalidFact)). Every successful Write gets a new
	// revision, also one that changes nothing (an empty batch included).
	// Errors: ErrInvalidFact, ErrUnavailable (the backend cannot be
	// reached; nothing was written), ErrClosed, or the context's error.
	Write(ctx context.Context, batch []Op, opts ...WriteOption) (Revision, error)

	// Snapshot returns a read view at the latest revision the store knows,
	// which is at least c.AtLeast. When the store has not reached
	// c.AtLeast yet, Snapshot waits, bounded by ctx and by the store's wait
	// timeout, and then fails with ErrRevisionUnavailable. Reading the
	// snapshot does no I/O, and a snapshot stays valid after writes.
	Snapshot(ctx context.Context, c Consistency) (Snapshot, error)

	// Head returns the latest committed revision. For a store that follows
	// another (store/postgres) it is the revision of the source of truth,
	// which may be ahead of the snapshots it serves. Errors: ErrUnavailable,
	// ErrClosed.
	Head(ctx context.Context) (Revision, error)

	// Changes returns up to limit changes with a revision greater than
	// since, in commit order (by revision, then the order within the
	// batch). limit <= 0 means no limit. All changes of a revision are
	// returned together unless limit cuts them. Errors: ErrPruned (the
	// log no longer reaches back to since: a store with a retention
	// pruned it), ErrUnavailable, ErrClosed.
	Changes(ctx context.Context, since Revision, limit int) ([]Change, error)

	// Close releases the store's resources. Snapshots taken earlier stay
	// readable; every other method then fails with ErrClosed.
	Close() error
}

// PastReader is implemented by stores that can read a past revision
// exactly (both stores: their index keeps the records a recent revision
// saw until compaction drops them): what pins the revision of a list's
// pages.
type PastReader interface {
	// SnapshotAt returns a snapshot at exactly revision rev. It waits, as
	// Snapshot does, for a revision the store has not reached yet (another
	// replica's write); a revision the store can no longer read returns an
	// error wrapping ErrRevisionGone.
	SnapshotAt(ctx context.Context, rev Revision) (Snapshot, error)
}

// Clearer is implemented by stores that can remove every fact at once
// (POST /api/clear_data). Clear commits one revision, like Write.
type Clearer interface {
	Clear(ctx context.Context) (Revision, error)
}

// Expirer is implemented by stores that can remove expired facts: Expire
// deletes, in one committed revision (logged in the change log like any
// delete), every fact whose window ended at or before now, and returns
// that revision and how many facts it removed. When none has expired it
// writes nothing and returns (0, 0, nil). A snapshot At an instant after a
// window's end never shows its fact, so expiring only reclaims space;
// the server calls it periodically (--expire-interval).
type Expirer interface {
	Expire(ctx context.Context, now time.Time) (Revision, int, error)
}

// ClearBatch returns a batch that deletes every stored fact.
func ClearBatch() []Op {
	return []Op{{Delete: []term.Pattern{{AnyArity: true}}}}
}

// WriteOption configures one Write.
type WriteOption func(*WriteOptions)

// WriteOptions is the result of applying WriteOptions; stores read it with
// NewWriteOptions.
type WriteOptions struct {
	// Validators run, in order, on every normalized inserted fact.
	Validators []func(term.Fact) error
}

// WithValidator adds a check that every inserted fact must pass (the server
// passes the live policy's CheckFact). Its error is wrapped in an
// *InvalidFactError.
func WithValidator(v func(term.Fact) error) WriteOption {
	return func(o *WriteOptions) {
		if v != nil {
			o.Validators = append(o.Validators, v)
		}
	}
}

// NewWriteOptions applies opts.
func NewWriteOptions(opts ...WriteOption) WriteOptions {
	var o WriteOptions
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// Prepare validates batch for Write: it returns a copy in which every
// inserted fact is normalized (term.Fact.Normalize; its strings must also
// be valid UTF-8 without NUL characters) and has passed the validators, or an
// *InvalidFactError naming the first bad fact (its Index counts inserted
// facts across the whole batch, from 0). The caller's batch is not
// modified; the copy's Insert slices are new (a store may reorder them),
// but a fact already in canonical form shares its Args with the caller's,
// so neither side may change those elements.
func Prepare(batch []Op, opts ...WriteOption) ([]Op, error) {
	return prepare(batch, false, opts...)
}

// prepare is Prepare; with share, an op whose facts are all canonical
// keeps its Insert slice (PrepareBatch).
func prepare(batch []Op, share bool, opts ...WriteOption) ([]Op, error) {
	o := NewWriteOptions(opts...)
	out := make([]Op, len(batch))
	index := 0
	for i, op := range batch {
		out[i].Delete = normalizePatterns(op.Delete)
		out[i].ExpiredBy = op.ExpiredBy
		if len(op.Insert) == 0 {
			continue
		}
		var ins []term.Fact // nil while every fact is kept as it is
		for j, f := range op.Insert {
			n, err := normalizeFact(f)
			if err == nil {
				err = checkText(n)
			}
			if err == nil {
				for _, v := range o.Validators {
					if err = v(n); err != nil {
						break
					}
				}
			}
			if err != nil {
				return nil, &InvalidFactError{Index: index, Fact: f, Err: err}
			}
			if ins == nil && (!share || !sameFact(n, f)) {
				ins = make([]term.Fact, len(op.Insert))
				copy(ins, op.Insert[:j])
			}
			if ins != nil {
				ins[j] = n
			}
			index++
		}
		if ins == nil {
			ins = op.Insert // every fact was canonical: shared, not copied
		}
		out[i].Insert = ins
	}
	return out, nil
}

// sameFact reports whether normalizeFact returned f itself.
func sameFact(n, f term.Fact) bool {
	return n.Predicate == f.Predicate && n.Valid == f.Valid && len(n.Args) == len(f.Args) &&
		(len(f.Args) == 0 || &n.Args[0] == &f.Args[0])
}

// Prepared is a batch that Prepare validated and normalized, for a
// PreparedWriter. It shares with the batch it was prepared from what
// needed no change: the Args of canonical facts, and an op's Insert slice
// when all its facts are canonical (the common case of a bulk load, which
// then copies nothing). Neither it nor that batch may be changed until
// the write returns.
type Prepared struct {
	ops   []Op
	extra any // a store's own preparation (BatchPreparer)
}

// Ops returns the prepared operations. They must not be modified.
func (p Prepared) Ops() []Op { return p.ops }

// WithExtra returns p carrying x, the work a BatchPreparer did on the
// batch besides Prepare (for its WritePrepared).
func (p Prepared) WithExtra(x any) Prepared {
	p.extra = x
	return p
}

// Extra returns what WithExtra set, or nil.
func (p Prepared) Extra() any { return p.extra }

// PrepareBatch is Prepare, returning the batch as a Prepared for
// PreparedWriter.WritePrepared (sharing more, see Prepared).
func PrepareBatch(batch []Op, opts ...WriteOption) (Prepared, error) {
	ops, err := prepare(batch, true, opts...)
	return Prepared{ops: ops}, err
}

// PreparedWriter is implemented by stores whose Write is Prepare followed
// by applying the prepared batch, so that a bulk loader can validate one
// batch while the previous one is applied (see server's import).
// WritePrepared applies p atomically, like Write with the options p was
// prepared with, and changes nothing in it.
type PreparedWriter interface {
	WritePrepared(ctx context.Context, p Prepared) (Revision, error)
}

// BatchPreparer is a PreparedWriter that does part of a batch's work when
// the batch is prepared (PrepareBatch, on the loader's reading goroutine)
// rather than when it is written: PostgreSQL computes and sorts the facts'
// keys there. Its PrepareBatch validates like store.PrepareBatch and
// fails the same way.
type BatchPreparer interface {
	PreparedWriter
	PrepareBatch(batch []Op, opts ...WriteOption) (Prepared, error)
}

// Policy is one stored version of the policy.
type Policy struct {
	// Version numbers the versions from 1, in upload order.
	Version int64
	// Files is the policy source, one entry per file.
	Files []PolicyFile
	// CreatedAt is when the version was saved.
	CreatedAt time.Time
	// CreatedBy names who saved it (an API key id or a user).
	CreatedBy string
	// Live reports whether this version is the one in force.
	Live bool
	// Source says where the version came from: PolicySourceUpload,
	// PolicySourceFile, PolicySourceGit, or "" for versions saved before
	// sources were recorded.
	Source string
	// Commit is the git commit hash of a version from git, else "".
	Commit string
	// TestCount is the number of test blocks the version ran (and passed)
	// when it was saved.
	TestCount int
	// Status is the version's place relative to the live one, filled in
	// by every read: PolicyLive, PolicyPrevious (older than the live
	// version) or PolicyRolledBack (newer: a rollback replaced it).
	Status PolicyStatus
}

// The sources of a policy version.
const (
	PolicySourceUpload = "upload" // POST /api/policy
	PolicySourceFile   = "file"   // serve --policy FILE
	PolicySourceGit    = "git"    // serve polling a git repository
)

// PolicyStatus is a version's place relative to the live version.
type PolicyStatus string

// The statuses of a policy version.
const (
	PolicyLive       PolicyStatus = "live"
	PolicyPrevious   PolicyStatus = "previous"
	PolicyRolledBack PolicyStatus = "rolled_back"
)

// StatusOf returns the status of version when live is the live version.
func StatusOf(version, live int64) PolicyStatus {
	switch {
	case version == live:
		return PolicyLive
	case version > live:
		return PolicyRolledBack
	default:
		return PolicyPrevious
	}
}

// ParsePolicyStatus returns the status s names, or false.
func ParsePolicyStatus(s string) (PolicyStatus, bool) {
	switch st := PolicyStatus(s); st {
	case PolicyLive, PolicyPrevious, PolicyRolledBack:
		return st, true
	}
	return "", false
}

// PolicyFilter selects versions for ListPolicies. Zero fields select
// everything.
type PolicyFilter struct {
	// Status keeps the versions of that status.
	Status PolicyStatus
	// Since and Until keep the versions created at or after Since and
	// before Until.
	Since, Until time.Time
	// Before keeps the versions numbered below it (the cursor of the next
	// page: the last version of the previous page).
	Before int64
	// Limit bounds the number of versions returned (0: no bound).
	Limit int
}

// Keeps reports whether f selects p (Limit aside); p.Status must be set.
func (f PolicyFilter) Keeps(p Policy) bool {
	return (f.Status == "" || p.Status == f.Status) &&
		(f.Since.IsZero() || !p.CreatedAt.Before(f.Since)) &&
		(f.Until.IsZero() || p.CreatedAt.Before(f.Until)) &&
		(f.Before <= 0 || p.Version < f.Before)
}

// PolicyFile is one file of a policy.
type PolicyFile struct {
	// Filename is the name the file was uploaded under (may be empty).
	Filename string
	// Src is the Polar source.
	Src string
}

// PolicyStore is implemented by stores that keep policy versions.
type PolicyStore interface {
	// SavePolicy stores p.Files, p.CreatedBy, p.Source, p.Commit and
	// p.TestCount as a new version and makes it live. It returns the
	// stored version (Version, CreatedAt, Live and Status filled in).
	SavePolicy(ctx context.Context, p Policy) (Policy, error)
	// LivePolicy returns the live version, or ErrNotFound when no policy
	// was ever saved.
	LivePolicy(ctx context.Context) (Policy, error)
	// GetPolicy returns one version, or ErrNotFound.
	GetPolicy(ctx context.Context, version int64) (Policy, error)
	// PolicyHistory returns every version, newest first.
	PolicyHistory(ctx context.Context) ([]Policy, error)
	// ListPolicies returns the versions f selects, newest first, without
	// their sources: each file has its Filename and an empty Src.
	ListPolicies(ctx context.Context, f PolicyFilter) ([]Policy, error)
	// ActivatePolicy makes an existing version live again (rollback) and
	// returns it; ErrNotFound when the version does not exist.
	ActivatePolicy(ctx context.Context, version int64) (Policy, error)
}

// Key is a stored API key. The secret itself is never stored, only its
// SHA-256 hash; the server hashes and compares.
type Key struct {
	// ID identifies the key; it is not secret.
	ID string
	// Name is a label chosen by the admin who created the key.
	Name string
	// Scope is what the key may do: "admin", "write" or "read".
	Scope string
	// Hash is the SHA-256 of the key's secret.
	Hash []byte
	// CreatedAt is when the key was created.
	CreatedAt time.Time
	// Caller, when not empty, is the caller identity the key is bound to,
	// as "Type:id" (e.g. "Service:billing"): its requests carry the
	// verified fact request_caller(Type{"id"}).
	Caller string
}

// KeyStore is implemented by stores that keep API keys. The keys are
// followed state, like facts: the store holds all of them in memory and
// keeps that copy current, so that authentication needs no database round
// trip and keeps working while the database is unreachable.
type KeyStore interface {
	// CreateKey stores k; ErrConflict when a key with its ID exists. Once
	// it returns, KeyByID on this store finds k; a store following the
	// same database (another replica) finds it within the follow lag.
	// Errors also: ErrUnavailable, ErrClosed.
	CreateKey(ctx context.Context, k Key) error
	// KeyByID returns a key, or ErrNotFound (also for an id that is not
	// valid UTF-8 or holds a NUL: no key can have it). It answers from the
	// store's followed copy of the keys, without I/O, also for an id that
	// does not exist (so guessing ids costs no database query) and also
	// while the database is unreachable. A key created or deleted through
	// another store on the same database is seen within the follow lag.
	// The only other error is ErrClosed.
	KeyByID(ctx context.Context, id string) (Key, error)
	// ListKeys returns every key, ordered by creation time, then ID, from
	// the same copy as KeyByID.
	ListKeys(ctx context.Context) ([]Key, error)
	// DeleteKey removes a key, or returns ErrNotFound (as KeyByID does).
	// Once it returns, KeyByID on this store no longer finds the key; on
	// other stores following the same database, within the follow lag.
	// Errors also: ErrUnavailable (nothing was deleted, or the outcome is
	// unknown and the follower applies it when the database is back),
	// ErrClosed.
	DeleteKey(ctx context.Context, id string) error
	// CountKeys returns the number of keys (of the same copy as KeyByID).
	CountKeys(ctx context.Context) (int, error)
}

// Backend is a store that keeps everything a Castellan server needs: facts
// (Store), policy versions (PolicyStore) and API keys (KeyStore). Both
// store/memory and store/postgres are Backends.
type Backend interface {
	Store
	PolicyStore
	KeyStore
}

// Follower is implemented by stores that answer from an in-memory index
// following a database (store/postgres), so that a server can report how
// far behind the index is, whether it can answer reads and whether it can
// take writes. Every method answers from state the follower keeps; none
// does I/O, so probes may call them as often as they like.
type Follower interface {
	// Lag returns how many revisions the index is behind the latest
	// database head the store has seen; 0 when it has caught up.
	Lag() uint64
	// Ready reports whether the store can answer reads at a known
	// revision: its index (and its copy of the API keys) is loaded and the
	// store is not closed. It stays true while the database is
	// unreachable: reads are then answered at the revision the index has.
	Ready() bool
	// Writable reports whether writes can reach the database, as far as
	// the follower knows: its own connection is up and its last catch-up
	// succeeded. It turns false when the follower loses the database and
	// true again once it has reconnected and caught up.
	Writable() bool
}

// StatsOf returns the Stats delta of adding (sign 1) or removing (sign -1)
// one fact of predicate pred.
func StatsOf(pred string, sign int) Stats {
	s := Stats{Facts: sign}
	switch pred {
	case "has_role":
		s.Roles = sign
	case "has_relation":
		s.Relations = sign
	}
	return s
}

// Add returns s plus d.
func (s Stats) Add(d Stats) Stats {
	return Stats{Facts: s.Facts + d.Facts, Roles: s.Roles + d.Roles, Relations: s.Relations + d.Relations}
}

// normalizePatterns returns ps with every fully given value (type and id)
// in canonical form, so that a pattern for Integer{"007"} finds 7. A value
// that does not normalize is kept: it matches nothing.
func normalizePatterns(ps []term.Pattern) []term.Pattern {
	if len(ps) == 0 {
		return ps
	}
	out := make([]term.Pattern, len(ps))
	for i, p := range ps {
		out[i] = p
		out[i].Args = make([]term.Value, len(p.Args))
		for j, a := range p.Args {
			if a.Type != "" && a.ID != "" {
				if n, err := term.Normalize(a); err == nil {
					a = n
				}
			}
			out[i].Args[j] = a
		}
	}
	return out
}

// normalizeFact is f.Normalize, but returns f itself (its Args not
// copied) when that would change nothing: every argument normalizes to
// itself and f has no validity window. That is the common case of a bulk
// load, which then costs no allocation per fact.
func normalizeFact(f term.Fact) (term.Fact, error) {
	if f.Predicate == "" || len(f.Args) == 0 || !f.Valid.IsZero() {
		return f.Normalize()
	}
	for _, a := range f.Args {
		if n, err := term.Normalize(a); err != nil || n != a {
			return f.Normalize()
		}
	}
	return f, nil
}

// plainText reports whether s is ASCII without NUL: valid UTF-8 without a
// NUL character, found without decoding (most ids are).
func plainText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == 0 || c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// checkText refuses a fact whose predicate, types or ids are not valid
// UTF-8 or contain a NUL character: no store could keep it faithfully
// (PostgreSQL text refuses both).
func checkText(f term.Fact) error {
	ok := func(s string) bool { return plainText(s) || utf8.ValidString(s) && !strings.ContainsRune(s, 0) }
	if !ok(f.Predicate) {
		return fmt.Errorf("%w: predicate is not valid UTF-8 or contains a NUL character", term.ErrInvalidValue)
	}
	for i, a := range f.Args {
		if !ok(a.Type) || !ok(a.ID) {
			return fmt.Errorf("%w: %s argument %d is not valid UTF-8 or contains a NUL character", term.ErrInvalidValue, f.Predicate, i+1)
		}
	}
	return nil
}
