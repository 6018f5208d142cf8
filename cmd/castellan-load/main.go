// Command castellan-load measures Castellan's HTTP authorization throughput
// and latency against a no-op baseline measured in the same run.
//
// It generates the deterministic GitHub-like model every layer's benchmarks
// share (evaltest.GitHubPolicy and evaltest.GitHubFacts: by default 10,000
// organizations, 100,000 repositories, 200,000 issues, about 1.1 million
// facts), uploads its policy and bulk-inserts the facts through POST
// /api/batch, then sends POST /api/authorize requests from -c concurrent
// workers for -d, with a mix of checks that are allowed and denied, and
// reports requests per second and latency percentiles. Every answer is
// compared with the right one, computed from the model by an oracle written
// from the policy's text, so a fast wrong server does not pass. In the same run it
// drives a no-op chi server (started in-process on loopback, same client,
// same concurrency and duration, same request bodies; -noop-process moves
// it to a child process of its own, like castellan serve) and prints both
// side by side with the ratios and the CPU time per request.
//
// Usage:
//
//	castellan-load -serve [-database-url postgres://...] [flags]   # starts bin/castellan serve itself
//	castellan-load -url http://127.0.0.1:8080 [flags]              # a server started by hand
//	castellan-load failover [flags]                                # the failover test (make test-ha)
//	castellan-load soak [flags]                                    # memory under churn (see soak.go)
//	castellan-load batch -serve [flags]                            # checks/s in batches of -batch-size (see batch.go)
//	castellan-load writes -serve -database-url ... [flags]         # single-fact tells under read load (see writes.go)
//
// The failover mode starts the highly available topology of
// scripts/ha-cluster (Patroni, etcd, HAProxy, three castellan replicas),
// drives writers and readers through HAProxy, kills the primary PostgreSQL
// and then one replica, and checks that no acknowledged write is lost, no
// answer is wrong and the revisions have no gap (see failover.go).
//
// Only loopback targets are accepted, and every request loop is bounded by
// -d and -n.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	castellan "github.com/castellan-authz/castellan/clients/go"
)

// devToken is the Oso dev-server test token, accepted by `castellan serve --dev`.
const devToken = "e_0123456789_12345_osotesttoken01xiIn"

// config is one run's settings, filled from the flags.
type config struct {
	url         string        // base URL of a running server (loopback only)
	serve       bool          // start castellan serve instead
	castellan   string        // binary for -serve
	databaseURL string        // -serve on Postgres
	serveArgs   []string      // extra arguments for castellan serve
	key         string        // API key
	facts       int           // size of the model
	seed        uint64        // seed of the model and of the checks
	conc        int           // concurrent workers
	duration    time.Duration // measured phase per target
	rounds      int           // turns the targets take
	warmup      time.Duration // unmeasured phase per target
	maxRequests int           // bound on requests per phase
	checks      int           // distinct prepared requests
	related     float64       // share of checks whose user is related to the repository
	chunk       int           // facts per POST /api/batch
	clear       bool          // POST /api/clear_data before loading
	offset      bool          // send the OsoOffset of the load with each check
	noopProcess bool          // run the no-op server in a child process
	writeFacts  string        // write the model as JSON Lines (and its policy) and stop
	noLoad      bool          // the server holds the model already
	batchSize   int           // batch mode: checks per request
	endpoints   string        // batch mode: the endpoints to drive
	writers     int           // writes mode: concurrent writers
	cpuProfile  string        // batch mode: the load generator's CPU profile
	client      string        // the measuring HTTP client (clientNames)
}

