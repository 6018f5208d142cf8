package server

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestDeadlineCtx checks that deadlineCtx ends as context.WithDeadline
// would: at its deadline (Err without Done, and Done's channel once
// armed), when canceled, and with its parent; and that a context derived
// from it ends with it.
func TestDeadlineCtx(t *testing.T) {
	past := time.Now().Add(-time.Second)
	far := time.Now().Add(time.Hour)

	t.Run("open", func(t *testing.T) {
		c, cancel := withDeadline(context.Background(), far)
		defer cancel()
		if err := c.Err(); err != nil {
			t.Fatalf("Err = %v before the deadline", err)
		}
		if d, ok := c.Deadline(); !ok || !d.Equal(far) {
			t.Fatalf("Deadline = %v, %t", d, ok)
		}
		select {
		case <-c.Done():
			t.Fatal("Done closed before the deadline")
		default:
		}
	})
	t.Run("deadline passed, never armed", func(t *testing.T) {
		c, cancel := withDeadline(context.Background(), past)
		if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Err = %v, want DeadlineExceeded", err)
		}
		cancel()
		if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Err after cancel = %v, want DeadlineExceeded still", err)
		}
		<-c.Done() // armed after the deadline: closed
	})
	t.Run("deadline reached while armed", func(t *testing.T) {
		c, cancel := withDeadline(context.Background(), time.Now().Add(20*time.Millisecond))
		defer cancel()
		<-c.Done()
		if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Err = %v, want DeadlineExceeded", err)
		}
	})
	t.Run("canceled before Done", func(t *testing.T) {
		c, cancel := withDeadline(context.Background(), far)
		cancel()
		if err := c.Err(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Err = %v, want Canceled", err)
		}
		<-c.Done()
		if err := c.Err(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Err after Done = %v, want Canceled", err)
		}
	})
	t.Run("canceled after Done", func(t *testing.T) {
		c, cancel := withDeadline(context.Background(), far)
		done := c.Done()
		cancel()
		<-done
		if err := c.Err(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Err = %v, want Canceled", err)
		}
	})
	t.Run("parent canceled", func(t *testing.T) {
		parent, stop := context.WithCancel(context.WithValue(context.Background(), reqStateKey{}, &reqState{id: "x"}))
		c, cancel := withDeadline(parent, far)
		defer cancel()
		stop()
		if err := c.Err(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Err = %v, want the parent's Canceled", err)
		}
		<-c.Done()
		if stateFrom(c).id != "x" {
			t.Fatal("the parent's values are not seen")
		}
	})
	t.Run("derived context", func(t *testing.T) {
		c, cancel := withDeadline(context.Background(), far)
		child, stop := context.WithCancel(c)
		defer stop()
		cancel()
		<-child.Done()
		if err := child.Err(); !errors.Is(err, context.Canceled) {
			t.Fatalf("child Err = %v, want Canceled", err)
		}
	})
	t.Run("parent deadline earlier", func(t *testing.T) {
		near := time.Now().Add(time.Minute)
		parent, stop := context.WithDeadline(context.Background(), near)
		defer stop()
		c, cancel := withDeadline(parent, far)
		defer cancel()
		if d, _ := c.Deadline(); !d.Equal(near) {
			t.Fatalf("Deadline = %v, want the parent's %v", d, near)
		}
	})
}
