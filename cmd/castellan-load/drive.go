package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// result is what one load run against one target measured.
type result struct {
	name     string
	requests int           // completed requests (any status)
	errors   int           // transport errors and non-200 answers
	wrong    int           // 200 answers that contradict the oracle
	allowed  int           // 200 answers with allowed=true
	elapsed  time.Duration // wall time of the measured phase
	lat      []time.Duration
	firstErr string // the first error seen, for the report

	// CPU time used while measuring, by this process (the client, and the
	// no-op server when it is the target) and by the castellan server when
	// this tool started it.
	selfCPU, serverCPU           time.Duration
	selfCPUKnown, serverCPUKnown bool
	// The PostgreSQL server's CPU time (writes mode, when it runs on this
	// machine).
	databaseCPU      time.Duration
	databaseCPUKnown bool
}

// rps returns the throughput in requests per second.
func (r *result) rps() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.requests) / r.elapsed.Seconds()
}

// add adds the measurements of o to r.
func (r *result) add(o *result) {
	r.requests += o.requests
	r.errors += o.errors
	r.wrong += o.wrong
	r.allowed += o.allowed
	r.elapsed += o.elapsed
	r.lat = append(r.lat, o.lat...)
	if r.firstErr == "" {
		r.firstErr = o.firstErr
	}
}

// quantile returns the q-quantile (0..1) of the latencies, which must be
// sorted.
func (r *result) quantile(q float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(q * float64(len(r.lat)))
	return r.lat[min(i, len(r.lat)-1)]
}

// driver sends prepared authorize requests to one URL from a fixed number
// of workers.
type driver struct {
	name   string
	poster poster
	url    string            // full URL of POST /api/authorize
	header map[string]string // extra request headers (auth, OsoOffset)
	checks []check
	verify bool // compare answers with the oracle
}

// run drives the target with conc workers for d (stopping early after
// maxRequests requests), starting at check number first, and returns the
// measurements, latencies unsorted.
func (dr *driver) run(ctx context.Context, conc int, d time.Duration, maxRequests, first int) *result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		issued  atomic.Int64
		mu      sync.Mutex
		results = &result{name: dr.name}
		wg      sync.WaitGroup
	)
	start := time.Now()
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := &result{lat: make([]time.Duration, 0, 1<<14)}
			buf := make([]byte, 0, 512)
			for i := first + w; ctx.Err() == nil && issued.Add(1) <= int64(maxRequests); i += conc {
				c := &dr.checks[i%len(dr.checks)]
				t0 := time.Now()
				allowed, err := dr.do(ctx, c.body, &buf)
				lat := time.Since(t0)
				if err != nil && ctx.Err() != nil {
					break // cut off by the deadline: not a server error
				}
				local.requests++
				local.lat = append(local.lat, lat)
				switch {
				case err != nil:
					local.errors++
					if local.firstErr == "" {
						local.firstErr = err.Error()
					}
				case allowed:
					local.allowed++
				}
				if err == nil && dr.verify && allowed != c.allowed {
					local.wrong++
					if local.firstErr == "" {
						local.firstErr = fmt.Sprintf("wrong decision: %s answered allowed=%t, want %t", c.body, allowed, c.allowed)
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			results.requests += local.requests
			results.errors += local.errors
			results.wrong += local.wrong
			results.allowed += local.allowed
			results.lat = append(results.lat, local.lat...)
			if results.firstErr == "" {
				results.firstErr = local.firstErr
			}
		}()
	}
	wg.Wait()
	results.elapsed = time.Since(start)
	return results
}

// do sends one authorize request and decodes {"allowed": bool}.
func (dr *driver) do(ctx context.Context, body []byte, buf *[]byte) (bool, error) {
	status, err := dr.poster.post(ctx, dr.url, dr.header, body, buf)
	if err != nil {
		return false, err
	}
	if status != http.StatusOK {
		return false, fmt.Errorf("status %d: %s", status, bytes.TrimSpace(*buf))
	}
	var ans struct {
		Allowed *bool `json:"allowed"`
	}
	if err := json.Unmarshal(*buf, &ans); err != nil || ans.Allowed == nil {
		return false, fmt.Errorf("answer %q is not {\"allowed\": bool}", *buf)
	}
	return *ans.Allowed, nil
}
