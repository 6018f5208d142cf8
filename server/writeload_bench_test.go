package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/castellan-authz/castellan/policy"
	"github.com/castellan-authz/castellan/store/pgtest"
	"github.com/castellan-authz/castellan/store/postgres"
)

// BenchmarkWritesUnderReads runs, on PostgreSQL through the whole handler
// stack (no network), 16 readers asking POST /api/authorize for
// writeLoadPhase alone, then 16 writers telling one fact per POST
// /api/facts alone, then both at once. It reports the tells per second
// (alone and under the readers) and their p50/p99 under the readers, and the readers' p99 with writers over their p99 without
// (target <= 1.5). Sub-benchmarks: writes committed in groups (the
// default) and each alone (MaxGroupBatches 1), the baseline. Run it with
// -benchtime 1x: each run is the two timed phases.
func BenchmarkWritesUnderReads(b *testing.B) {
	for _, mode := range []struct {
		name  string
		group int
	}{{"group=on", 0}, {"group=off", 1}} {
		b.Run(mode.name, func(b *testing.B) {
			st, err := postgres.Open(b.Context(), pgtest.NewDatabase(b), postgres.Options{MaxConns: 40, MaxGroupBatches: mode.group})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { st.Close() })
			cfg := DefaultConfig()
			cfg.AdminKey = "bench-admin-key-0123456789"
			srv, err := New(b.Context(), cfg, st)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := srv.Policies().Load(b.Context(), []policy.File{{Filename: "p.polar", Src: testPolicy}}, "bench"); err != nil {
				b.Fatal(err)
			}
			do := func(path, body string) (time.Duration, int) {
				req := httptest.NewRequest("POST", path, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+cfg.AdminKey)
				w := httptest.NewRecorder()
				t0 := time.Now()
				srv.ServeHTTP(w, req)
				return time.Since(t0), w.Code
			}
			for i := range 100 {
				do("/api/facts", fmt.Sprintf(`{"predicate":"has_role","args":[{"type":"User","id":"u%d"},{"type":"String","id":"member"},{"type":"Organization","id":"o%d"}]}`, i, i%10))
				do("/api/facts", fmt.Sprintf(`{"predicate":"has_relation","args":[{"type":"Repository","id":"r%d"},{"type":"String","id":"parent"},{"type":"Organization","id":"o%d"}]}`, i, i%10))
			}
			var seq atomic.Int64
			phase := func(readers, writers int) (reads, writes []time.Duration) {
				var (
					mu   sync.Mutex
					wg   sync.WaitGroup
					stop atomic.Bool
				)
				run := func(path string, body func() string, into *[]time.Duration) {
					defer wg.Done()
					var ds []time.Duration
					for !stop.Load() {
						d, code := do(path, body())
						if code != http.StatusOK && code != http.StatusCreated {
							b.Errorf("%s: status %d", path, code)
							return
						}
						ds = append(ds, d)
					}
					mu.Lock()
					*into = append(*into, ds...)
					mu.Unlock()
				}
				for i := range readers {
					wg.Add(1)
					body := fmt.Sprintf(`{"actor_type":"User","actor_id":"u%d","action":"read","resource_type":"Repository","resource_id":"r%d"}`, i, i)
					go run("/api/authorize", func() string { return body }, &reads)
				}
				for range writers {
					wg.Add(1)
					go run("/api/facts", func() string {
						return fmt.Sprintf(`{"predicate":"has_role","args":[{"type":"User","id":"w%d"},{"type":"String","id":"reader"},{"type":"Repository","id":"r1"}]}`, seq.Add(1))
					}, &writes)
				}
				time.Sleep(writeLoadPhase)
				stop.Store(true)
				wg.Wait()
				return reads, writes
			}
			p99 := func(ds []time.Duration) time.Duration {
				slices.Sort(ds)
				return ds[int(0.99*float64(len(ds)-1))]
			}
			for b.Loop() {
				alone, _ := phase(16, 0)
				_, writesAlone := phase(0, 16)
				reads, writes := phase(16, 16)
				if len(alone) == 0 || len(writesAlone) == 0 || len(reads) == 0 || len(writes) == 0 {
					b.Fatal("a phase made no request")
				}
				b.ReportMetric(float64(len(writesAlone))/writeLoadPhase.Seconds(), "tells/s-alone")
				b.ReportMetric(float64(len(writes))/writeLoadPhase.Seconds(), "tells/s")
				slices.Sort(writes)
				b.ReportMetric(float64(writes[len(writes)/2])/1e6, "tell-p50-ms")
				b.ReportMetric(float64(p99(writes))/1e6, "tell-p99-ms")
				b.ReportMetric(float64(p99(alone))/1e6, "read-p99-alone-ms")
				b.ReportMetric(float64(p99(reads))/1e6, "read-p99-writes-ms")
				b.ReportMetric(float64(p99(reads))/float64(p99(alone)), "read-p99-ratio")
			}
		})
	}
}

// writeLoadPhase is the length of each phase of BenchmarkWritesUnderReads.
const writeLoadPhase = 5 * time.Second
