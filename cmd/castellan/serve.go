package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/castellan-authz/castellan/gitpolicy"
	"github.com/castellan-authz/castellan/internal/gctune"
	"github.com/castellan-authz/castellan/internal/tick"
	"github.com/castellan-authz/castellan/lang/ast"
	"github.com/castellan-authz/castellan/policy"
	"github.com/castellan-authz/castellan/server"
	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/memory"
	"github.com/castellan-authz/castellan/store/postgres"
)

// serveConfig is everything `castellan serve` is told, by flags and
// CASTELLAN_* variables (flags win).
type serveConfig struct {
	Addr            string
	DatabaseURL     string `json:"-"`
	ReadDatabaseURL string `json:"-"`
	ChangeRetention time.Duration
	DatabaseWait    time.Duration
	Migrate         bool
	Policies        []string
	Watch           bool
	WatchInterval   time.Duration
	Dev             bool
	DevSet          bool // Dev was given explicitly
	DebugAddr       string
	MetricsAddr     string
	PolicyForce     bool
	TLSCert         string
	TLSKey          string
	LogLevel        string
	LogFormat       string
	ShutdownTimeout time.Duration
	ExpireInterval  time.Duration
	GCMinPercent    int
	Audit           auditConfig
	Tracing         tracingConfig
	Git             gitpolicy.Config // policy.git: the policy from a git repository
	Server          server.Config
}

// defaultServeConfig is the configuration of a bare `castellan serve`.
func defaultServeConfig() serveConfig {
	return serveConfig{
		Addr:            ":8080",
		WatchInterval:   500 * time.Millisecond,
		LogLevel:        "info",
		LogFormat:       "json",
		ShutdownTimeout: 15 * time.Second,
		ExpireInterval:  time.Minute,
		GCMinPercent:    gctune.DefaultMin,
		Audit:           defaultAuditConfig(),
		Git:             defaultGitPolicyConfig(),
		Server:          server.DefaultConfig(),
	}
}

// stringsFlag is a repeatable string flag.
type stringsFlag []string

func (s *stringsFlag) String() string { return strings.Join(*s, ",") }

func (s *stringsFlag) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*s = append(*s, p)
		}
	}
	return nil
}

