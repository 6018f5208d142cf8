package main

// castellan healthcheck: a probe for containers that have no curl or wget.

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	castellan "github.com/castellan-authz/castellan/clients/go"
)

func runHealthcheck(ctx context.Context, e *env, args []string) error {
	fs, r := newRemoteFlags(e, "healthcheck", "healthcheck [--url URL]",
		"Exits 0 when the server at URL answers /readyz, 1 when it answers not ready,\n3 when it cannot be reached. Meant for container health checks.")
	_, c, err := r.connect(fs, args, 0, 0)
	if err != nil {
		return helpOr(err)
	}
	if err := c.Ready(ctx); err != nil {
		var ce *castellan.Error
		if errors.As(err, &ce) && ce.StatusCode == http.StatusServiceUnavailable {
			fmt.Fprintf(e.stderr, "castellan: %s\n", ce.Message)
			return errFailed // the server's answer: not ready
		}
		return r.fail(err)
	}
	fmt.Fprintln(e.stdout, "ready")
	return nil
}
