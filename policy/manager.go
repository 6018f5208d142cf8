package policy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/castellan-authz/castellan/internal/tick"
	"github.com/castellan-authz/castellan/store"
)

// Outcome is what one load, activation or sync did; an observer counts them
// (the server exports castellan_policy_loads_total by outcome).
type Outcome string

// The outcomes.
const (
	// Loaded: a version was made live by this server (upload or rollback).
	Loaded Outcome = "loaded"
	// Unchanged: the upload was the live policy already.
	Unchanged Outcome = "unchanged"
	// Rejected: the policy did not compile or its tests failed.
	Rejected Outcome = "rejected"
	// Synced: a version made live by another replica was made live here.
	Synced Outcome = "synced"
)

// Manager keeps the live policy of one server and every change to it. It
// is safe for concurrent use: loads, activations and syncs are serialised,
// and readers take the live *Compiled without locking.
type Manager struct {
	store   store.PolicyStore
	facts   store.Store // nil: Load does not look at stored facts (WithFacts)
	log     zerolog.Logger
	observe func(Outcome)

	live    atomic.Pointer[Compiled]
	lastOld atomic.Pointer[Compiled] // the last older version compiled by Version
	mu      sync.Mutex               // serialises loads, activations and syncs
}

// Option configures a Manager.
type Option func(*Manager)

// WithLogger sets the logger (default: a disabled logger).
func WithLogger(l zerolog.Logger) Option { return func(m *Manager) { m.log = l } }

// WithObserver sets a function called with the outcome of every load,
// activation and sync (default: none). It must not block.
func WithObserver(f func(Outcome)) Option { return func(m *Manager) { m.observe = f } }