// serveFlags defines serve's flags on fs, writing into c. It returns the
// environment variable of each flag that has one.
func serveFlags(fs *flag.FlagSet, c *serveConfig) map[string]string {
	fs.StringVar(&c.Addr, "addr", c.Addr, "address to listen on (`host:port`; port 0 picks a free one)")
	fs.StringVar(&c.DatabaseURL, "database-url", c.DatabaseURL, "PostgreSQL `URL` (default: the in-memory store)")
	fs.StringVar(&c.ReadDatabaseURL, "read-database-url", c.ReadDatabaseURL, "PostgreSQL `URL` of a hot standby to load facts from and follow the change log on (writes still go to --database-url)")
	fs.BoolVar(&c.Migrate, "migrate", c.Migrate, "apply database migrations at start")
	fs.DurationVar(&c.DatabaseWait, "database-wait", c.DatabaseWait, "at start, retry connecting to PostgreSQL for up to this long while it cannot be reached (not on authentication or schema errors), e.g. while a failover promotes a new primary; 0 fails at once")
	fs.DurationVar(&c.ChangeRetention, "change-log-retention", c.ChangeRetention, "prune the change log's revisions older than this (in memory and in PostgreSQL; 0 keeps them all)")
	fs.Var((*stringsFlag)(&c.Policies), "policy", "policy `FILE` to load at start (repeatable; further arguments are files too)")
	fs.BoolVar(&c.Watch, "watch", c.Watch, "reload the --policy files when they change")
	fs.DurationVar(&c.WatchInterval, "watch-interval", c.WatchInterval, "how often --watch looks at the files")
	fs.BoolVar(&c.Dev, "dev", c.Dev, "dev mode: accept requests without an API key (default: on with the memory store and no --admin-key)")
	fs.StringVar(&c.Server.AdminKey, "admin-key", "", "accept this `secret` as an admin API key (prefer the environment variable)")
	fs.Int64Var(&c.Server.MaxBodyBytes, "max-body-bytes", c.Server.MaxBodyBytes, "largest request body, in bytes")
	fs.IntVar(&c.Server.MaxBatchFacts, "max-batch-facts", c.Server.MaxBatchFacts, "most facts in one write request")
	fs.IntVar(&c.Server.MaxContextFacts, "max-context-facts", c.Server.MaxContextFacts, "most context facts in one request")
	fs.IntVar(&c.Server.MaxPageSize, "max-page-size", c.Server.MaxPageSize, "largest page a list or search may ask for")
	fs.DurationVar(&c.Server.QueryTimeout, "query-timeout", c.Server.QueryTimeout, "longest time one request may evaluate")
	fs.DurationVar(&c.Server.ConsistencyTimeout, "consistency-timeout", c.Server.ConsistencyTimeout, "longest wait for the revision a read's OsoOffset asks for")
	fs.IntVar(&c.Server.MaxInFlight, "max-in-flight", c.Server.MaxInFlight, "most requests served at once, 429 beyond (0: no limit)")
	fs.StringVar(&c.Server.PublicURL, "public-url", c.Server.PublicURL, "base `URL` advertised in the AuthZEN metadata (default: Host and X-Forwarded-Proto from a --trusted-proxies peer, else the listener's address)")
	fs.Var((*stringsFlag)(&c.Server.TrustedProxies), "trusted-proxies", "`CIDRs` of proxies whose X-Forwarded-For, X-Forwarded-Proto and Host are believed (comma-separated, repeatable; default: none)")
	fs.Float64Var(&c.Server.AuthFailureRate, "auth-failure-rate", c.Server.AuthFailureRate, "failed authentications per second one client address may sustain, 429 beyond (0: no limit)")
	fs.IntVar(&c.Server.AuthFailureBurst, "auth-failure-burst", c.Server.AuthFailureBurst, "failed authentications one client address may make at once before --auth-failure-rate applies")
	fs.Float64Var(&c.Server.KeyFailureRate, "key-failure-rate", c.Server.KeyFailureRate, "wrong secrets per second one API key id may take, 429 beyond (0: no limit)")
	fs.IntVar(&c.Server.KeyFailureBurst, "key-failure-burst", c.Server.KeyFailureBurst, "wrong secrets one API key id may take at once before --key-failure-rate applies")
	fs.IntVar(&c.Server.AuthLimitEntries, "auth-limit-entries", c.Server.AuthLimitEntries, "most client addresses, and most key ids, whose failed authentications are remembered")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", c.MetricsAddr, "serve /metrics on this separate `host:port` instead of the API listener (default: on the API listener)")
	fs.BoolVar(&c.Server.MetricsAuth, "metrics-auth", c.Server.MetricsAuth, "/metrics requires an API key (any scope)")
	fs.BoolVar(&c.PolicyForce, "policy-force", c.PolicyForce, "load --policy files (or git commits) even when they have no allow rule or would orphan every stored fact")
	fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "serve HTTPS with this certificate `file` (PEM; reloaded when it changes)")
	fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "the private key `file` of --tls-cert (PEM)")
	fs.StringVar(&c.DebugAddr, "debug-addr", c.DebugAddr, "serve Go profiling (/debug/pprof/) on this separate `host:port` (default: off; keep it private)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level: debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "log format: json or console")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "how long in-flight requests may take to finish at shutdown")
	fs.DurationVar(&c.ExpireInterval, "expire-interval", c.ExpireInterval, "how often facts whose valid_until has passed are removed from the store (0: never; they hold for no question either way)")
	fs.IntVar(&c.GCMinPercent, "gc-min-percent", c.GCMinPercent, "size the garbage collector's headroom by the scannable heap, at least this percent of the live heap (100: Go's default GOGC=100; not applied when GOGC or GOMEMLIMIT is set)")
	auditFlags(fs, &c.Audit)
	tracingFlags(fs, &c.Tracing)
	gitPolicyFlags(fs, &c.Git)
	env := make(map[string]string)
	fs.VisitAll(func(f *flag.Flag) {
		env[f.Name] = "CASTELLAN_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
	})
	return env
}

