package server

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/castellan-authz/castellan/internal/cputime"
	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/memory"
	"github.com/castellan-authz/castellan/store/pgtest"
	"github.com/castellan-authz/castellan/store/postgres"
)

// BenchmarkImport streams facts through POST /admin/v1/facts/import over
// HTTP into each store, checked against testPolicy, and reports facts/s.
// Each iteration imports n new facts (ids never repeat). cpu-ns/fact is
// the process's CPU time (client, server and garbage collector) per fact
// over the requests, which a busy machine inflates far less than wall time.
func BenchmarkImport(b *testing.B) {
	const n = 100_000
	stores := []struct {
		name string
		open func(b *testing.B) store.Backend
	}{
		{"memory", func(b *testing.B) store.Backend { return memory.New() }},
		{"postgres", func(b *testing.B) store.Backend {
			st, err := postgres.Open(b.Context(), pgtest.NewDatabase(b), postgres.Options{WaitTimeout: time.Minute})
			if err != nil {
				b.Fatal(err)
			}
			return st
		}},
	}
	for _, s := range stores {
		b.Run(fmt.Sprintf("store=%s/facts=%d", s.name, n), func(b *testing.B) {
			st := s.open(b)
			b.Cleanup(func() { st.Close() })
			cfg := DefaultConfig()
			cfg.Dev = true
			e := newTestEnvOn(b, cfg, st)
			e.uploadPolicy(b, testPolicy)
			var body bytes.Buffer
			round := 0
			var cpu time.Duration
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				body.Reset()
				for i := range n {
					body.WriteString(`{"predicate":"has_role","args":[{"type":"User","id":"u`)
					body.WriteString(strconv.Itoa(round*n + i))
					body.WriteString(`"},{"type":"String","id":"reader"},{"type":"Repository","id":"r`)
					body.WriteString(strconv.Itoa(i % 1000))
					body.WriteString("\"}]}\n")
				}
				round++
				b.StartTimer()
				c0, _ := cputime.Process()
				resp, err := http.Post(e.ts.URL+routeImport+"?batch_size=10000", "application/x-ndjson", bytes.NewReader(body.Bytes()))
				if err != nil {
					b.Fatal(err)
				}
				out, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				c1, _ := cputime.Process()
				cpu += c1 - c0
				if !bytes.Contains(out, []byte(`"done":true`)) {
					b.Fatalf("import: %s", out)
				}
			}
			b.ReportMetric(float64(round*n)/b.Elapsed().Seconds(), "facts/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(round*n), "cpu-ns/fact")
		})
	}
}
