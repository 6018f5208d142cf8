package postgres

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/castellan-authz/castellan/store"
)

// Operations of the key change log (key_changes.op).
const (
	keyCreated int16 = 1
	keyDeleted int16 = 2
)

// keySet is the store's followed copy of the API keys: loaded at Open,
// then kept current from the key change log by the follower and by the
// store's own key writes, so that KeyByID needs no database round trip.
type keySet struct {
	// apply serializes catching up with the log (the follower and own
	// writes) and guards version. Lock order: the key_changes table lock,
	// then apply, then mu.
	apply   sync.Mutex
	version int64 // the last key_changes version applied

	mu   sync.RWMutex
	byID map[string]store.Key
}

// keyChange is an entry of the key change log, with the key as the
// database holds it when the entry is read (present false: no such key).
type keyChange struct {
	version int64
	op      int16
	id      string
	present bool
	key     store.Key
}

const keyColumns = "id, name, scope, hash, created_at, coalesce(caller, '')"

// loadKeys fills the key set from q, which must read one snapshot of the
// database (the repeatable-read transaction of load).
func (s *Store) loadKeys(ctx context.Context, q querier) error {
	var version int64
	if err := q.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM key_changes").Scan(&version); err != nil {
		return unavailable(ctx, fmt.Errorf("loading keys: %w", err))
	}
	rows, err := q.Query(ctx, "SELECT "+keyColumns+" FROM api_keys")
	if err != nil {
		return unavailable(ctx, fmt.Errorf("loading keys: %w", err))
	}
	byID := make(map[string]store.Key)
	var k store.Key
	_, err = pgx.ForEachRow(rows, []any{&k.ID, &k.Name, &k.Scope, &k.Hash, &k.CreatedAt, &k.Caller}, func() error {
		k.CreatedAt = k.CreatedAt.UTC()
		byID[k.ID] = k
		k.Hash = nil // the next row scans into a new slice
		return nil
	})
	if err != nil {
		return unavailable(ctx, fmt.Errorf("loading keys: %w", err))
	}
	s.keys.apply.Lock()
	defer s.keys.apply.Unlock()
	s.keys.version = version
	s.keys.mu.Lock()
	s.keys.byID = byID
	s.keys.mu.Unlock()
	return nil
}