// parseServe reads the --config file, then the environment, then the
// flags: each later one wins.
func parseServe(e *env, args []string) (serveConfig, error) {
	c := defaultServeConfig()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	envOf := serveFlags(fs, &c)
	fs.String("config", "", "read settings from this YAML `FILE` (flags and CASTELLAN_* variables win over it; see docs/operations.md)")
	envOf["config"] = "CASTELLAN_CONFIG"
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: castellan serve [--config FILE] [flags] [--policy FILE...]")
		fmt.Fprintln(e.stderr)
		fmt.Fprintln(e.stderr, "Every flag can also be set with the environment variable CASTELLAN_<FLAG>,")
		fmt.Fprintln(e.stderr, "e.g. CASTELLAN_DATABASE_URL, and in the --config file as <flag> with _ for -,")
		fmt.Fprintln(e.stderr, "e.g. database_url; flags win over the environment, which wins over the file.")
		fmt.Fprintln(e.stderr)
		fs.PrintDefaults()
	}
	path, given := configPath(e, args)
	set := make(map[string]bool)
	if path != "" {
		if err := loadConfigFile(path, fs, &c, set); err != nil {
			return c, err
		}
	}
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := envOf[f.Name]
		if v := e.getenv(name); v != "" && envErr == nil && f.Name != "config" {
			resetList(f)
			if err := fs.Set(f.Name, v); err != nil {
				envErr = usageError("%s=%q: %v", name, v, err)
			}
			set[f.Name] = true
		}
	})
	if envErr != nil {
		return c, envErr
	}
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			resetList(f) // a list given as flags replaces the file's or the variable's
		}
	})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, errHelp
		}
		return c, usageError("%v", err)
	}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	c.DevSet = set["dev"]
	if fs.NArg() > 0 {
		if len(c.Policies) == 0 {
			return c, usageError("unexpected argument %q (policy files go after --policy)", fs.Arg(0))
		}
		c.Policies = append(c.Policies, fs.Args()...)
	}
	if c.Watch && len(c.Policies) == 0 {
		return c, usageError("--watch needs --policy files to watch")
	}
	if err := validateGitPolicy(c); err != nil {
		return c, err
	}
	if c.WatchInterval <= 0 {
		return c, usageError("--watch-interval must be positive")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return c, usageError("--tls-cert and --tls-key go together")
	}
	if c.Server.Identity.ClientCA != "" && c.TLSCert == "" {
		return c, usageError("identity.client_ca needs --tls-cert and --tls-key: client certificates come over TLS")
	}
	if err := c.Audit.validate(); err != nil {
		return c, err
	}
	if c.Audit.Postgres && c.DatabaseURL == "" {
		return c, usageError("--audit-postgres needs --database-url")
	}
	if c.Migrate && c.DatabaseURL == "" {
		return c, usageError("--migrate needs --database-url")
	}
	if c.DatabaseWait < 0 {
		return c, usageError("--database-wait must not be negative, got %s", c.DatabaseWait)
	}
	if c.ChangeRetention < 0 {
		return c, usageError("--change-log-retention must not be negative, got %s", c.ChangeRetention)
	}
	if c.ReadDatabaseURL != "" && c.DatabaseURL == "" {
		return c, usageError("--read-database-url needs --database-url (writes go there)")
	}
	if !c.DevSet {
		c.Dev = c.DatabaseURL == "" && c.Server.AdminKey == ""
	}
	c.Server.Dev = c.Dev
	c.Server.MetricsSeparate = c.MetricsAddr != ""
	if err := c.Server.Validate(); err != nil {
		return c, usageError("%v", err)
	}
	return c, nil
}

// resetList empties a list flag, so that the next layer replaces it.
func resetList(f *flag.Flag) {
	if sf, ok := f.Value.(*stringsFlag); ok {
		*sf = nil
	}
}

// policySyncInterval is how often a server on PostgreSQL checks which
// policy version is live (another replica may have uploaded one).
const policySyncInterval = 2 * time.Second

// errHelp is returned when -h was asked for; the usage was printed.
var errHelp = errors.New("help requested")

