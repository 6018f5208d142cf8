package store

import (
	"errors"
	"fmt"

	"github.com/castellan-authz/castellan/lang/term"
)

// Errors returned by stores. Check them with errors.Is.
var (
	// ErrNotFound reports that a policy version or key does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict reports that a key with the same ID already exists.
	ErrConflict = errors.New("already exists")
	// ErrInvalidFact reports a fact that failed normalization or the
	// caller's validator; the error is an *InvalidFactError.
	ErrInvalidFact = errors.New("invalid fact")
	// ErrRevisionUnavailable reports that the store did not reach the
	// revision a read asked for (Consistency.AtLeast) in time.
	ErrRevisionUnavailable = errors.New("revision not available")
	// ErrUnavailable reports that the backend (PostgreSQL) cannot be
	// reached; the server answers 503. Nothing was written.
	ErrUnavailable = errors.New("store unavailable")
	// ErrPruned reports that the change log no longer holds the
	// revisions asked for: they were pruned past the store's retention.
	ErrPruned = errors.New("change log pruned")
	// ErrRevisionGone reports that a past revision a read asked for
	// exactly (PastReader.SnapshotAt) can no longer be read: the store
	// dropped what it saw (compaction) or never held it (a replica loaded
	// after it).
	ErrRevisionGone = errors.New("revision no longer readable")
	// ErrClosed reports use of a closed store.
	ErrClosed = errors.New("store closed")
)

// InvalidFactError says which fact of a batch was refused and why.
type InvalidFactError struct {
	// Index is the position of the fact among the inserted facts of the
	// batch, counting from 0 across all its Ops.
	Index int
	// Fact is the fact as the caller sent it.
	Fact term.Fact
	// Err is why it was refused.
	Err error
}

// Error describes the fact and the reason.
func (e *InvalidFactError) Error() string {
	return fmt.Sprintf("invalid fact %d (%s): %v", e.Index, e.Fact, e.Err)
}

// Unwrap returns ErrInvalidFact and the cause, so errors.Is matches both.
func (e *InvalidFactError) Unwrap() []error { return []error{ErrInvalidFact, e.Err} }
