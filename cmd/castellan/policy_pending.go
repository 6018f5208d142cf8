package main

// Placeholders while the offline policy verbs are being built; each is
// removed from this file when its real implementation lands.

import (
	"context"
	"errors"
)

var errPending = errors.New("not built yet")

func runPolicyTest(context.Context, *env, []string) error { return errPending }
