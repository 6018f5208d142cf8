package server

import (
	"container/list"
	"fmt"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// codeTooManyAuthFailures is the envelope code of a failed-authentication
// limit's 429 (the in-flight limit's is codeTooManyRequests).
const codeTooManyAuthFailures = "too_many_auth_failures"

// Reasons a request failed authentication (castellan_auth_failures_total).
const (
	authMissing     = "missing"      // no key, outside dev mode
	authMalformed   = "malformed"    // not a Bearer header, or not a key Castellan issues
	authUnknownKey  = "unknown_key"  // a well-formed key whose id does not exist
	authWrongSecret = "wrong_secret" // a key id that exists, with the wrong secret
	authBadToken    = "bad_token"    // a caller or on-behalf-of token that failed verification
)

// What a failed-authentication limit was keyed by
// (castellan_auth_rate_limited_total).
const (
	limitByClient = "client"
	limitByKey    = "key"
)

// authLimiter limits failed authentications with token buckets: one per
// client address and one per key id. Every failure takes a token; a client
// with none left is answered 429 before its key is looked up at all, and a
// key id with none left gets 429 for each further wrong secret. Requests
// that authenticate take no token. Each table keeps at most max buckets,
// dropping the least recently used, so a flood of distinct addresses or
// ids cannot grow memory without bound.
type authLimiter struct {
	clients *bucketTable // nil: no per-client limit
	keys    *bucketTable // nil: no per-key limit
}

func newAuthLimiter(cfg Config) *authLimiter {
	l := &authLimiter{}
	if cfg.AuthFailureRate > 0 {
		l.clients = newBucketTable(rate.Limit(cfg.AuthFailureRate), cfg.AuthFailureBurst, cfg.AuthLimitEntries)
	}
	if cfg.KeyFailureRate > 0 {
		l.keys = newBucketTable(rate.Limit(cfg.KeyFailureRate), cfg.KeyFailureBurst, cfg.AuthLimitEntries)
	}
	return l
}

// bucketTable is a bounded LRU map from an identity to its token bucket.
type bucketTable struct {
	limit rate.Limit
	burst int
	max   int

	mu    sync.Mutex
	byKey map[string]*list.Element // of *bucket
	lru   *list.List               // front: most recently used
	size  atomic.Int64             // lru.Len(), read without the lock
}

type bucket struct {
	key string
	lim *rate.Limiter
}

func newBucketTable(limit rate.Limit, burst, max int) *bucketTable {
	return &bucketTable{limit: limit, burst: burst, max: max, byKey: make(map[string]*list.Element), lru: list.New()}
}

// wait returns how long key must wait for a token; 0 when it has one (or
// no bucket: it never failed, or not lately enough to be remembered).
func (t *bucketTable) wait(key string, now time.Time) time.Duration {
	if t == nil || t.size.Load() == 0 {
		return 0 // the common case: no failures lately, no lock taken
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	el, ok := t.byKey[key]
	if !ok {
		return 0
	}
	return untilToken(el.Value.(*bucket).lim, now)
}

// take takes a token from key's bucket (creating it, and evicting the
// least recently used bucket when the table is full). It returns how long
// key had to wait for a token before this one was taken: 0 when it had one.
func (t *bucketTable) take(key string, now time.Time) time.Duration {
	if t == nil {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	el, ok := t.byKey[key]
	if ok {
		t.lru.MoveToFront(el)
	} else {
		if t.lru.Len() >= t.max {
			oldest := t.lru.Back()
			t.lru.Remove(oldest)
			delete(t.byKey, oldest.Value.(*bucket).key)
		}
		el = t.lru.PushFront(&bucket{key: key, lim: rate.NewLimiter(t.limit, t.burst)})
		t.byKey[key] = el
		t.size.Store(int64(t.lru.Len()))
	}
	lim := el.Value.(*bucket).lim
	before := untilToken(lim, now)
	lim.AllowN(now, 1)
	return before
}

// len returns the number of buckets held.
func (t *bucketTable) len() int { return int(t.size.Load()) }

// untilToken is how long lim needs to hold one whole token again.
func untilToken(lim *rate.Limiter, now time.Time) time.Duration {
	missing := 1 - lim.TokensAt(now)
	if missing <= 0 {
		return 0
	}
	return time.Duration(missing / float64(lim.Limit()) * float64(time.Second))
}

// checkClient answers whether the client of r may try to authenticate: a
// 429 error when it has no failures left.
func (s *Server) checkClient(r *http.Request) error {
	t := s.authLimits.clients
	if t == nil || t.size.Load() == 0 {
		return nil // nobody failed lately: skip finding the client
	}
	client := s.proxies.client(r)
	if d := t.wait(client, s.now()); d > 0 {
		return s.tooManyFailures(limitByClient, "from "+client, d)
	}
	return nil
}

// authFailed records a failed authentication of r, with key id (empty
// when the credential named none), and returns the error to answer with:
// failure itself (401), or a 429 when the key id had no failures left
// (the client's limit is checked before authentication, by checkClient).
func (s *Server) authFailed(r *http.Request, reason, id string, failure error) error {
	s.metrics.authFailures.WithLabelValues(reason).Inc()
	if reason == authMissing {
		return failure // a request with no key guesses nothing
	}
	now := s.now()
	if s.authLimits.clients != nil {
		s.authLimits.clients.take(s.proxies.client(r), now)
	}
	if id != "" {
		if d := s.authLimits.keys.take(id, now); d > 0 {
			return s.tooManyFailures(limitByKey, "for API key id "+id, d)
		}
	}
	return failure
}

// tooManyFailures is the 429 of a failed-authentication limit, counted.
func (s *Server) tooManyFailures(by, who string, wait time.Duration) error {
	s.metrics.authRateLimited.WithLabelValues(by).Inc()
	secs := int(math.Ceil(wait.Seconds()))
	return &apiError{Status: http.StatusTooManyRequests, Code: codeTooManyAuthFailures, RetryAfter: secs,
		Message: fmt.Sprintf("too many failed authentication attempts %s; retry after %d s", who, secs)}
}
