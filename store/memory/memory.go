package memory

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/index"
)

// Store is the in-memory store: an index.Index that keeps its change log,
// plus policy versions and API keys. Nothing survives Close.
type Store struct {
	x   *index.Index
	now func() time.Time

	retention time.Duration // of the change log; 0: forever
	logMu     sync.Mutex    // guards commits
	commits   []commit      // revisions in the retained log, oldest first

	mu       sync.Mutex // guards closed, policies, live, keys
	closed   bool
	policies []store.Policy // by version - 1
	live     int64
	keys     map[string]store.Key
}

var (
	_ store.Store       = (*Store)(nil)
	_ store.Clearer     = (*Store)(nil)
	_ store.PolicyStore = (*Store)(nil)
	_ store.KeyStore    = (*Store)(nil)
	_ store.Expirer     = (*Store)(nil)
	_ store.PastReader  = (*Store)(nil)

	_ store.PreparedWriter = (*Store)(nil)
)

// Option configures a Store.
type Option func(*Store)

// WithChangeRetention makes the store drop, at each write, the change
// log's revisions committed longer ago than d (by the store's clock);
// Changes since a dropped revision then fail with store.ErrPruned.
// Without it (or with d <= 0) the store keeps its whole change log.
func WithChangeRetention(d time.Duration) Option {
	return func(s *Store) { s.retention = d }
}

// commit is when a revision was committed.
type commit struct {
	rev uint64
	at  time.Time
}

// WithClock sets the clock that stamps policy versions and keys.
func WithClock(now func() time.Time) Option {
	return func(s *Store) { s.now = now }
}

// New returns an empty store at revision 0.
func New(opts ...Option) *Store {
	s := &Store{x: index.New(index.WithChangeLog()), now: time.Now, keys: make(map[string]store.Key)}
	for _, o := range opts {
		o(s)
	}
	return s
}

func (s *Store) check() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	return nil
}

// Write validates and applies batch atomically (see store.Store).
func (s *Store) Write(ctx context.Context, batch []store.Op, opts ...store.WriteOption) (store.Revision, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	p, err := store.PrepareBatch(batch, opts...)
	if err != nil {
		return 0, err
	}
	return s.apply(p), nil
}

// WritePrepared applies a batch prepared by store.PrepareBatch atomically
// (see store.PreparedWriter).
func (s *Store) WritePrepared(ctx context.Context, p store.Prepared) (store.Revision, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return s.apply(p), nil
}

// apply applies a prepared batch as the next revision.
func (s *Store) apply(p store.Prepared) store.Revision {
	rev := s.x.ApplyNext(p.Ops())
	if s.retention > 0 {
		s.prune(rev)
	}
	return rev
}

// prune notes the commit of rev and drops the revisions past the
// retention from the change log.
func (s *Store) prune(rev uint64) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	now := s.now()
	s.commits = append(s.commits, commit{rev: rev, at: now})
	cut := now.Add(-s.retention)
	i := 0
	for i < len(s.commits) && s.commits[i].at.Before(cut) {
		i++
	}
	if i == 0 {
		return
	}
	s.x.PruneChanges(s.commits[i-1].rev)
	s.commits = s.commits[i:] // the array is given back when append next grows it
}

// Clear removes every fact in one revision.
func (s *Store) Clear(ctx context.Context) (store.Revision, error) {
	return s.Write(ctx, store.ClearBatch())
}

// Expire removes the facts whose window ended at or before now, in one
// revision (see store.Expirer); it writes nothing when none has.
func (s *Store) Expire(ctx context.Context, now time.Time) (store.Revision, int, error) {
	if err := s.check(); err != nil {
		return 0, 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	n := s.x.CountExpired(now.UnixNano())
	if n == 0 {
		return 0, 0, nil
	}
	return s.x.ApplyNext([]store.Op{{ExpiredBy: now}}), n, nil
}

// Snapshot returns a view at the latest revision. The memory store is its
// own source of truth, so a revision above the head has not been committed
// yet and Snapshot fails with ErrRevisionUnavailable at once.
func (s *Store) Snapshot(ctx context.Context, c store.Consistency) (store.Snapshot, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	snap := s.x.Snapshot()
	if rev := snap.Revision(); rev < c.AtLeast {
		return nil, fmt.Errorf("revision %d requested, head is %d: %w", c.AtLeast, rev, store.ErrRevisionUnavailable)
	}
	return snap, nil
}

// SnapshotAt returns a snapshot at exactly revision rev (see
// store.PastReader): a revision after the latest is
// store.ErrRevisionUnavailable, one compaction went past
// store.ErrRevisionGone.
func (s *Store) SnapshotAt(ctx context.Context, rev store.Revision) (store.Snapshot, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if head := s.x.Revision(); rev > head {
		return nil, fmt.Errorf("revision %d requested, head is %d: %w", rev, head, store.ErrRevisionUnavailable)
	}
	return s.x.SnapshotAt(rev)
}

// Head returns the latest committed revision.
func (s *Store) Head(ctx context.Context) (store.Revision, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	return s.x.Revision(), nil
}

// Changes returns the change log after since (see store.Store). The memory
// store keeps its whole change log (or, WithChangeRetention, the part
// within the retention), as varint-encoded interned ids (about 10
// bytes per change of a 3-argument fact).
func (s *Store) Changes(ctx context.Context, since store.Revision, limit int) ([]store.Change, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if p := s.x.ChangesPruned(); since < p {
		return nil, fmt.Errorf("changes since revision %d: the change log starts after revision %d: %w", since, p, store.ErrPruned)
	}
	return s.x.Changes(since, limit), nil
}

// Close marks the store closed. Snapshots stay readable.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// Index returns the store's indexed fact set. Writing to it directly
// bypasses validation and the store's checks.
func (s *Store) Index() *index.Index { return s.x }

// SavePolicy stores a new policy version and makes it live.
func (s *Store) SavePolicy(ctx context.Context, p store.Policy) (store.Policy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.Policy{}, store.ErrClosed
	}
	p.Version = int64(len(s.policies)) + 1
	p.CreatedAt = s.now().UTC()
	p.Files = slices.Clone(p.Files)
	p.Live = false
	s.policies = append(s.policies, p)
	s.live = p.Version
	return s.policyLocked(p.Version), nil
}

