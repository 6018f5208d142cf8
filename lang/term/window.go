package term

import (
	"fmt"
	"math"
	"time"
)

// Window is the validity window of a stored fact: the fact holds at the
// instants t with From <= t < Until. A zero From is "since always" and a
// zero Until "forever", so the zero Window is a fact that always holds.
// Stores keep windows to the microsecond (PostgreSQL's precision), in UTC;
// Fact.Normalize rounds them so.
type Window struct {
	From  time.Time
	Until time.Time
}

// The instants a window may name: those a signed 64-bit count of
// nanoseconds since 1970 can hold, so that every store and the index can
// keep them as integers.
var (
	minWindowTime = time.Unix(0, 0).UTC()
	maxWindowTime = time.Unix(0, math.MaxInt64).UTC().Truncate(time.Microsecond)
)

// IsZero reports whether w is unbounded on both sides.
func (w Window) IsZero() bool { return w.From.IsZero() && w.Until.IsZero() }

// Contains reports whether the instant t lies inside w.
func (w Window) Contains(t time.Time) bool {
	return (w.From.IsZero() || !t.Before(w.From)) && (w.Until.IsZero() || t.Before(w.Until))
}

// Nanos returns w as nanoseconds since 1970: from is math.MinInt64 when
// From is zero and until math.MaxInt64 when Until is zero. A fact holds at
// n when from <= n < until.
func (w Window) Nanos() (from, until int64) {
	from, until = math.MinInt64, math.MaxInt64
	if !w.From.IsZero() {
		from = w.From.UnixNano()
	}
	if !w.Until.IsZero() {
		until = w.Until.UnixNano()
	}
	return from, until
}

// WindowOfNanos is the inverse of Window.Nanos.
func WindowOfNanos(from, until int64) Window {
	var w Window
	if from != math.MinInt64 {
		w.From = time.Unix(0, from).UTC()
	}
	if until != math.MaxInt64 {
		w.Until = time.Unix(0, until).UTC()
	}
	return w
}

// Equal reports whether w and v bound the same instants.
func (w Window) Equal(v Window) bool { return w.From.Equal(v.From) && w.Until.Equal(v.Until) }

// normalize rounds w to the microsecond, in UTC, and checks it: each bound
// between 1970 and 2262, and Until after From.
func (w Window) normalize() (Window, error) {
	var out Window
	for _, b := range []struct {
		name string
		in   time.Time
		out  *time.Time
	}{{"valid_from", w.From, &out.From}, {"valid_until", w.Until, &out.Until}} {
		if b.in.IsZero() {
			continue
		}
		t := b.in.UTC().Truncate(time.Microsecond)
		if t.Before(minWindowTime) || t.After(maxWindowTime) {
			return w, fmt.Errorf("%w: %s %s is outside %s..%s", ErrInvalidValue, b.name,
				b.in.Format(time.RFC3339Nano), minWindowTime.Format(time.RFC3339), maxWindowTime.Format(time.RFC3339))
		}
		*b.out = t
	}
	if !out.From.IsZero() && !out.Until.IsZero() && !out.Until.After(out.From) {
		return w, fmt.Errorf("%w: valid_until %s is not after valid_from %s", ErrInvalidValue,
			out.Until.Format(time.RFC3339Nano), out.From.Format(time.RFC3339Nano))
	}
	return out, nil
}
