package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// The writes mode (castellan-load writes) measures single-fact writes
// under read load: -writers writers each tell one fact per POST
// /api/facts (a has_role of a user and repository no check asks about)
// while -c readers send the prepared POST /api/authorize checks. The
// readers run alone and with the writers in turns of the same length, so
// that their p99 with writers is compared with their p99 alone in the same
// run; the writers also run alone once. Every read is checked against the
// oracle; at the end a sample of the written facts must be allowed, read
// at the revision of the last write (OsoOffset), and a fact never written
// denied. Meant for `castellan serve` on PostgreSQL (-database-url), where
// concurrent writes are committed in groups. On PostgreSQL it also reports
// the database server's CPU per tell (when it runs on this machine: the
// postmaster named in its data directory and its processes, from /proc)
// and the tells a transaction committed (revisions sharing a
// committed_at), alone and with the readers.

// writeTarget tells facts from writers and remembers the highest revision
// a write returned.
type writeTarget struct {
	ses  *session
	next atomic.Int64  // the number of the last fact taken by a writer
	rev  atomic.Uint64 // the highest OsoOffset returned

	mu   sync.Mutex
	told []int64 // the numbers of the facts whose tell succeeded
}

// writtenFact is the body of the n-th fact told.
func writtenFact(n int64) []byte {
	return fmt.Appendf(nil, `{"predicate":"has_role","args":[{"type":"User","id":"writer-user-%d"},{"type":"String","id":"reader"},{"type":"Repository","id":"writer-repo-%d"}]}`, n, n)
}

// writtenCheck is the authorize body that the n-th fact allows.
func writtenCheck(n int64) []byte {
	return fmt.Appendf(nil, `{"actor_type":"User","actor_id":"writer-user-%d","action":"read","resource_type":"Repository","resource_id":"writer-repo-%d","context_facts":[]}`, n, n)
}

