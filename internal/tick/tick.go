// Package tick runs a function at a fixed interval until a context ends:
// the loop the servers' background work (following the live policy,
// polling git, pruning the change log, expiring facts, watching policy
// files) shares. It imports nothing of Castellan.
package tick

import (
	"context"
	"time"
)

// Every calls fn every interval until ctx is done; the first call is one
// interval after Every starts. A call that takes longer than the interval
// delays the next one rather than queueing calls. It returns when ctx is
// done, never during a call.
func Every(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if ctx.Err() != nil {
			return
		}
		fn()
	}
}
