package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/castellan-authz/castellan/store"
)

func TestUnavailable(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want bool
	}{
		{"refused", context.Background(), &net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{"eof", context.Background(), fmt.Errorf("reading: %w", io.ErrUnexpectedEOF), true},
		{"terminated", context.Background(), &pgconn.PgError{Code: "57P01", Severity: "FATAL"}, true},
		{"connection failure", context.Background(), &pgconn.PgError{Code: "08006"}, true},
		{"too many connections", context.Background(), &pgconn.PgError{Code: "53300"}, true},
		{"a standby during a failover", context.Background(), &pgconn.PgError{Code: "25006"}, true},
		{"unique violation", context.Background(), &pgconn.PgError{Code: "23505"}, false},
		{"syntax error", context.Background(), &pgconn.PgError{Code: "42601"}, false},
		{"no rows", context.Background(), pgx.ErrNoRows, false},
		{"our context", canceled, fmt.Errorf("query: %w", context.Canceled), false},
		{"canceled statement", canceled, &pgconn.PgError{Code: "57014"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := unavailable(tc.ctx, tc.err)
			if got := errors.Is(err, store.ErrUnavailable); got != tc.want {
				t.Errorf("unavailable(%v) = %v; ErrUnavailable %v, want %v", tc.err, err, got, tc.want)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("unavailable(%v) = %v no longer wraps the cause", tc.err, err)
			}
		})
	}
	if unavailable(context.Background(), nil) != nil {
		t.Error("unavailable(nil) is not nil")
	}
}