// run tells facts from conc writers for d and returns the measurements.
func (wt *writeTarget) run(ctx context.Context, conc int, d time.Duration) *result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		mu  sync.Mutex
		res = &result{name: "writers"}
		wg  sync.WaitGroup
	)
	url := wt.ses.base + "/api/facts"
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := &result{lat: make([]time.Duration, 0, 1<<10)}
			buf := make([]byte, 0, 512)
			for ctx.Err() == nil {
				n := wt.next.Add(1)
				t0 := time.Now()
				rev, err := wt.tell(ctx, url, writtenFact(n), &buf)
				lat := time.Since(t0)
				if err != nil && ctx.Err() != nil {
					break
				}
				local.requests++
				local.lat = append(local.lat, lat)
				if err != nil {
					local.errors++
					if local.firstErr == "" {
						local.firstErr = err.Error()
					}
					continue
				}
				wt.mu.Lock()
				wt.told = append(wt.told, n)
				wt.mu.Unlock()
				for {
					cur := wt.rev.Load()
					if rev <= cur || wt.rev.CompareAndSwap(cur, rev) {
						break
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			res.add(local)
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

// tell sends one fact and returns the revision of its write.
func (wt *writeTarget) tell(ctx context.Context, url string, body []byte, buf *[]byte) (uint64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", wt.ses.header["Authorization"])
	resp, err := wt.ses.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	*buf = b
	if err != nil {
		return 0, fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return 0, fmt.Errorf("tell: status %s: %s", resp.Status, b)
	}
	rev, err := strconv.ParseUint(resp.Header.Get("OsoOffset"), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("tell: no revision in OsoOffset (%q)", resp.Header.Get("OsoOffset"))
	}
	return rev, nil
}

// verify reads back a sample of the facts told, at the revision of the
// last write: each must be allowed, and a fact never told denied.
func (wt *writeTarget) verify(ctx context.Context) error {
	if len(wt.told) == 0 {
		return errors.New("no fact was told")
	}
	header := map[string]string{"Authorization": wt.ses.header["Authorization"], "OsoOffset": strconv.FormatUint(wt.rev.Load(), 10)}
	var checks []check
	for _, n := range wt.told[max(0, len(wt.told)-100):] {
		checks = append(checks, check{body: writtenCheck(n), allowed: true})
	}
	checks = append(checks, check{body: writtenCheck(wt.next.Load() + 1_000_000), allowed: false})
	dr := &driver{name: "read back", poster: wt.ses.poster, url: wt.ses.base + "/api/authorize", header: header, checks: checks, verify: true}
	buf := make([]byte, 0, 512)
	for _, c := range checks {
		allowed, err := dr.do(ctx, c.body, &buf)
		if err != nil {
			return fmt.Errorf("reading back the facts told: %w", err)
		}
		if allowed != c.allowed {
			return fmt.Errorf("reading back the facts told at revision %d: %s answered allowed=%t, want %t", wt.rev.Load(), c.body, allowed, c.allowed)
		}
	}
	return nil
}

// runWrites runs the writes mode.
func runWrites(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if cfg.writers < 1 {
		return errors.New("-writers must be at least 1")
	}
	ses, err := openSession(ctx, cfg, stdout)
	if err != nil {
		return err
	}
	defer ses.close()
	checks := ses.model.checks(cfg.seed, cfg.checks, cfg.related)
	ses.model = nil
	readers := &driver{name: "readers", poster: ses.poster, url: ses.base + "/api/authorize", header: ses.header, checks: checks, verify: true}
	wt := &writeTarget{ses: ses}
	if cfg.warmup > 0 {
		fmt.Fprintf(stdout, "warming up readers and writers for %s ...\n", cfg.warmup)
		readers.run(ctx, cfg.conc, cfg.warmup, cfg.maxRequests, 0)
		wt.run(ctx, cfg.writers, cfg.warmup)
	}
	var (
		alone, mixed                = &result{name: "readers alone"}, &result{name: "readers with writers"}
		writersAlone, writersMixed  = &result{name: "writers alone"}, &result{name: "writers with readers"}
		slice                       = cfg.duration / time.Duration(cfg.rounds)
		cpuAlone, cpuMixed, cpuWAlo = &result{}, &result{}, &result{}
	)
	fmt.Fprintf(stdout, "measuring for %s per phase (%d readers alone, %d writers alone, both), in %d turns of %s ...\n",
		cfg.duration, cfg.conc, cfg.writers, cfg.rounds, slice)
	// The revisions the writers took in each turn of their two phases, to
	// count the transactions that committed them.
	var aloneRevs, mixedRevs [][2]uint64
	meter := cpuMeter{pid: ses.serverPID}
	if cfg.databaseURL != "" {
		meter.postmaster = postmasterPID(ctx, cfg.databaseURL)
	}
	for round := range cfg.rounds {
		meter.measure(cpuAlone, func() {
			alone.add(readers.run(ctx, cfg.conc, slice, cfg.maxRequests, round*7919))
		})
		r0 := wt.rev.Load()
		meter.measure(cpuWAlo, func() { writersAlone.add(wt.run(ctx, cfg.writers, slice)) })
		aloneRevs = append(aloneRevs, [2]uint64{r0, wt.rev.Load()})
		r0 = wt.rev.Load()
		meter.measure(cpuMixed, func() {
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				writersMixed.add(wt.run(ctx, cfg.writers, slice))
			}()
			mixed.add(readers.run(ctx, cfg.conc, slice, cfg.maxRequests, round*7919+1))
			wg.Wait()
		})
		mixedRevs = append(mixedRevs, [2]uint64{r0, wt.rev.Load()})
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	verr := wt.verify(ctx)
	for _, r := range []*result{alone, mixed, writersAlone, writersMixed} {
		slices.Sort(r.lat)
	}
	fmt.Fprintf(stdout, "\nmachine: %s\n", machine())
	fmt.Fprintf(stdout, "client: %s (readers; writers net/http)\n", cfg.client)
	fmt.Fprintf(stdout, "data: %d facts loaded in %s, store %s; %d facts told in all (revision %d)\n",
		ses.facts, ses.load.Round(time.Millisecond), ses.store, len(wt.told), wt.rev.Load())
	fmt.Fprintf(stdout, "%-22s %9s %9s %9s %9s %9s %9s %7s %6s\n", "phase", "requests", "req/s", "p50", "p90", "p99", "p99.9", "errors", "wrong")
	for _, r := range []*result{alone, mixed, writersAlone, writersMixed} {
		wrong := fmt.Sprint(r.wrong)
		if r == writersAlone || r == writersMixed {
			wrong = "-"
		}
		fmt.Fprintf(stdout, "%-22s %9d %9.0f %9s %9s %9s %9s %7d %6s\n", r.name, r.requests, r.rps(),
			fmtDur(r.quantile(0.5)), fmtDur(r.quantile(0.9)), fmtDur(r.quantile(0.99)), fmtDur(r.quantile(0.999)), r.errors, wrong)
	}
	ratio := 0.0
	if p := alone.quantile(0.99); p > 0 {
		ratio = float64(mixed.quantile(0.99)) / float64(p)
	}
	fmt.Fprintf(stdout, "\nreaders' p99 with writers / alone: %.2fx (target <= 1.5x: %s); tells/s with readers %.0f (alone %.0f), tell p50 %s p99 %s\n",
		ratio, verdict(ratio <= 1.5), writersMixed.rps(), writersAlone.rps(), fmtDur(writersMixed.quantile(0.5)), fmtDur(writersMixed.quantile(0.99)))
	if cpuAlone.serverCPUKnown {
		per := func(d time.Duration, n int) string { return fmtDur(d / time.Duration(max(n, 1))) }
		fmt.Fprintf(stdout, "server CPU: %s per read alone; %s per tell alone; %s per request with both\n",
			per(cpuAlone.serverCPU, alone.requests), per(cpuWAlo.serverCPU, writersAlone.requests),
			per(cpuMixed.serverCPU, mixed.requests+writersMixed.requests))
	}
	if cpuWAlo.databaseCPUKnown {
		per := func(d time.Duration, n int) string { return fmtDur(d / time.Duration(max(n, 1))) }
		fmt.Fprintf(stdout, "database CPU: %s per read alone; %s per tell alone; %s per tell with readers\n",
			per(cpuAlone.databaseCPU, alone.requests), per(cpuWAlo.databaseCPU, writersAlone.requests),
			per(cpuMixed.databaseCPU, writersMixed.requests))
	}
	if cfg.databaseURL != "" {
		a, errA := tellsPerTransaction(ctx, cfg.databaseURL, aloneRevs)
		m, errM := tellsPerTransaction(ctx, cfg.databaseURL, mixedRevs)
		if errA == nil && errM == nil {
			fmt.Fprintf(stdout, "tells a transaction (group commit): %.1f alone, %.1f with readers\n", a, m)
		}
	}
	var failed []string
	for _, r := range []*result{alone, mixed, writersAlone, writersMixed} {
		if r.errors > 0 || r.wrong > 0 || r.requests == 0 {
			failed = append(failed, fmt.Sprintf("%s: %d requests, %d errors, %d wrong (first: %s)", r.name, r.requests, r.errors, r.wrong, r.firstErr))
		}
	}
	if verr != nil {
		failed = append(failed, verr.Error())
	}
	if len(failed) > 0 {
		return errors.New(strings.Join(failed, "; "))
	}
	return nil
}

// tellsPerTransaction returns the revisions in the ranges (lo, hi] divided
// by the transactions that committed them, on a PostgreSQL store: the
// revisions of one transaction share its start time (committed_at).
func tellsPerTransaction(ctx context.Context, url string, ranges [][2]uint64) (float64, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	var revs, txs int64
	for _, r := range ranges {
		var n, t int64
		if err := conn.QueryRow(ctx, "SELECT count(*), count(DISTINCT committed_at) FROM revisions WHERE revision > $1 AND revision <= $2", int64(r[0]), int64(r[1])).Scan(&n, &t); err != nil {
			return 0, err
		}
		revs, txs = revs+n, txs+t
	}
	return float64(revs) / float64(max(txs, 1)), nil
}
