package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/castellan-authz/castellan/store"
)

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
	tag, err := s.pool.Exec(ctx, `INSERT INTO api_keys (id, name, scope, hash, created_at)
		VALUES ($1, $2, $3, $4, coalesce($5::timestamptz, now())) ON CONFLICT (id) DO NOTHING`,
		k.ID, k.Name, k.Scope, k.Hash, created)
	if err != nil {
		return unavailable(ctx, fmt.Errorf("creating key: %w", err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("key %q: %w", k.ID, store.ErrConflict)
	}
	return nil
}

const keyColumns = "id, name, scope, hash, created_at"

func scanKey(row pgx.Row) (store.Key, error) {
	var k store.Key
	if err := row.Scan(&k.ID, &k.Name, &k.Scope, &k.Hash, &k.CreatedAt); err != nil {
		return store.Key{}, err
	}
	k.CreatedAt = k.CreatedAt.UTC()
	return k, nil
}

// KeyByID returns a key, or ErrNotFound.
func (s *Store) KeyByID(ctx context.Context, id string) (store.Key, error) {
	if err := s.check(); err != nil {
		return store.Key{}, err
	}
	if !isText(id) {
		// No key has it; PostgreSQL would refuse the text (22021).
		return store.Key{}, fmt.Errorf("key %q: %w", id, store.ErrNotFound)
	}
	k, err := scanKey(s.pool.QueryRow(ctx, "SELECT "+keyColumns+" FROM api_keys WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Key{}, fmt.Errorf("key %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Key{}, unavailable(ctx, fmt.Errorf("reading key: %w", err))
	}
	return k, nil
}

// ListKeys returns every key by creation time, then ID.
func (s *Store) ListKeys(ctx context.Context) ([]store.Key, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, "SELECT "+keyColumns+" FROM api_keys ORDER BY created_at, id")
	if err != nil {
		return nil, unavailable(ctx, fmt.Errorf("listing keys: %w", err))
	}
	defer rows.Close()
	out := []store.Key{}
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("listing keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(ctx, fmt.Errorf("listing keys: %w", err))
	}
	return out, nil
}

// DeleteKey removes a key, or returns ErrNotFound.
func (s *Store) DeleteKey(ctx context.Context, id string) error {
	if err := s.check(); err != nil {
		return err
	}
	if !isText(id) {
		return fmt.Errorf("key %q: %w", id, store.ErrNotFound)
	}
	tag, err := s.pool.Exec(ctx, "DELETE FROM api_keys WHERE id = $1", id)
	if err != nil {
		return unavailable(ctx, fmt.Errorf("deleting key: %w", err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("key %q: %w", id, store.ErrNotFound)
	}
	return nil
}

// CountKeys returns the number of keys.
func (s *Store) CountKeys(ctx context.Context) (int, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	var n int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM api_keys").Scan(&n); err != nil {
		return 0, unavailable(ctx, fmt.Errorf("counting keys: %w", err))
	}
	return n, nil
}