// parseFlags parses args into a config.
func parseFlags(args []string, stderr io.Writer) (*config, error) {
	cfg := &config{}
	fs := flag.NewFlagSet("castellan-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.url, "url", "", "base URL of a running castellan serve (loopback only)")
	fs.BoolVar(&cfg.serve, "serve", false, "start `castellan serve --dev` on a free loopback port (memory store unless -database-url)")
	fs.StringVar(&cfg.castellan, "castellan", "", "castellan binary for -serve (default ./bin/castellan, else castellan on the PATH)")
	fs.StringVar(&cfg.databaseURL, "database-url", "", "with -serve: run on this PostgreSQL database (applies migrations)")
	serveArgs := fs.String("serve-args", "", "with -serve: extra space-separated arguments for castellan serve")
	fs.StringVar(&cfg.key, "key", devToken, "API key (Authorization: Bearer)")
	fs.IntVar(&cfg.facts, "facts", 10_000*factsPerOrg, "about this many facts in the generated model (evaltest.GitHubFacts: 112 per organization, 10 repositories per organization)")
	fs.Uint64Var(&cfg.seed, "seed", 1, "seed of the model and of the checks")
	fs.IntVar(&cfg.conc, "c", 16, "concurrent workers")
	fs.DurationVar(&cfg.duration, "d", 30*time.Second, "measured duration per target")
	fs.IntVar(&cfg.rounds, "rounds", 5, "the targets take turns: -d is measured in this many slices per target")
	fs.DurationVar(&cfg.warmup, "warmup", 2*time.Second, "unmeasured warm-up per target")
	fs.IntVar(&cfg.maxRequests, "n", 50_000_000, "at most this many requests per phase")
	fs.IntVar(&cfg.checks, "checks", 10_000, "distinct prepared check requests, sent round-robin")
	fs.Float64Var(&cfg.related, "related", 0.7, "share of checks whose user holds a role on the repository or its organization")
	fs.IntVar(&cfg.chunk, "chunk", 10_000, "facts per POST /api/batch while loading")
	fs.BoolVar(&cfg.clear, "clear", false, "POST /api/clear_data before loading (always done with -serve)")
	fs.BoolVar(&cfg.noopProcess, "noop-process", false, "run the no-op server in a child process instead of in this one (fairer when other work competes for the CPUs)")
	fs.BoolVar(&cfg.offset, "offset", true, "send the OsoOffset of the load with every check, as the Oso SDKs do")
	fs.StringVar(&cfg.writeFacts, "write-facts", "", "write the model's facts to this file as JSON Lines (for castellan import) and its policy to FILE.polar, then stop")
	fs.BoolVar(&cfg.noLoad, "no-load", false, "do not load: the server at -url holds this model already (same -facts and -seed), e.g. from castellan import of -write-facts")
	fs.IntVar(&cfg.batchSize, "batch-size", 100, "batch mode: checks per request")
	fs.StringVar(&cfg.endpoints, "endpoints", strings.Join(batchEndpoints, ","), "batch mode: the endpoints to drive, comma-separated")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "batch mode: write this load generator's CPU profile over the measured turns to this `file`")
	fs.StringVar(&cfg.client, "client", "net/http", "the HTTP client of the measured requests: "+strings.Join(clientNames, " or ")+" (fasthttp spends less of the shared CPU per request)")
	fs.IntVar(&cfg.writers, "writers", 16, "writes mode: concurrent writers, each telling one fact per request (-c readers authorize meanwhile)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	cfg.serveArgs = strings.Fields(*serveArgs)
	switch {
	case cfg.writeFacts == "" && cfg.serve == (cfg.url != ""):
		return nil, errors.New("give exactly one of -serve and -url")
	case !cfg.serve && (cfg.databaseURL != "" || cfg.castellan != "" || len(cfg.serveArgs) > 0):
		return nil, errors.New("-database-url, -castellan and -serve-args need -serve")
	case cfg.conc < 1, cfg.facts < 1, cfg.checks < 1, cfg.chunk < 1, cfg.maxRequests < 1, cfg.rounds < 1:
		return nil, errors.New("-c, -facts, -checks, -chunk, -n and -rounds must be at least 1")
	case cfg.duration <= 0 || cfg.warmup < 0:
		return nil, errors.New("-d must be positive and -warmup not negative")
	case cfg.related < 0 || cfg.related > 1:
		return nil, errors.New("-related must be between 0 and 1")
	case !slices.Contains(clientNames, cfg.client):
		return nil, fmt.Errorf("-client: unknown client %q (known: %s)", cfg.client, strings.Join(clientNames, ", "))
	}
	if !cfg.serve && cfg.writeFacts == "" {
		if err := checkLoopback(cfg.url); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

func main() {
	if os.Getenv(noopEnv) == "1" {
		if err := serveNoop(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "castellan-load: no-op server:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "castellan-load:", err)
		}
		os.Exit(1)
	}
}

// run parses args, runs the load and prints the report to stdout.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "failover" {
		return runFailover(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "soak" {
		return runSoak(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "writes" {
		return runWrites(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "batch" {
		return runBatch(ctx, args[1:], stdout, stderr)
	}
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if cfg.writeFacts != "" {
		return writeModel(cfg, stdout)
	}
	rep, err := measure(ctx, cfg, stdout)
	if err != nil {
		return err
	}
	rep.print(stdout)
	return rep.err()
}

// report is the outcome of one run.
type report struct {
	cfg                 *config
	store               string
	facts               int
	load                time.Duration
	expectAllowed       int // prepared checks whose right answer is allowed
	baseline, castellan *result
}

// session is a target ready for load: the server (started here with
// -serve, else at -url) holding the model, and the client to drive it.
type session struct {
	base      string // the server's base URL
	serverPID int    // of castellan serve when started here, else 0
	store     string // memory, postgres or "as configured (-url)"
	client    *http.Client
	model     *model
	facts     int           // facts sent (or held, with -no-load)
	load      time.Duration // time the load took
	header    map[string]string
	poster    poster // sends the measured requests (-client)
	closers   []func()
}

// close stops what openSession started.
func (s *session) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

// openSession starts the server (-serve) or checks the one at -url,
// generates the model, loads it (unless -no-load) and returns the session;
// the caller closes it. Progress goes to progress.
func openSession(ctx context.Context, cfg *config, progress io.Writer) (_ *session, err error) {
	ses := &session{store: "as configured (-url)", base: cfg.url}
	defer func() {
		if err != nil {
			ses.close()
		}
	}()
	clear := cfg.clear
	if cfg.serve {
		bin, err := findCastellan(cfg.castellan)
		if err != nil {
			return nil, err
		}
		srv, err := startCastellan(ctx, bin, cfg.databaseURL, cfg.serveArgs)
		if err != nil {
			return nil, err
		}
		ses.closers = append(ses.closers, func() { _ = srv.stop() })
		ses.serverPID = srv.cmd.Process.Pid
		ses.base, clear = srv.url, true
		ses.store = "memory"
		if cfg.databaseURL != "" {
			ses.store = "postgres"
		}
	}

	transport := &http.Transport{
		MaxIdleConns:        2 * cfg.conc,
		MaxIdleConnsPerHost: 2 * cfg.conc,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	ses.closers = append(ses.closers, transport.CloseIdleConnections)
	ses.client = &http.Client{Transport: transport, Timeout: 30 * time.Second}
	if ses.poster, err = newPoster(cfg.client, 2*cfg.conc); err != nil {
		return nil, err
	}
	ses.closers = append(ses.closers, ses.poster.close)

	m, err := newModel(cfg.seed, cfg.facts)
	if err != nil {
		return nil, err
	}
	ses.model = m
	fmt.Fprintf(progress, "loading %d facts (%d organizations, %d repositories, %d issues, %d users) into %s ...\n",
		len(m.facts), m.orgs, len(m.repoIDs), len(m.issueIDs), len(m.users), ses.base)
	loader := castellan.New(ses.base, cfg.key, castellan.WithHTTPClient(&http.Client{Transport: transport, Timeout: 5 * time.Minute}))
	start := time.Now()
	ses.facts = len(m.facts)
	if !cfg.noLoad {
		ses.facts, err = load(ctx, loader, m, cfg.chunk, clear)
		if err != nil {
			return nil, err
		}
	}
	ses.load = time.Since(start)
	ses.header = map[string]string{"Authorization": "Bearer " + cfg.key}
	if off := loader.Offset(); cfg.offset && off != "" {
		ses.header["OsoOffset"] = off
	}
	return ses, nil
}

// measure loads the model into the target, then drives the no-op baseline
// and the target in turn. Progress goes to progress.
func measure(ctx context.Context, cfg *config, progress io.Writer) (*report, error) {
	ses, err := openSession(ctx, cfg, progress)
	if err != nil {
		return nil, err
	}
	defer ses.close()
	rep := &report{cfg: cfg, store: ses.store, facts: ses.facts, load: ses.load}
	base, serverPID, poster, header, m := ses.base, ses.serverPID, ses.poster, ses.header, ses.model

	checks := m.checks(cfg.seed, cfg.checks, cfg.related)
	for _, c := range checks {
		if c.allowed {
			rep.expectAllowed++
		}
	}
	ses.model = nil
	// Only the prepared checks are needed from here on: collect the model
	// now, so that this process's heap does not weigh on the measurements.
	debug.FreeOSMemory()

	var (
		baseURL      string
		stopBaseline func()
		noopPID      int // of the no-op server process, with -noop-process
	)
	if cfg.noopProcess {
		baseURL, stopBaseline, noopPID, err = startBaselineProcess()
	} else {
		baseURL, stopBaseline, err = startBaseline()
	}
	if err != nil {
		return nil, err
	}
	defer stopBaseline()
	targets := []struct {
		dr  *driver
		out **result
	}{
		{&driver{name: "no-op chi", url: baseURL + "/api/authorize"}, &rep.baseline},
		{&driver{name: "castellan", url: base + "/api/authorize", verify: true}, &rep.castellan},
	}
	for _, t := range targets {
		t.dr.poster, t.dr.header, t.dr.checks = poster, header, checks
		*t.out = &result{name: t.dr.name}
		if cfg.warmup > 0 {
			fmt.Fprintf(progress, "warming up %s for %s ...\n", t.dr.name, cfg.warmup)
			t.dr.run(ctx, cfg.conc, cfg.warmup, cfg.maxRequests, 0)
		}
	}
	// The targets take turns, so that a change in what else runs on the
	// machine weighs on both alike.
	slice := cfg.duration / time.Duration(cfg.rounds)
	fmt.Fprintf(progress, "measuring for %s per target at concurrency %d, in %d turns of %s ...\n",
		cfg.duration, cfg.conc, cfg.rounds, slice)
	for round := range cfg.rounds {
		for _, t := range targets {
			cpu := cpuMeter{pid: noopPID}
			if t.dr.verify {
				cpu.pid = serverPID
			}
			cpu.measure(*t.out, func() {
				(*t.out).add(t.dr.run(ctx, cfg.conc, slice, cfg.maxRequests, round*7919))
			})
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
	}
	for _, t := range targets {
		slices.Sort((*t.out).lat)
	}
	return rep, nil
}

// Targets: Castellan's throughput at least this share of the no-op's, and
// its p99 at most this multiple of the no-op's.
const (
	targetThroughput = 0.50
	targetP99        = 1.5
)

// print writes the report.
func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "\nmachine: %s\n", machine())
	fmt.Fprintf(w, "client: %s\n", r.cfg.client)
	if r.cfg.noLoad {
		fmt.Fprintf(w, "data: %d facts held by the server already (-no-load), store %s\n", r.facts, r.store)
	} else {
		fmt.Fprintf(w, "data: %d facts loaded in %s (%.0f facts/s), store %s\n",
			r.facts, r.load.Round(time.Millisecond), float64(r.facts)/r.load.Seconds(), r.store)
	}
	fmt.Fprintf(w, "load: POST /api/authorize, %d distinct checks (%.1f%% allowed), concurrency %d, %s per target in %d turns after %s warm-up\n",
		r.cfg.checks, 100*float64(r.expectAllowed)/float64(max(1, r.cfg.checks)), r.cfg.conc, r.cfg.duration, r.cfg.rounds, r.cfg.warmup)
	if r.cfg.noopProcess {
		fmt.Fprintln(w, "no-op chi: a separate process (-noop-process)")
	} else {
		fmt.Fprintln(w, "no-op chi: in this process")
	}
	fmt.Fprintf(w, "%-10s %10s %10s %9s %9s %9s %9s %9s %7s %6s\n",
		"target", "requests", "req/s", "p50", "p90", "p99", "p99.9", "max", "errors", "wrong")
	for _, res := range []*result{r.baseline, r.castellan} {
		wrong := fmt.Sprint(res.wrong)
		if res == r.baseline {
			wrong = "-"
		}
		fmt.Fprintf(w, "%-10s %10d %10.0f %9s %9s %9s %9s %9s %7d %6s\n", res.name, res.requests, res.rps(),
			fmtDur(res.quantile(0.50)), fmtDur(res.quantile(0.90)), fmtDur(res.quantile(0.99)),
			fmtDur(res.quantile(0.999)), fmtDur(res.quantile(1)), res.errors, wrong)
	}
	tput, p99 := r.ratios()
	fmt.Fprintf(w, "\ncastellan / no-op: throughput %.3f (target >= %.2f: %s), p99 %.3fx (target <= %.2fx: %s)\n",
		tput, targetThroughput, verdict(tput >= targetThroughput), p99, targetP99, verdict(p99 <= targetP99))
	if c := r.cpuPerRequest(); c != "" {
		fmt.Fprintf(w, "CPU per request: %s\n", c)
	}
	if r.castellan.firstErr != "" {
		fmt.Fprintf(w, "first castellan error: %s\n", r.castellan.firstErr)
	}
	if r.baseline.firstErr != "" {
		fmt.Fprintf(w, "first no-op error: %s\n", r.baseline.firstErr)
	}
}

// cpuPerRequest describes the CPU time one request cost: the castellan
// server's own (when this tool started it) and, for comparison, the no-op
// server's: its own with -noop-process, else estimated as this process's
// CPU per request in the no-op turns (client and no-op server) minus that
// in the castellan turns (client only).
func (r *report) cpuPerRequest() string {
	per := func(d time.Duration, n int) time.Duration { return d / time.Duration(max(n, 1)) }
	var parts []string
	if c := r.castellan; c.serverCPUKnown {
		parts = append(parts, fmt.Sprintf("castellan server %s", fmtDur(per(c.serverCPU, c.requests))))
	}
	if b := r.baseline; b.serverCPUKnown {
		parts = append(parts, fmt.Sprintf("no-op server %s", fmtDur(per(b.serverCPU, b.requests))))
	} else if b, c := r.baseline, r.castellan; b.selfCPUKnown && c.selfCPUKnown {
		withNoop, client := per(b.selfCPU, b.requests), per(c.selfCPU, c.requests)
		parts = append(parts, fmt.Sprintf("no-op server about %s (this process: %s per no-op request, %s per castellan request)",
			fmtDur(max(withNoop-client, 0)), fmtDur(withNoop), fmtDur(client)))
	}
	return strings.Join(parts, "; ")
}

// ratios returns Castellan's throughput as a share of the no-op's and its
// p99 as a multiple of the no-op's.
func (r *report) ratios() (throughput, p99 float64) {
	if b := r.baseline.rps(); b > 0 {
		throughput = r.castellan.rps() / b
	}
	if b := r.baseline.quantile(0.99); b > 0 {
		p99 = float64(r.castellan.quantile(0.99)) / float64(b)
	}
	return throughput, p99
}

// err fails the run when the server answered wrongly or with errors; missed
// speed targets are reported, not failed.
func (r *report) err() error {
	if r.castellan.errors > 0 || r.castellan.wrong > 0 || r.baseline.errors > 0 {
		return fmt.Errorf("castellan: %d errors and %d wrong decisions, no-op: %d errors", r.castellan.errors, r.castellan.wrong, r.baseline.errors)
	}
	if r.castellan.requests == 0 {
		return errors.New("castellan: no request completed")
	}
	return nil
}

// machine describes where the run happened: OS, CPUs, Go version and the
// load average before the report (other work on the machine skews figures).
func machine() string {
	cpu := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if name, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = " (" + strings.TrimSpace(strings.TrimLeft(name, " \t:")) + ")"
				break
			}
		}
	}
	load := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			load = ", load average " + strings.Join(f[:3], " ")
		}
	}
	return fmt.Sprintf("%s/%s, %d CPUs%s, %s%s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpu, runtime.Version(), load)
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// fmtDur prints a latency with three significant digits.
func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.1fµs", float64(d)/float64(time.Microsecond))
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}
