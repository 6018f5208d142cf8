package pgtest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/castellan-authz/castellan/migrations"
	"github.com/castellan-authz/castellan/store/pgtest"
)

// recorder is a testing.TB whose Skip and Fatal record and stop.
type recorder struct {
	testing.TB
	skipped, failed string
}

type stop struct{}

func (r *recorder) Helper()           {}
func (r *recorder) Skip(args ...any)  { r.skipped = fmt.Sprint(args...); panic(stop{}) }
func (r *recorder) Fatal(args ...any) { r.failed = fmt.Sprint(args...); panic(stop{}) }

func serverURL(r *recorder) (u string) {
	defer func() {
		if v := recover(); v != nil && v != (stop{}) {
			panic(v)
		}
	}()
	return pgtest.ServerURL(r)
}

func TestServerURLUnset(t *testing.T) {
	tests := []struct {
		ci                string
		wantSkip, wantErr bool
	}{
		{ci: "", wantSkip: true},
		{ci: "false", wantSkip: true},
		{ci: "true", wantErr: true},
	}
	for _, tc := range tests {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv(pgtest.EnvURL, "")
			t.Setenv("CI", tc.ci)
			r := &recorder{TB: t}
			serverURL(r)
			if (r.skipped != "") != tc.wantSkip || (r.failed != "") != tc.wantErr {
				t.Errorf("skipped %q, failed %q; want skip %v, fail %v", r.skipped, r.failed, tc.wantSkip, tc.wantErr)
			}
		})
	}
}

func TestNewDatabase(t *testing.T) {
	var name string
	t.Run("create", func(t *testing.T) {
		u := pgtest.NewDatabase(t)
		v, dirty, err := migrations.Version(t.Context(), u)
		if err != nil || dirty || v != migrations.Latest() {
			t.Fatalf("new database at version %d (dirty %v, %v), want %d", v, dirty, err, migrations.Latest())
		}
		c, err := pgx.Connect(t.Context(), u)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(context.Background())
		if err := c.QueryRow(t.Context(), "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Exec(t.Context(), "INSERT INTO api_keys (id, scope, hash) VALUES ('k', 'read', '\\x00')"); err != nil {
			t.Fatal(err)
		}
	})
	if name == "" {
		// "create" failed (under CI=true without a database, pgtest fails it)
		// or was skipped locally: there is no database whose removal to check.
		return
	}
	c, err := pgx.Connect(t.Context(), pgtest.ServerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var exists bool
	if err := c.QueryRow(t.Context(), "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("database %s still exists after its test ended", name)
	}
	// A second database starts empty.
	u := pgtest.NewDatabase(t)
	c2, err := pgx.Connect(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close(context.Background())
	var n int
	if err := c2.QueryRow(t.Context(), "SELECT count(*) FROM api_keys").Scan(&n); err != nil || n != 0 {
		t.Errorf("a new database holds %d keys (%v)", n, err)
	}
}
