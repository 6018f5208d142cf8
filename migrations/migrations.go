// Package migrations holds Castellan's PostgreSQL schema as golang-migrate
// SQL files (N_name.up.sql with a matching N_name.down.sql), embedded into
// the binary, and applies them: Up, Steps, Version. Nothing runs at package
// init; `castellan migrate` and store/postgres (with its Migrate option)
// call these functions.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/golang-migrate/migrate/v4"
	pgxmigrate "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

//go:embed *.sql
var files embed.FS

// FS returns the embedded migration files.
func FS() fs.FS { return files }

// Latest returns the highest version among the embedded migrations: the
// schema version this build of Castellan needs.
func Latest() uint {
	var latest uint
	entries, _ := fs.ReadDir(files, ".")
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		if !ok {
			continue
		}
		if v, err := strconv.ParseUint(num, 10, 32); err == nil && uint(v) > latest {
			latest = uint(v)
		}
	}
	return latest
}

// open returns a migrate instance on the database at url (a postgres://
// URL) and a function that closes it.
func open(ctx context.Context, url string) (*migrate.Migrate, func(), error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing database url: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("connecting to the database: %w", err)
	}
	m, err := newMigrate(db)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return m, func() { m.Close() }, nil
}

func newMigrate(db *sql.DB) (*migrate.Migrate, error) {
	src, err := iofs.New(files, ".")
	if err != nil {
		return nil, fmt.Errorf("reading migrations: %w", err)
	}
	driver, err := pgxmigrate.WithInstance(db, &pgxmigrate.Config{})
	if err != nil {
		return nil, fmt.Errorf("preparing migrations: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", driver)
	if err != nil {
		return nil, fmt.Errorf("preparing migrations: %w", err)
	}
	return m, nil
}

// Up applies every migration the database at url has not had yet.
func Up(ctx context.Context, url string) error {
	m, done, err := open(ctx, url)
	if err != nil {
		return err
	}
	defer done()
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("migrating up: %w", err)
	}
	return nil
}

// Steps applies n migrations up (n > 0) or reverts -n migrations (n < 0).
func Steps(ctx context.Context, url string, n int) error {
	m, done, err := open(ctx, url)
	if err != nil {
		return err
	}
	defer done()
	if err := m.Steps(n); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("migrating %d steps: %w", n, err)
	}
	return nil
}

// Down reverts every migration: all of Castellan's tables are dropped.
func Down(ctx context.Context, url string) error {
	m, done, err := open(ctx, url)
	if err != nil {
		return err
	}
	defer done()
	if err := m.Down(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("migrating down: %w", err)
	}
	return nil
}

// Version returns the schema version of the database at url (0 when it was
// never migrated) and whether a migration failed halfway (dirty: fix the
// database by hand, then force the version with golang-migrate).
func Version(ctx context.Context, url string) (version uint, dirty bool, err error) {
	m, done, err := open(ctx, url)
	if err != nil {
		return 0, false, err
	}
	defer done()
	v, dirty, err := m.Version()
	if errors.Is(err, migrate.ErrNilVersion) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("reading schema version: %w", err)
	}
	return v, dirty, nil
}