func runServe(ctx context.Context, e *env, args []string) error {
	c, err := parseServe(e, args)
	if errors.Is(err, errHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	return serve(ctx, e, c, nil)
}

// newLogger builds the process logger on w.
func newLogger(w io.Writer, level, format string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Logger{}, usageError("--log-level: %q is not one of debug, info, warn, error", level)
	}
	switch format {
	case "json":
	case "console":
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339}
	default:
		return zerolog.Logger{}, usageError("--log-format: %q is not json or console", format)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

// openStore opens the configured store; the name is for the start line.
// The follower is nil unless the store follows a database.
func openStore(ctx context.Context, c serveConfig, log zerolog.Logger) (store.Backend, store.Follower, string, error) {
	if c.DatabaseURL == "" {
		return memory.New(memory.WithChangeRetention(c.ChangeRetention)), nil, "memory", nil
	}
	st, err := openPostgres(ctx, c, log)
	if err != nil {
		return nil, nil, "", err
	}
	return st, st, "postgres", nil
}

// serve runs the server until ctx is done, then shuts it down gracefully.
// ready, when not nil, is called with the bound address once the server
// accepts connections.
func serve(ctx context.Context, e *env, c serveConfig, ready func(addr string)) error {
	logOut := newLogBuffer(e.stderr)
	defer logOut.Flush()
	// The flusher outlives ctx: shutdown logs too, until serve returns.
	flushCtx, stopFlush := context.WithCancel(context.WithoutCancel(ctx))
	defer stopFlush()
	go tick.Every(flushCtx, logFlushInterval, logOut.Flush)
	log, err := newLogger(logOut, c.LogLevel, c.LogFormat)
	if err != nil {
		return err
	}
	if c.GCMinPercent < 1 || c.GCMinPercent > 100 {
		return usageError("--gc-min-percent: %d is not from 1 to 100", c.GCMinPercent)
	}
	defer gctune.Start(c.GCMinPercent).Stop()
	st, follower, storeName, err := openStore(ctx, c, log)
	if err != nil {
		return err
	}
	defer st.Close()
	opts := []server.Option{server.WithLogger(log)}
	if follower != nil {
		opts = append(opts, server.WithFollower(follower))
	}
	tr, err := startTracing(ctx, e.getenv, c.Tracing)
	if err != nil {
		return err
	}
	if tr != nil {
		// Deferred before the server starts: runs after it stops.
		defer func() {
			if err := tr.shutdown(); err != nil {
				log.Error().Err(err).Msg("flushing traces")
			}
		}()
		opts = append(opts, server.WithTracing(tr.tp))
		log.Info().Str("protocol", tr.protocol).Str("endpoint", tr.endpoint).Msg("tracing on: spans exported over OTLP")
	}
	pg, _ := st.(*postgres.Store)
	rec, recOpt, err := openDecisionLog(c.Audit, pg, log)
	if err != nil {
		return err
	}
	if rec != nil {
		// Deferred: after the graceful shutdown below, so that every
		// answered decision is written.
		defer func() {
			if err := rec.Close(); err != nil {
				log.Error().Err(err).Msg("closing the decision log")
			}
		}()
		opts = append(opts, recOpt)
	}
	srv, err := server.New(ctx, c.Server, st, opts...)
	if err != nil {
		return err
	}
	var w *watcher
	if len(c.Policies) > 0 {
		w = newWatcher(c.Policies, srv.Policies(), log)
		w.force = c.PolicyForce
		if err := w.loadAtStart(ctx); err != nil {
			logOut.Flush()
			fmt.Fprint(e.stderr, err)
			return errFailed
		}
	}
	var git *gitpolicy.Source
	if c.Git.URL != "" {
		if git, err = startGitPolicy(ctx, e, c.Git, c.PolicyForce, srv.Policies(), log); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", c.Addr, err)
	}
	hs := &http.Server{
		Handler: srv,
		// Bound slow clients: headers, the whole request, the whole answer.
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      c.Server.QueryTimeout + 2*time.Minute,
		IdleTimeout:       2 * time.Minute,
	}
	if c.TLSCert != "" {
		certs, err := newCertReloader(c.TLSCert, c.TLSKey, func(err error) {
			log.Error().Err(err).Msg("TLS certificate reload failed: the previous certificate stays in use")
		})
		if err != nil {
			ln.Close()
			return err
		}
		if hs.TLSConfig, err = serverTLS(certs, c.Server.Identity); err != nil {
			ln.Close()
			return err
		}
	}
	if c.Dev {
		log.Warn().Msg("DEV MODE: requests without an API key get full admin access; never use it in production (start with --admin-key or API keys, and --dev=false)")
	}
	log.Info().Str("addr", ln.Addr().String()).Str("store", storeName).Bool("dev", c.Dev).Bool("tls", c.TLSCert != "").
		Int("policy_files", len(c.Policies)).Bool("watch", c.Watch).Msg("castellan serving")
	if c.DebugAddr != "" {
		stopDebug, err := serveDebug(c.DebugAddr, log)
		if err != nil {
			ln.Close()
			return err
		}
		defer stopDebug()
	}
	if c.MetricsAddr != "" {
		stopMetrics, err := serveMetrics(c.MetricsAddr, srv.MetricsHandler(), log)
		if err != nil {
			ln.Close()
			return err
		}
		defer stopMetrics()
	}
	errc := make(chan error, 1)
	go func() {
		if hs.TLSConfig != nil {
			errc <- hs.ServeTLS(ln, "", "")
			return
		}
		errc <- hs.Serve(ln)
	}()
	if w != nil && c.Watch {
		go w.run(ctx, c.WatchInterval)
	}
	if git != nil {
		go git.Run(ctx)
	}
	if c.ExpireInterval > 0 {
		go tick.Every(ctx, c.ExpireInterval, func() { expireFacts(ctx, srv, log) })
	}
	if follower != nil {
		// Replicas on one database follow each other's policy uploads.
		go srv.Policies().Follow(ctx, policySyncInterval)
	}
	logOut.Flush()
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	log.Info().Dur("timeout", c.ShutdownTimeout).Msg("shutting down: finishing in-flight requests")
	logOut.Flush()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	log.Info().Msg("stopped")
	return nil
}

// serveDebug serves the Go profiler on its own listener (never on the API
// port) and returns a function that stops it.
func serveDebug(addr string, log zerolog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on --debug-addr %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	log.Info().Str("addr", ln.Addr().String()).Msg("profiling served on /debug/pprof/")
	return func() { hs.Close() }, nil
}

// serveMetrics serves h on /metrics of its own listener (--metrics-addr)
// and returns a function that stops it.
func serveMetrics(addr string, h http.Handler, log zerolog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening on --metrics-addr %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	log.Info().Str("addr", ln.Addr().String()).Msg("metrics served on /metrics")
	return func() { hs.Close() }, nil
}

// logFlushInterval bounds how long a log line waits in the buffer.
const logFlushInterval = 100 * time.Millisecond

// logBuffer batches log lines so that an access line per request does not
// cost a write system call per request. Lines reach the output when 32 KiB
// have accumulated, every logFlushInterval, and when serve returns.
type logBuffer struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func newLogBuffer(w io.Writer) *logBuffer { return &logBuffer{w: bufio.NewWriterSize(w, 32<<10)} }

// Write buffers p (zerolog writes one whole line per call).
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Write(p)
}