func (s *Store) policyLocked(version int64) store.Policy {
	p := s.policies[version-1]
	p.Files = slices.Clone(p.Files)
	p.Live = version == s.live
	p.Status = store.StatusOf(version, s.live)
	return p
}

// LivePolicy returns the live version, or ErrNotFound.
func (s *Store) LivePolicy(ctx context.Context) (store.Policy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.Policy{}, store.ErrClosed
	}
	if s.live == 0 {
		return store.Policy{}, fmt.Errorf("live policy: %w", store.ErrNotFound)
	}
	return s.policyLocked(s.live), nil
}

// GetPolicy returns one version, or ErrNotFound.
func (s *Store) GetPolicy(ctx context.Context, version int64) (store.Policy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.Policy{}, store.ErrClosed
	}
	if version < 1 || version > int64(len(s.policies)) {
		return store.Policy{}, fmt.Errorf("policy version %d: %w", version, store.ErrNotFound)
	}
	return s.policyLocked(version), nil
}

// PolicyHistory returns every version, newest first.
func (s *Store) PolicyHistory(ctx context.Context) ([]store.Policy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	out := make([]store.Policy, 0, len(s.policies))
	for v := int64(len(s.policies)); v >= 1; v-- {
		out = append(out, s.policyLocked(v))
	}
	return out, nil
}

// ListPolicies returns the versions f selects, newest first, without
// their sources.
func (s *Store) ListPolicies(ctx context.Context, f store.PolicyFilter) ([]store.Policy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	out := []store.Policy{}
	for v := int64(len(s.policies)); v >= 1 && (f.Limit <= 0 || len(out) < f.Limit); v-- {
		p := s.policyLocked(v)
		if !f.Keeps(p) {
			continue
		}
		for i := range p.Files {
			p.Files[i].Src = ""
		}
		out = append(out, p)
	}
	return out, nil
}

// ActivatePolicy makes an existing version live again.
func (s *Store) ActivatePolicy(ctx context.Context, version int64) (store.Policy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.Policy{}, store.ErrClosed
	}
	if version < 1 || version > int64(len(s.policies)) {
		return store.Policy{}, fmt.Errorf("policy version %d: %w", version, store.ErrNotFound)
	}
	s.live = version
	return s.policyLocked(version), nil
}

// CreateKey stores k; ErrConflict when its ID is taken. A zero CreatedAt
// is set to now.
func (s *Store) CreateKey(ctx context.Context, k store.Key) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	if _, ok := s.keys[k.ID]; ok {
		return fmt.Errorf("key %q: %w", k.ID, store.ErrConflict)
	}
	if k.CreatedAt.IsZero() {
		k.CreatedAt = s.now()
	}
	k.CreatedAt = k.CreatedAt.UTC()
	k.Hash = bytes.Clone(k.Hash)
	s.keys[k.ID] = k
	return nil
}

// KeyByID returns a key, or ErrNotFound.
func (s *Store) KeyByID(ctx context.Context, id string) (store.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.Key{}, store.ErrClosed
	}
	k, ok := s.keys[id]
	if !ok {
		return store.Key{}, fmt.Errorf("key %q: %w", id, store.ErrNotFound)
	}
	k.Hash = bytes.Clone(k.Hash)
	return k, nil
}

// ListKeys returns every key by creation time, then ID.
func (s *Store) ListKeys(ctx context.Context) ([]store.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	out := make([]store.Key, 0, len(s.keys))
	for _, k := range s.keys {
		k.Hash = bytes.Clone(k.Hash)
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b store.Key) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// DeleteKey removes a key, or returns ErrNotFound.
func (s *Store) DeleteKey(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	if _, ok := s.keys[id]; !ok {
		return fmt.Errorf("key %q: %w", id, store.ErrNotFound)
	}
	delete(s.keys, id)
	return nil
}

// CountKeys returns the number of keys.
func (s *Store) CountKeys(ctx context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, store.ErrClosed
	}
	return len(s.keys), nil
}
