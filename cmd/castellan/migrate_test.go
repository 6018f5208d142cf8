package main

import (
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/castellan-authz/castellan/migrations"
	"github.com/castellan-authz/castellan/store/pgtest"
)

func TestMigrateUsage(t *testing.T) {
	tests := []struct {
		name    string
		environ map[string]string
		args    []string
		wantErr string
	}{
		{"no subcommand", nil, []string{"migrate"}, "needs a subcommand"},
		{"no url", nil, []string{"migrate", "up"}, "needs --database-url"},
		{"unknown subcommand", map[string]string{"CASTELLAN_DATABASE_URL": "postgres://x"}, []string{"migrate", "sideways"}, `unknown migrate subcommand "sideways"`},
		{"bad count", nil, []string{"migrate", "down", "zero", "--database-url", "postgres://x"}, "not a positive number"},
		{"count and all", nil, []string{"migrate", "down", "2", "--all", "--database-url", "postgres://x"}, "either N or --all"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.environ, tc.args...)
			if code != exitUsage || !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, exitUsage, tc.wantErr)
			}
		})
	}
}

func TestMigrate(t *testing.T) {
	url := pgtest.NewDatabase(t) // migrated to the latest version
	latest := migrations.Latest()
	// The versions need not be consecutive (a number may be taken by a
	// migration still on another branch): down N goes N versions back.
	var versions []uint
	entries, _ := fs.ReadDir(migrations.FS(), ".")
	for _, e := range entries {
		if num, _, ok := strings.Cut(e.Name(), "_"); ok && strings.HasSuffix(e.Name(), ".up.sql") {
			v, err := strconv.ParseUint(num, 10, 32)
			if err != nil {
				t.Fatal(err)
			}
			versions = append(versions, uint(v))
		}
	}
	slices.Sort(versions)
	back := func(n int) uint { return versions[len(versions)-1-n] }
	steps := []struct {
		args    []string
		environ map[string]string
		want    uint
	}{
		{[]string{"migrate", "version", "--database-url", url}, nil, latest},
		{[]string{"migrate", "down", "--database-url", url}, nil, back(1)},
		{[]string{"migrate", "--database-url", url, "up"}, nil, latest},
		{[]string{"migrate", "down", "--all"}, map[string]string{"CASTELLAN_DATABASE_URL": url}, 0},
		{[]string{"migrate", "up"}, map[string]string{"CASTELLAN_DATABASE_URL": url}, latest},
		{[]string{"migrate", "down", "2", "--database-url", url}, nil, back(2)},
		{[]string{"migrate", "up", "--database-url", url}, nil, latest},
	}
	for _, st := range steps {
		code, stdout, stderr := runCLI(t, st.environ, st.args...)
		want := fmt.Sprintf("schema version %d; this castellan needs %d\n", st.want, latest)
		if code != exitOK || stdout != want {
			t.Fatalf("%v: exit %d, stdout %q, stderr %q; want %q", st.args, code, stdout, stderr, want)
		}
	}
}