// Flush writes out what is buffered.
func (b *logBuffer) Flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	_ = b.w.Flush()
}

// expireFacts removes expired facts, logging what it did (run every
// --expire-interval).
func expireFacts(ctx context.Context, srv *server.Server, log zerolog.Logger) {
	n, err := srv.ExpireFacts(ctx)
	switch {
	case err != nil && ctx.Err() == nil:
		log.Warn().Err(err).Msg("removing expired facts failed; retrying at the next interval")
	case n > 0:
		log.Info().Int("facts", n).Msg("removed expired facts")
	}
}

// watcher loads the --policy files at start and, with --watch, again
// whenever one changes (polling sizes and modification times).
type watcher struct {
	files    []string
	force    bool // --policy-force: load even a policy the guard refuses
	policies *policy.Manager
	log      zerolog.Logger
	seen     map[string]fileStamp
}

type fileStamp struct {
	size    int64
	modTime time.Time
}

func newWatcher(files []string, policies *policy.Manager, log zerolog.Logger) *watcher {
	return &watcher{files: files, policies: policies, log: log}
}

// stamps returns the current stamps of the files.
func (w *watcher) stamps() map[string]fileStamp {
	out := make(map[string]fileStamp, len(w.files))
	for _, f := range w.files {
		if fi, err := os.Stat(f); err == nil {
			out[f] = fileStamp{size: fi.Size(), modTime: fi.ModTime()}
		}
	}
	return out
}

