package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/castellan-authz/castellan/store"
)

// policyFile is the JSON form of a store.PolicyFile in policies.files.
type policyFile struct {
	Filename string `json:"filename"`
	Src      string `json:"src"`
}

const livePolicySQL = `(SELECT version FROM policy_activations ORDER BY id DESC LIMIT 1)`

const policyColumns = `version, files, created_at, created_by, source, commit_hash, test_count, coalesce(` + livePolicySQL + `, 0)`

// policyInfoColumns are policyColumns with files holding only the
// filenames.
const policyInfoColumns = `version, (SELECT coalesce(jsonb_agg(jsonb_build_object('filename', f->'filename')), '[]') FROM jsonb_array_elements(files) f),
	created_at, created_by, source, commit_hash, test_count, coalesce(` + livePolicySQL + `, 0)`

func scanPolicy(row pgx.Row) (store.Policy, error) {
	var p store.Policy
	var files []policyFile
	var live int64
	if err := row.Scan(&p.Version, &files, &p.CreatedAt, &p.CreatedBy, &p.Source, &p.Commit, &p.TestCount, &live); err != nil {
		return store.Policy{}, err
	}
	p.CreatedAt = p.CreatedAt.UTC()
	p.Live = p.Version == live
	p.Status = store.StatusOf(p.Version, live)
	for _, f := range files {
		p.Files = append(p.Files, store.PolicyFile{Filename: f.Filename, Src: f.Src})
	}
	return p, nil
}

// SavePolicy stores a new version and makes it live.
func (s *Store) SavePolicy(ctx context.Context, p store.Policy) (store.Policy, error) {
	if err := s.check(); err != nil {
		return store.Policy{}, err
	}
	files := make([]policyFile, len(p.Files))
	for i, f := range p.Files {
		files[i] = policyFile(f)
	}
	js, err := json.Marshal(files)
	if err != nil {
		return store.Policy{}, fmt.Errorf("encoding policy files: %w", err)
	}
	var out store.Policy
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "LOCK TABLE policies IN EXCLUSIVE MODE"); err != nil {
			return err
		}
		var version int64
		var created time.Time
		if err := tx.QueryRow(ctx, `INSERT INTO policies (version, files, created_by, source, commit_hash, test_count)
			SELECT coalesce(max(version), 0) + 1, $1, $2, $3, $4, $5 FROM policies RETURNING version, created_at`,
			js, p.CreatedBy, p.Source, p.Commit, p.TestCount).Scan(&version, &created); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO policy_activations (version) VALUES ($1)", version); err != nil {
			return err
		}
		out = store.Policy{Version: version, Files: append([]store.PolicyFile(nil), p.Files...), CreatedAt: created.UTC(), CreatedBy: p.CreatedBy,
			Live: true, Source: p.Source, Commit: p.Commit, TestCount: p.TestCount, Status: store.PolicyLive}
		return nil
	})
	if err != nil {
		return store.Policy{}, unavailable(ctx, fmt.Errorf("saving policy: %w", err))
	}
	return out, nil
}

func (s *Store) queryPolicy(ctx context.Context, what, sql string, args ...any) (store.Policy, error) {
	if err := s.check(); err != nil {
		return store.Policy{}, err
	}
	p, err := scanPolicy(s.pool.QueryRow(ctx, sql, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Policy{}, fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	if err != nil {
		return store.Policy{}, unavailable(ctx, fmt.Errorf("reading %s: %w", what, err))
	}
	return p, nil
}

// LivePolicy returns the live version, or ErrNotFound.
func (s *Store) LivePolicy(ctx context.Context) (store.Policy, error) {
	return s.queryPolicy(ctx, "live policy", "SELECT "+policyColumns+" FROM policies WHERE version = "+livePolicySQL)
}

// GetPolicy returns one version, or ErrNotFound.
func (s *Store) GetPolicy(ctx context.Context, version int64) (store.Policy, error) {
	return s.queryPolicy(ctx, fmt.Sprintf("policy version %d", version), "SELECT "+policyColumns+" FROM policies WHERE version = $1", version)
}

// PolicyHistory returns every version, newest first.
func (s *Store) PolicyHistory(ctx context.Context) ([]store.Policy, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	return s.queryPolicies(ctx, "SELECT "+policyColumns+" FROM policies ORDER BY version DESC")
}

// ListPolicies returns the versions f selects, newest first, with only
// their filenames.
func (s *Store) ListPolicies(ctx context.Context, f store.PolicyFilter) ([]store.Policy, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	where := []string{"true"}
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	live := "coalesce(" + livePolicySQL + ", 0)"
	switch f.Status {
	case store.PolicyLive:
		where = append(where, "version = "+live)
	case store.PolicyPrevious:
		where = append(where, "version < "+live)
	case store.PolicyRolledBack:
		where = append(where, "version > "+live)
	}
	if !f.Since.IsZero() {
		where = append(where, "created_at >= "+arg(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "created_at < "+arg(f.Until))
	}
	if f.Before > 0 {
		where = append(where, "version < "+arg(f.Before))
	}
	sql := "SELECT " + policyInfoColumns + " FROM policies WHERE " + strings.Join(where, " AND ") + " ORDER BY version DESC"
	if f.Limit > 0 {
		sql += " LIMIT " + arg(f.Limit)
	}
	return s.queryPolicies(ctx, sql, args...)
}

// queryPolicies runs a query of policy rows.
func (s *Store) queryPolicies(ctx context.Context, sql string, args ...any) ([]store.Policy, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, unavailable(ctx, fmt.Errorf("reading policy history: %w", err))
	}
	defer rows.Close()
	out := []store.Policy{}
	for rows.Next() {
		p, err := scanPolicy(rows)
		if err != nil {
			return nil, fmt.Errorf("reading policy history: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable(ctx, fmt.Errorf("reading policy history: %w", err))
	}
	return out, nil
}

// ActivatePolicy makes an existing version live again; the activation is
// recorded in policy_activations.
func (s *Store) ActivatePolicy(ctx context.Context, version int64) (store.Policy, error) {
	if err := s.check(); err != nil {
		return store.Policy{}, err
	}
	tag, err := s.pool.Exec(ctx, "INSERT INTO policy_activations (version) SELECT version FROM policies WHERE version = $1", version)
	if err != nil {
		return store.Policy{}, unavailable(ctx, fmt.Errorf("activating policy version %d: %w", version, err))
	}
	if tag.RowsAffected() == 0 {
		return store.Policy{}, fmt.Errorf("policy version %d: %w", version, store.ErrNotFound)
	}
	return s.GetPolicy(ctx, version)
}
