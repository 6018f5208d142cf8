package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/castellan-authz/castellan/internal/cputime"
	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/memory"
)

// procKB reads a "Vm...:  N kB" line of /proc/self/status (0 elsewhere).
func procKB(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// BenchmarkListHTTP lists the 1,000,000 repositories alice reads (member
// of the organization that holds them, testPolicy) through POST /api/list
// on the memory store: unpaged (streamed; with the process RSS it adds at
// its peak, VmHWM after resetting it, against VmRSS before, freed memory
// returned to the system first), and a page of
// 100, first and next.
func BenchmarkListHTTP(b *testing.B) {
	const n = 1_000_000
	st := memory.New()
	b.Cleanup(func() { st.Close() })
	cfg := DefaultConfig()
	cfg.Dev = true
	cfg.MaxPageSize = n // for the token of a page ending at 500,000
	srv, err := New(b.Context(), cfg, st)
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	b.Cleanup(ts.Close)
	e := &testEnv{srv: srv, ts: ts, store: st}
	e.uploadPolicy(b, testPolicy)
	org := term.Entity("Organization", "big")
	batch := []term.Fact{{Predicate: "has_role", Args: []term.Value{term.Entity("User", "alice"), term.String("member"), org}}}
	for i := range n {
		batch = append(batch, term.Fact{Predicate: "has_relation", Args: []term.Value{term.Entity("Repository", "r"+strconv.Itoa(i)), term.String("parent"), org}})
		if len(batch) == 100_000 || i == n-1 {
			if _, err := st.Write(b.Context(), []store.Op{{Insert: batch}}); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	batch = nil
	list := func(b *testing.B, body map[string]any, out io.Writer) {
		js, _ := json.Marshal(body)
		resp, err := http.Post(ts.URL+"/api/list", "application/json", bytes.NewReader(js))
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			msg, _ := io.ReadAll(resp.Body)
			b.Fatalf("status %d: %s", resp.StatusCode, msg)
		}
		if _, err := io.Copy(out, resp.Body); err != nil {
			b.Fatal(err)
		}
	}
	query := map[string]any{"actor_type": "User", "actor_id": "alice", "action": "read", "resource_type": "Repository"}
	b.Run(fmt.Sprintf("unpaged/store=memory/ids=%d", n), func(b *testing.B) {
		var peak int64
		var cpu time.Duration
		ops := 0
		for b.Loop() {
			b.StopTimer()
			debug.FreeOSMemory() // what loading left is returned, not reused
			before := procKB("VmRSS")
			_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // resets VmHWM
			cpu0, ok0 := cputime.Process()
			b.StartTimer()
			var c commaCounter
			list(b, query, &c)
			if c.n != n-1 {
				b.Fatalf("%d ids, want %d", c.n+1, n)
			}
			b.StopTimer()
			if cpu1, ok1 := cputime.Process(); ok0 && ok1 {
				cpu += cpu1 - cpu0
				ops++
			}
			peak = max(peak, procKB("VmHWM")-before)
			b.StartTimer()
		}
		b.ReportMetric(float64(peak)/1024, "rss-added-MB")
		if ops > 0 {
			// The process's CPU: the server's and the client's (which
			// reads the answer and counts its commas), all threads.
			b.ReportMetric(float64(cpu)/float64(ops), "proc-cpu-ns/op")
		}
	})
	b.Run(fmt.Sprintf("page-100-at-500000-walk-not-kept/store=memory/ids=%d", n), func(b *testing.B) {
		// The page after a page of 500,000 whose walk the server no
		// longer keeps (another replica's token, or one evicted): it
		// resumes the walk from the place its token names.
		var first struct {
			Next string `json:"next_page_token"`
		}
		var buf bytes.Buffer
		body := maps.Clone(query)
		body["page_size"] = n / 2
		list(b, body, &buf)
		if err := json.Unmarshal(buf.Bytes(), &first); err != nil || first.Next == "" {
			b.Fatalf("first page: token %q, %v", first.Next, err)
		}
		body["page_size"], body["page_token"] = 100, first.Next
		var cpu time.Duration
		ops := 0
		for b.Loop() {
			b.StopTimer()
			srv.cursors.Clear()
			cpu0, ok0 := cputime.Process()
			b.StartTimer()
			var c commaCounter
			list(b, body, &c)
			if c.n < 99 {
				b.Fatalf("%d ids, want 100", c.n+1)
			}
			b.StopTimer()
			if cpu1, ok1 := cputime.Process(); ok0 && ok1 {
				cpu += cpu1 - cpu0
				ops++
			}
			b.StartTimer()
		}
		if ops > 0 {
			b.ReportMetric(float64(cpu)/float64(ops), "proc-cpu-ns/op")
		}
	})
	b.Run(fmt.Sprintf("authorize-while-lists=0,2/store=memory/ids=%d", n), func(b *testing.B) {
		for b.Loop() {
			p50, p99 := authorizeLatency(b, ts.URL, 5000)
			b.ReportMetric(float64(p50), "alone-p50-ns")
			b.ReportMetric(float64(p99), "alone-p99-ns")
			var stop atomic.Bool
			var wg sync.WaitGroup
			for range 2 {
				wg.Go(func() {
					for !stop.Load() {
						list(b, query, io.Discard)
					}
				})
			}
			p50, p99 = authorizeLatency(b, ts.URL, 5000)
			stop.Store(true)
			wg.Wait()
			b.ReportMetric(float64(p50), "lists-p50-ns")
			b.ReportMetric(float64(p99), "lists-p99-ns")
		}
	})
	b.Run(fmt.Sprintf("page-100/store=memory/ids=%d", n), func(b *testing.B) {
		for b.Loop() {
			list(b, map[string]any{"actor_type": "User", "actor_id": "alice", "action": "read", "resource_type": "Repository", "page_size": 100}, io.Discard)
		}
	})
	b.Run(fmt.Sprintf("page-100-next/store=memory/ids=%d", n), func(b *testing.B) {
		page := map[string]any{"actor_type": "User", "actor_id": "alice", "action": "read", "resource_type": "Repository", "page_size": 100}
		for b.Loop() {
			var buf bytes.Buffer
			list(b, page, &buf)
			var out struct {
				Next *string `json:"next_page_token"`
			}
			if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
				b.Fatal(err)
			}
			if out.Next == nil {
				delete(page, "page_token")
			} else {
				page["page_token"] = *out.Next
			}
		}
	})
}

// authorizeLatency sends n authorize requests one after another (alice
// reads one repository) and returns their p50 and p99.
func authorizeLatency(b *testing.B, url string, n int) (p50, p99 time.Duration) {
	body := []byte(`{"actor_type":"User","actor_id":"alice","action":"read","resource_type":"Repository","resource_id":"r7"}`)
	samples := make([]time.Duration, 0, n)
	for range n {
		start := time.Now()
		resp, err := http.Post(url+"/api/authorize", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		samples = append(samples, time.Since(start))
	}
	slices.Sort(samples)
	return samples[n/2], samples[n*99/100]
}

// commaCounter counts the commas written to it (ids - 1 in a list answer).
type commaCounter struct{ n int }

func (c *commaCounter) Write(p []byte) (int, error) {
	c.n += bytes.Count(p, []byte{','})
	return len(p), nil
}
