package postgres_test

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/castellan-authz/castellan/lang/term"
	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/pgtest"
	"github.com/castellan-authz/castellan/store/postgres"
	"github.com/castellan-authz/castellan/store/storetest"
)

// bulkBatch is the number of facts per Write when loading.
const bulkBatch = 50_000

// loadFacts writes GitHubFacts(n) into s in batches of bulkBatch.
func loadFacts(tb testing.TB, s store.Store, n int) {
	tb.Helper()
	batch := make([]term.Fact, 0, bulkBatch)
	flush := func() {
		if len(batch) > 0 {
			write(tb, s, store.Op{Insert: batch})
			batch = batch[:0]
		}
	}
	for f := range storetest.GitHubFacts(n) {
		batch = append(batch, f)
		if len(batch) == bulkBatch {
			flush()
		}
	}
	flush()
}

// reportPercentiles reports the p50 and p99 of ds in milliseconds.
func reportPercentiles(b *testing.B, ds []time.Duration) {
	slices.Sort(ds)
	ms := func(q float64) float64 {
		return float64(ds[int(q*float64(len(ds)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
}

// BenchmarkBulkLoad loads n facts into an empty database through Write
// (COPY, batches of 50,000), with the CPU time per fact of this process and
// of the PostgreSQL server.
func BenchmarkBulkLoad(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("store=postgres/facts=%d", n), func(b *testing.B) {
			var total time.Duration
			var goCPU, pgCPU time.Duration
			for b.Loop() {
				b.StopTimer()
				url := pgtest.NewDatabase(b)
				s := open(b, url, postgres.Options{})
				pm := postmasterPID(b, url)
				b.StartTimer()
				t0 := time.Now()
				cpu := startCPU(pm)
				loadFacts(b, s, n)
				total += time.Since(t0)
				goCPU += processCPU() - cpu.goCPU
				pgCPU += postgresCPU(pm) - cpu.pgCPU
				b.StopTimer()
				s.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(n*b.N)/total.Seconds(), "facts/s")
			reportCPU(b, goCPU, pgCPU, n*b.N)
		})
	}
}

// BenchmarkWriteOne measures a one-fact batch on a store holding 100,000
// facts, with its latency percentiles.
func BenchmarkWriteOne(b *testing.B) {
	s := open(b, pgtest.NewDatabase(b), postgres.Options{})
	loadFacts(b, s, 100_000)
	var ds []time.Duration
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		f := term.Fact{Predicate: "has_role", Args: []term.Value{term.Entity("User", fmt.Sprint("bench-", i)), term.String("reader"), term.Entity("Repository", "repo-1")}}
		i++
		t0 := time.Now()
		write(b, s, store.Op{Insert: []term.Fact{f}})
		ds = append(ds, time.Since(t0))
	}
	reportPercentiles(b, ds)
}

// BenchmarkRebuild measures Open on a database holding n facts: reading
// every fact into the in-memory index.
func BenchmarkRebuild(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("store=postgres/facts=%d", n), func(b *testing.B) {
			url := pgtest.NewDatabase(b)
			s := open(b, url, postgres.Options{})
			loadFacts(b, s, n)
			s.Close()
			// A database in service has been vacuumed since its last bulk
			// load (hint bits set).
			c, err := pgx.Connect(b.Context(), url)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := c.Exec(b.Context(), "VACUUM ANALYZE facts"); err != nil {
				b.Fatal(err)
			}
			c.Close(b.Context())
			cpu := startCPU(postmasterPID(b, url))
			for b.Loop() {
				s, err := postgres.Open(b.Context(), url, postgres.Options{})
				if err != nil {
					b.Fatal(err)
				}
				if got := s.Index().Stats().Facts; got != n {
					b.Fatalf("rebuilt index holds %d facts, want %d", got, n)
				}
				s.Close()
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "facts/s")
			cpu.report(b, n*b.N)
		})
	}
}

// BenchmarkFollowLag measures the time from a one-fact Write returning on
// one store to the fact being in a second store's index (via NOTIFY and
// the change log), with its percentiles.
func BenchmarkFollowLag(b *testing.B) {
	url := pgtest.NewDatabase(b)
	writer := open(b, url, postgres.Options{})
	follower := open(b, url, postgres.Options{})
	var ds []time.Duration
	i := 0
	for b.Loop() {
		f := term.Fact{Predicate: "has_role", Args: []term.Value{term.Entity("User", fmt.Sprint("lag-", i)), term.String("reader"), term.Entity("Repository", "repo-1")}}
		i++
		rev := write(b, writer, store.Op{Insert: []term.Fact{f}})
		t0 := time.Now()
		for follower.IndexRevision() < rev {
			time.Sleep(50 * time.Microsecond)
		}
		ds = append(ds, time.Since(t0))
	}
	reportPercentiles(b, ds)
}

// BenchmarkWriteConcurrent measures one-fact batches from 16 concurrent
// writers on a store holding 100,000 facts (grouped commits), with the CPU
// time per write of this process and of the PostgreSQL server, and the
// latency percentiles.
func BenchmarkWriteConcurrent(b *testing.B) {
	url := pgtest.NewDatabase(b)
	s := open(b, url, postgres.Options{})
	loadFacts(b, s, 100_000)
	var (
		mu sync.Mutex
		ds []time.Duration
		n  atomic.Int64
	)
	b.SetParallelism((16 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	xacts := func() (commits, rollbacks int64) {
		c, err := pgx.Connect(b.Context(), url)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close(b.Context())
		if _, err := c.Exec(b.Context(), "SELECT pg_stat_clear_snapshot()"); err != nil {
			b.Fatal(err)
		}
		if err := c.QueryRow(b.Context(), "SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = current_database()").Scan(&commits, &rollbacks); err != nil {
			b.Fatal(err)
		}
		return commits, rollbacks
	}
	c0, r0 := xacts()
	cpu := startCPU(postmasterPID(b, url))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			i := n.Add(1)
			f := term.Fact{Predicate: "has_role", Args: []term.Value{term.Entity("User", fmt.Sprint("bench-", i)), term.String("reader"), term.Entity("Repository", "repo-1")}}
			t0 := time.Now()
			write(b, s, store.Op{Insert: []term.Fact{f}})
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		ds = append(ds, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	cpu.report(b, int(n.Load()))
	reportPercentiles(b, ds)
	// Writes per transaction: a transaction's revisions share its start
	// time.
	c, err := pgx.Connect(b.Context(), url)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(b.Context())
	var txs int64
	if err := c.QueryRow(b.Context(), `SELECT count(DISTINCT committed_at) FROM revisions WHERE revision > (SELECT max(revision) FROM revisions) - $1`, n.Load()).Scan(&txs); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(n.Load())/float64(max(txs, 1)), "writes/tx")
	time.Sleep(600 * time.Millisecond) // the statistics are sent every 500 ms
	c1, r1 := xacts()
	b.ReportMetric(float64(c1-c0)/float64(n.Load()), "commits/write")
	b.ReportMetric(float64(r1-r0)/float64(n.Load()), "rollbacks/write")
}