// NewManager returns a manager on ps that answers under its live policy,
// or under the empty policy (everything denied, any well-formed fact
// stored) when none was ever saved. A live policy whose tests fail under
// this Castellan stays live, with a warning; one that no longer compiles
// is an error.
func NewManager(ctx context.Context, ps store.PolicyStore, opts ...Option) (*Manager, error) {
	m := &Manager{store: ps, log: zerolog.Nop(), observe: func(Outcome) {}}
	for _, o := range opts {
		o(m)
	}
	if err := m.loadLive(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

// loadLive installs the store's live policy at start.
func (m *Manager) loadLive(ctx context.Context) error {
	e, err := empty()
	if err != nil {
		return err
	}
	p, err := m.store.LivePolicy(ctx)
	if errors.Is(err, store.ErrNotFound) {
		m.live.Store(e)
		return nil
	}
	if err != nil {
		return fmt.Errorf("loading the live policy: %w", err)
	}
	c, err := Compile(ctx, p.Files)
	if err != nil {
		if tf, ok := errors.AsType[*TestsFailedError](err); ok {
			// The version was accepted once; keep it live but say so.
			m.log.Warn().Int64("version", p.Version).Str("failures", tf.Error()).Msg("the live policy's tests fail with this castellan")
			c, err = CompileOnly(p.Files)
		}
		if err != nil {
			return fmt.Errorf("the live policy (version %d) does not compile: %w", p.Version, err)
		}
	}
	m.live.Store(c.withVersion(p.Version))
	m.log.Info().Int64("version", p.Version).Msg("loaded the live policy")
	return nil
}

// Live returns the policy requests are answered under now. A request
// should take it once and answer wholly under it.
func (m *Manager) Live() *Compiled { return m.live.Load() }

// LoadResult is what Load did.
type LoadResult struct {
	// Version is the live version afterwards.
	Version int64
	// Changed is false when the files were the live policy already.
	Changed bool
	// Warning, when not empty, says what the policy does that the guard
	// would have refused without Force (or AllowOrphans).
	Warning string
	// Data is the check of the stored facts against the policy (nil when
	// none are stored, or the manager was not given them); its Unusable
	// facts were kept, unusable, unless Strict refused the load.
	Data *DataReport
}

// Load validates files (ValidateFiles), compiles them as one policy, runs
// its tests, saves it as a new version by createdBy and makes it live
// (atomically for requests in flight). When the files are the live policy
// already nothing changes. On any error the previous policy stays live: a
// policy that does not compile returns an ast.ErrorList, failing tests a
// *TestsFailedError, bad files an error wrapping ErrInvalidFiles. Unless
// Force is given, a policy that would deny everything or orphan every
// stored fact (with WithFacts, and only when facts are stored) returns an
// *UnsafePolicyError wrapping ErrNeedsForce; with Force (or, for orphans
// only, AllowOrphans) it goes live and LoadResult.Warning says so.
func (m *Manager) Load(ctx context.Context, files []File, createdBy string, opts ...LoadOption) (LoadResult, error) {
	var o loadOptions
	for _, f := range opts {
		f(&o)
	}
	if err := ValidateFiles(files); err != nil {
		return LoadResult{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.live.Load()
	if cur.version != 0 && cur.digest == digest(files) {
		m.observe(Unchanged)
		return LoadResult{Version: cur.version}, nil
	}
	c, err := Compile(ctx, files)
	if err != nil {
		m.observe(Rejected)
		return LoadResult{}, err
	}
	data, warning, err := m.admit(ctx, c, o)
	if err != nil {
		if errors.Is(err, ErrNeedsForce) || errors.Is(err, ErrUnusableFacts) {
			m.observe(Rejected)
		}
		return LoadResult{Data: data}, err
	}
	saved, err := m.store.SavePolicy(ctx, store.Policy{Files: files, CreatedBy: createdBy,
		Source: o.source, Commit: o.commit, TestCount: len(c.prog.Tests)})
	if err != nil {
		return LoadResult{}, fmt.Errorf("saving the policy: %w", err)
	}
	m.live.Store(c.withVersion(saved.Version))
	m.observe(Loaded)
	ev := m.log.Info().Int64("version", saved.Version).Str("by", createdBy).Int("files", len(files)).Str("source", o.source)
	if o.commit != "" {
		ev = ev.Str("commit", o.commit)
	}
	ev.Msg("policy loaded")
	if sum := data.Summary(); sum != "" {
		m.log.Warn().Int64("version", saved.Version).Int("unusable_facts", data.Unusable).Str("data_check", sum).Msg("stored facts are not usable by the loaded policy")
	}
	return LoadResult{Version: saved.Version, Changed: true, Warning: warning, Data: data}, nil
}

// Activate makes a stored version live again (rollback) after compiling it
// and running its tests, and returns it. Errors: store.ErrNotFound, an
// ast.ErrorList, a *TestsFailedError, or the store's; the live policy then
// stays as it was.
func (m *Manager) Activate(ctx context.Context, version int64) (store.Policy, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, err := m.store.GetPolicy(ctx, version)
	if err != nil {
		return store.Policy{}, err
	}
	c, err := Compile(ctx, p.Files)
	if err != nil {
		m.observe(Rejected)
		return store.Policy{}, err
	}
	p, err = m.store.ActivatePolicy(ctx, version)
	if err != nil {
		return store.Policy{}, err
	}
	m.live.Store(c.withVersion(p.Version))
	m.observe(Loaded)
	m.log.Info().Int64("version", p.Version).Msg("policy version activated")
	return p, nil
}

// Version returns the live policy for version 0 (or the live version),
// else compiles the stored version, without running its tests. The last
// older version asked for is kept: versions never change.
func (m *Manager) Version(ctx context.Context, version int64) (*Compiled, error) {
	live := m.live.Load()
	if version == 0 || version == live.version {
		return live, nil
	}
	if old := m.lastOld.Load(); old != nil && old.version == version {
		return old, nil
	}
	p, err := m.store.GetPolicy(ctx, version)
	if err != nil {
		return nil, err
	}
	c, err := CompileOnly(p.Files)
	if err != nil {
		return nil, err
	}
	old := c.withVersion(p.Version)
	m.lastOld.Store(old)
	return old, nil
}

// Stored returns a stored version with its source, or store.ErrNotFound.
func (m *Manager) Stored(ctx context.Context, version int64) (store.Policy, error) {
	return m.store.GetPolicy(ctx, version)
}

// History returns every stored version, newest first.
func (m *Manager) History(ctx context.Context) ([]store.Policy, error) {
	return m.store.PolicyHistory(ctx)
}

// List returns the stored versions f selects, newest first, with their
// filenames but not their sources (store.PolicyStore.ListPolicies).
func (m *Manager) List(ctx context.Context, f store.PolicyFilter) ([]store.Policy, error) {
	return m.store.ListPolicies(ctx, f)
}

// LiveCommit returns the git commit the live version was loaded from, ""
// when it was not loaded from git (or no version is live).
func (m *Manager) LiveCommit(ctx context.Context) (string, error) {
	p, err := m.store.LivePolicy(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return p.Commit, nil
}

// Sync makes the store's live version live here too, when it differs from
// the one this manager answers under: another replica on the same database
// uploaded or activated a version. It reports whether the live policy
// changed.
func (m *Manager) Sync(ctx context.Context) (bool, error) {
	p, err := m.store.LivePolicy(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if p.Version == m.live.Load().version {
		return false, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if p.Version == m.live.Load().version {
		return false, nil
	}
	// The version passed its tests when it was saved; only compile it.
	c, err := CompileOnly(p.Files)
	if err != nil {
		return false, fmt.Errorf("the live policy (version %d) does not compile: %w", p.Version, err)
	}
	m.live.Store(c.withVersion(p.Version))
	m.observe(Synced)
	m.log.Info().Int64("version", p.Version).Msg("policy version made live by another server")
	return true, nil
}

// Follow calls Sync every interval until ctx is done, so that replicas on
// one database answer under the same policy within about one interval of
// an upload or rollback. Errors are logged.
func (m *Manager) Follow(ctx context.Context, every time.Duration) {
	tick.Every(ctx, every, func() {
		if _, err := m.Sync(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn().Err(err).Msg("following the live policy")
		}
	})
}