// readKeyChanges returns the entries of the key change log after version
// since, in order, each with the key's current row.
func readKeyChanges(ctx context.Context, q querier, since int64) ([]keyChange, error) {
	rows, err := q.Query(ctx, `SELECT c.version, c.op, c.key_id, k.id IS NOT NULL, k.name, k.scope, k.hash, k.created_at, coalesce(k.caller, '')
		FROM key_changes c LEFT JOIN api_keys k ON k.id = c.key_id
		WHERE c.version > $1 ORDER BY c.version`, since)
	if err != nil {
		return nil, err
	}
	var out []keyChange
	var (
		c           keyChange
		name, scope *string
		boundTo     *string
		hash        []byte
		created     *time.Time
	)
	_, err = pgx.ForEachRow(rows, []any{&c.version, &c.op, &c.id, &c.present, &name, &scope, &hash, &created, &boundTo}, func() error {
		c.key = store.Key{}
		if c.present {
			c.key = store.Key{ID: c.id, Name: *name, Scope: *scope, Hash: bytes.Clone(hash), CreatedAt: created.UTC(), Caller: *boundTo}
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

// applyKeyChangesLocked applies changes read by readKeyChanges. Each entry
// sets the key to the row the database held when the log was read, so
// replaying the log in order ends in the database's state. Callers hold
// keys.apply.
func (s *Store) applyKeyChangesLocked(changes []keyChange) {
	if len(changes) == 0 {
		return
	}
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	for _, c := range changes {
		if c.op == keyCreated && c.present {
			s.keys.byID[c.id] = c.key
		} else {
			delete(s.keys.byID, c.id)
		}
	}
	s.keys.version = changes[len(changes)-1].version
}

// catchUpKeys applies the key change log after the version the key set
// has reached.
func (s *Store) catchUpKeys(ctx context.Context, q querier) error {
	s.keys.apply.Lock()
	defer s.keys.apply.Unlock()
	changes, err := readKeyChanges(ctx, q, s.keys.version)
	if err != nil {
		return err
	}
	s.applyKeyChangesLocked(changes)
	return nil
}

// changeKey runs change (which creates or deletes key id and reports
// whether it did) in a transaction that appends op to the key change log
// and announces it. Writers of keys are serialized by the table lock, so
// versions commit in order. Before the commit, still holding the lock, it
// reads the log from the key set's version (every earlier commit and its
// own entry); after the commit it applies what it read, so this store sees
// its own change at once, without another round trip. It returns false,
// writing nothing, when change reports that it did nothing.
func (s *Store) changeKey(ctx context.Context, id string, op int16, change func(pgx.Tx) (bool, error)) (bool, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, "LOCK TABLE key_changes IN EXCLUSIVE MODE"); err != nil {
		return false, err
	}
	if ok, err := change(tx); !ok || err != nil {
		return false, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO key_changes (version, key_id, op)
		SELECT coalesce(max(version), 0) + 1, $1, $2 FROM key_changes`, id, op); err != nil {
		return false, err
	}
	if _, err := tx.Exec(ctx, "SELECT pg_notify('"+channel+"', 'keys')"); err != nil {
		return false, err
	}
	s.keys.apply.Lock()
	defer s.keys.apply.Unlock()
	changes, err := readKeyChanges(ctx, tx, s.keys.version)
	if err != nil {
		return false, err
	}
	if err := tx.Commit(ctx); err != nil {
		return false, err
	}
	s.applyKeyChangesLocked(changes)
	return true, nil
}

// CreateKey stores k; ErrConflict when its ID is taken. A zero CreatedAt
// is set by the database.
func (s *Store) CreateKey(ctx context.Context, k store.Key) error {
	if err := s.check(); err != nil {
		return err
	}
	var created any
	if !k.CreatedAt.IsZero() {
		created = k.CreatedAt
	}
	ok, err := s.changeKey(ctx, k.ID, keyCreated, func(tx pgx.Tx) (bool, error) {
		tag, err := tx.Exec(ctx, `INSERT INTO api_keys (id, name, scope, hash, created_at, caller)
			VALUES ($1, $2, $3, $4, coalesce($5::timestamptz, now()), nullif($6, '')) ON CONFLICT (id) DO NOTHING`,
			k.ID, k.Name, k.Scope, k.Hash, created, k.Caller)
		return err == nil && tag.RowsAffected() == 1, err
	})
	if err != nil {
		return unavailable(ctx, fmt.Errorf("creating key: %w", err))
	}
	if !ok {
		return fmt.Errorf("key %q: %w", k.ID, store.ErrConflict)
	}
	return nil
}

// KeyByID returns a key from the store's copy, or ErrNotFound (see
// store.KeyStore): no database round trip.
func (s *Store) KeyByID(ctx context.Context, id string) (store.Key, error) {
	if err := s.check(); err != nil {
		return store.Key{}, err
	}
	s.keys.mu.RLock()
	k, ok := s.keys.byID[id]
	s.keys.mu.RUnlock()
	if !ok {
		return store.Key{}, fmt.Errorf("key %q: %w", id, store.ErrNotFound)
	}
	k.Hash = bytes.Clone(k.Hash)
	return k, nil
}

// ListKeys returns every key of the store's copy by creation time, then
// ID.
func (s *Store) ListKeys(ctx context.Context) ([]store.Key, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	s.keys.mu.RLock()
	out := make([]store.Key, 0, len(s.keys.byID))
	for _, k := range s.keys.byID {
		k.Hash = bytes.Clone(k.Hash)
		out = append(out, k)
	}
	s.keys.mu.RUnlock()
	slices.SortFunc(out, func(a, b store.Key) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// DeleteKey removes a key, or returns ErrNotFound.
func (s *Store) DeleteKey(ctx context.Context, id string) error {
	if err := s.check(); err != nil {
		return err
	}
	if !isText(id) {
		// No key has it; PostgreSQL would refuse the text (22021).
		return fmt.Errorf("key %q: %w", id, store.ErrNotFound)
	}
	ok, err := s.changeKey(ctx, id, keyDeleted, func(tx pgx.Tx) (bool, error) {
		tag, err := tx.Exec(ctx, "DELETE FROM api_keys WHERE id = $1", id)
		return err == nil && tag.RowsAffected() == 1, err
	})
	if err != nil {
		return unavailable(ctx, fmt.Errorf("deleting key: %w", err))
	}
	if !ok {
		return fmt.Errorf("key %q: %w", id, store.ErrNotFound)
	}
	return nil
}

// CountKeys returns the number of keys in the store's copy.
func (s *Store) CountKeys(ctx context.Context) (int, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	s.keys.mu.RLock()
	defer s.keys.mu.RUnlock()
	return len(s.keys.byID), nil
}