// load reads the files and loads them as the policy.
func (w *watcher) load(ctx context.Context) (policy.LoadResult, error) {
	w.seen = w.stamps()
	files := make([]policy.File, len(w.files))
	for i, f := range w.files {
		src, err := os.ReadFile(f)
		if err != nil {
			return policy.LoadResult{}, err
		}
		files[i] = policy.File{Filename: f, Src: string(src)}
	}
	opts := []policy.LoadOption{policy.From(store.PolicySourceFile, "")}
	if w.force {
		opts = append(opts, policy.Force())
	}
	return w.policies.Load(ctx, files, "serve --policy", opts...)
}

// loadAtStart loads the files once; the error text lists every problem,
// one per line.
func (w *watcher) loadAtStart(ctx context.Context) error {
	res, err := w.load(ctx)
	if err != nil {
		return fmt.Errorf("castellan: the policy was not loaded:\n%s", policyErrorText(err))
	}
	w.log.Info().Int64("version", res.Version).Bool("changed", res.Changed).Strs("files", w.files).Msg("policy loaded from files")
	return nil
}

// policyErrorText renders a policy load error with every error on its own
// line (file:line:col: message, hint on the next line).
func policyErrorText(err error) string {
	if el, ok := errors.AsType[ast.ErrorList](err); ok {
		return el.Full()
	}
	s := err.Error()
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return s
}

// run polls the files until ctx is done and reloads them on change. A
// broken edit is logged and the last good policy stays live.
func (w *watcher) run(ctx context.Context, every time.Duration) {
	tick.Every(ctx, every, func() {
		if equalStamps(w.seen, w.stamps()) {
			return
		}
		res, err := w.load(ctx)
		if err != nil {
			w.log.Error().Str("errors", policyErrorText(err)).Msg("policy reload failed: the last good policy stays live")
			return
		}
		if res.Changed {
			w.log.Info().Int64("version", res.Version).Msg("policy reloaded")
		}
	})
}

func equalStamps(a, b map[string]fileStamp) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w.size != v.size || !w.modTime.Equal(v.modTime) {
			return false
		}
	}
	return true
}

// openPostgres opens the PostgreSQL store: it checks (or, with --migrate,
// applies) the schema, loads every fact into the in-memory index and
// follows the change log.
func openPostgres(ctx context.Context, c serveConfig, log zerolog.Logger) (*postgres.Store, error) {
	opts := postgres.Options{
		Migrate:         c.Migrate,
		ReadURL:         c.ReadDatabaseURL,
		ChangeRetention: c.ChangeRetention,
		WaitTimeout:     c.Server.ConsistencyTimeout,
		Logger:          log.With().Str("component", "store").Logger(),
	}
	deadline := time.Now().Add(c.DatabaseWait)
	backoff := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		st, err := postgres.Open(ctx, c.DatabaseURL, opts)
		if err == nil {
			return st, nil
		}
		// Only a database that cannot be reached (refused, down, starting
		// up, a standby not promoted yet) is waited for: a refused login,
		// a missing database or a schema mismatch will not mend by itself.
		left := time.Until(deadline)
		if !errors.Is(err, store.ErrUnavailable) || left <= 0 || ctx.Err() != nil {
			return nil, fmt.Errorf("opening the database: %w", err)
		}
		wait := min(backoff, left)
		log.Warn().Err(err).Int("attempt", attempt).Str("retry_in", wait.String()).Str("gives_up_in", left.Round(time.Second).String()).
			Msg("waiting for the database (--database-wait)")
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("opening the database: %w", ctx.Err())
		case <-time.After(wait):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}
