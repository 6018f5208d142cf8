package postgres_test

import (
	"testing"

	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/pgtest"
	"github.com/castellan-authz/castellan/store/postgres"
	"github.com/castellan-authz/castellan/store/storetest"
)

func open(tb testing.TB, url string, opts postgres.Options) *postgres.Store {
	tb.Helper()
	s, err := postgres.Open(tb.Context(), url, opts)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(tb testing.TB) store.Store {
		return open(tb, pgtest.NewDatabase(tb), postgres.Options{})
	})
}
