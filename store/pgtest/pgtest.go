// Package pgtest gives tests their own PostgreSQL database.
//
// NewDatabase connects to the server named by CASTELLAN_TEST_DATABASE_URL
// (`make test` sets it through scripts/with-postgres), migrates a template
// database once per schema (its name carries a hash of the embedded
// migrations, so every test process and package shares it), and creates a
// fresh database from it for each test, dropped WITH (FORCE) when the test
// ends. Without the variable, tests are skipped, except under CI=true where
// they fail: Postgres tests never vanish silently from CI.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/castellan-authz/castellan/migrations"
)

// EnvURL names the variable holding the URL of the test server.
const EnvURL = "CASTELLAN_TEST_DATABASE_URL"

// ServerURL returns the URL of the test server, skipping the test when it
// is not configured (failing it under CI=true).
func ServerURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatal(EnvURL + " is not set but CI=true: the PostgreSQL tests must run in CI (use `make test`, which starts a throw-away PostgreSQL via scripts/with-postgres)")
		}
		tb.Skip(EnvURL + " is not set; run `make test` or scripts/with-postgres go test ... to run the PostgreSQL tests")
	}
	return u
}

// NewDatabase creates an empty, migrated database for the test and
// returns its URL. The database is dropped when the test ends.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	server := ServerURL(tb)
	ctx, cancel := context.WithTimeout(tb.Context(), 2*time.Minute)
	defer cancel()
	tpl, err := ensureTemplate(ctx, server)
	if err != nil {
		tb.Fatalf("pgtest: preparing the template database: %v", err)
	}
	return newDatabase(tb, server, tpl)
}

// NewEmptyDatabase creates a database without Castellan's schema (not
// migrated: for tests of migrations and of the schema version check) and
// returns its URL. The database is dropped when the test ends.
func NewEmptyDatabase(tb testing.TB) string {
	tb.Helper()
	return newDatabase(tb, ServerURL(tb), "template0")
}

// newDatabase creates a database from the template tpl on server, to be
// dropped when the test ends, and returns its URL.
func newDatabase(tb testing.TB, server, tpl string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), 2*time.Minute)
	defer cancel()
	name := "castellan_t_" + randomHex(8)
	if err := withConn(ctx, server, func(c *pgx.Conn) error {
		return createFrom(ctx, c, name, tpl)
	}); err != nil {
		tb.Fatalf("pgtest: creating database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := withConn(ctx, server, func(c *pgx.Conn) error {
			_, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
			return err
		}); err != nil {
			tb.Fatalf("pgtest: dropping database %s: %v", name, err)
		}
	})
	return WithDatabase(server, name)
}

// WithDatabase returns serverURL with its database replaced by name.
func WithDatabase(serverURL, name string) string {
	u, err := url.Parse(serverURL)
	if err != nil {
		return serverURL
	}
	u.Path = "/" + name
	return u.String()
}

// ensureTemplate returns the name of the migrated template database,
// creating it when missing. An advisory lock makes concurrent test
// processes create it once.
func ensureTemplate(ctx context.Context, server string) (string, error) {
	name := "castellan_tpl_" + schemaHash()
	err := withConn(ctx, server, func(c *pgx.Conn) error {
		if _, err := c.Exec(ctx, "SELECT pg_advisory_lock(7071917)"); err != nil {
			return err
		}
		defer c.Exec(context.Background(), "SELECT pg_advisory_unlock(7071917)")
		var exists bool
		if err := c.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return nil
		}
		// Build under a temporary name, rename when complete: a template
		// that exists is always fully migrated.
		tmp := name + "_tmp"
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{tmp}.Sanitize()+" WITH (FORCE)"); err != nil {
			return err
		}
		if _, err := c.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{tmp}.Sanitize()); err != nil {
			return err
		}
		if err := migrations.Up(ctx, WithDatabase(server, tmp)); err != nil {
			return err
		}
		_, err := c.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{tmp}.Sanitize()+" RENAME TO "+pgx.Identifier{name}.Sanitize())
		return err
	})
	return name, err
}

// createFrom creates database name from template tpl, retrying while
// another session briefly holds the template.
func createFrom(ctx context.Context, c *pgx.Conn, name, tpl string) error {
	for attempt := 0; ; attempt++ {
		_, err := c.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE "+pgx.Identifier{tpl}.Sanitize())
		var pgErr *pgconn.PgError
		if err == nil || attempt == 50 || !errors.As(err, &pgErr) || pgErr.Code != "55006" { // object_in_use
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func withConn(ctx context.Context, url string, fn func(*pgx.Conn) error) error {
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	return fn(c)
}

// schemaHash identifies the embedded migrations.
func schemaHash() string {
	h := sha256.New()
	fs.WalkDir(migrations.FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS(), path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %d\n", path, len(b))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
