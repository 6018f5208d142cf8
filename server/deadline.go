package server

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// deadlineCtx is its parent bounded by a deadline, like
// context.WithDeadline, but without arming a timer or registering with
// the parent until someone asks for Done: the evaluator of a check polls
// Err, which reads the clock, so a check that finishes in microseconds
// never pays for a timer (4 allocations, the runtime's timer heap, and the
// parent's map of children). The first Done (a list that streams, a
// store that waits, a derived context) arms a real context.WithDeadline
// and from then on everything defers to it.
type deadlineCtx struct {
	parent   context.Context
	deadline time.Time

	armed    atomic.Pointer[armedCtx] // set by the first Done
	canceled atomic.Bool              // cancel was called before any Done
	mu       sync.Mutex               // arming and cancel
}

// armedCtx is the real deadline context behind a deadlineCtx once armed.
type armedCtx struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// withDeadline returns parent bounded by d and the function that ends it
// (see deadlineCtx; a deadlineCtx{parent, deadline} made in place is the
// same).
func withDeadline(parent context.Context, d time.Time) (*deadlineCtx, context.CancelFunc) {
	c := &deadlineCtx{parent: parent, deadline: d}
	return c, c.cancel
}

// Deadline returns the earlier of the deadline and the parent's.
func (c *deadlineCtx) Deadline() (time.Time, bool) {
	if pd, ok := c.parent.Deadline(); ok && pd.Before(c.deadline) {
		return pd, true
	}
	return c.deadline, true
}

// Done arms the deadline (once) and returns its channel.
func (c *deadlineCtx) Done() <-chan struct{} { return c.arm().ctx.Done() }

// Err is the parent's error, else DeadlineExceeded once the deadline has
// passed, else Canceled after cancel.
func (c *deadlineCtx) Err() error {
	if a := c.armed.Load(); a != nil {
		return a.ctx.Err()
	}
	if err := c.parent.Err(); err != nil {
		return err
	}
	if c.canceled.Load() {
		return context.Canceled
	}
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

// Value is the armed context's value once armed (so that a context derived
// from this one registers with it as with any cancelable context), else the
// parent's.
func (c *deadlineCtx) Value(key any) any {
	if a := c.armed.Load(); a != nil {
		return a.ctx.Value(key)
	}
	return c.parent.Value(key)
}

// arm returns the real deadline context, making it on the first call. A
// context canceled before it is armed arms canceled.
func (c *deadlineCtx) arm() *armedCtx {
	if a := c.armed.Load(); a != nil {
		return a
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if a := c.armed.Load(); a != nil {
		return a
	}
	ctx, cancel := context.WithDeadline(c.parent, c.deadline)
	if c.canceled.Load() {
		cancel()
	}
	a := &armedCtx{ctx: ctx, cancel: cancel}
	c.armed.Store(a)
	return a
}

// cancel ends the context: Err reports Canceled (unless it had ended
// already) and an armed timer is released.
func (c *deadlineCtx) cancel() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a := c.armed.Load(); a != nil {
		a.cancel()
		return
	}
	if c.Err() == nil {
		c.canceled.Store(true)
	}
}
