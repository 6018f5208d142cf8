package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/castellan-authz/castellan/audit"
	"github.com/castellan-authz/castellan/server"
	"github.com/castellan-authz/castellan/store/postgres"
)

// auditConfig is the decision log of `castellan serve` (--audit-*).
type auditConfig struct {
	Log                string // a file, "-" for standard output, "" for none
	Postgres           bool   // the decisions table of --database-url
	Replica            string // the Postgres chain's name; default: generated
	MaxSize            int64
	Keep               int
	ContextFacts       string
	Results            bool
	Buffer             int
	WhenFull           string
	SigningKey         string `json:"-"`
	CheckpointEvery    int
	CheckpointInterval time.Duration
}

func defaultAuditConfig() auditConfig {
	return auditConfig{
		MaxSize: 100 << 20, Keep: 10, ContextFacts: string(audit.ContextAll),
		Buffer: 4096, WhenFull: string(audit.Block),
		CheckpointEvery: 1000, CheckpointInterval: 10 * time.Second,
	}
}

// auditFlags adds the --audit-* flags of serve.
func auditFlags(fs *flag.FlagSet, c *auditConfig) {
	fs.StringVar(&c.Log, "audit-log", c.Log, "write every decision to this decision log `FILE` (- for standard output; default: off)")
	fs.BoolVar(&c.Postgres, "audit-postgres", c.Postgres, "write every decision to the decisions table of --database-url (one hash chain per replica; instead of --audit-log)")
	fs.StringVar(&c.Replica, "audit-replica", c.Replica, "the `NAME` of this server's chain in the decisions table; a name used before continues its chain, so no two running servers may share one (default: the host name and a random suffix, a new chain per start)")
	fs.Int64Var(&c.MaxSize, "audit-log-max-size", c.MaxSize, "rotate the decision log past this many `bytes` (0: never)")
	fs.IntVar(&c.Keep, "audit-log-keep", c.Keep, "rotated decision log files to keep (0: all)")
	fs.StringVar(&c.ContextFacts, "audit-context-facts", c.ContextFacts, "what a decision record keeps of the context facts: all, hashed or none")
	fs.BoolVar(&c.Results, "audit-results", c.Results, "keep the results of lists, queries and batches in the decision log, not only their count")
	fs.IntVar(&c.Buffer, "audit-buffer", c.Buffer, "decision records that may wait for the writer")
	fs.StringVar(&c.WhenFull, "audit-when-full", c.WhenFull, "when the decision log's buffer is full: block (the decision waits) or drop (and count)")
	fs.StringVar(&c.SigningKey, "audit-signing-key", c.SigningKey, "sign decision log checkpoints with this Ed25519 private key `FILE` (PEM or base64)")
	fs.IntVar(&c.CheckpointEvery, "audit-checkpoint-every", c.CheckpointEvery, "most decision records between signed checkpoints")
	fs.DurationVar(&c.CheckpointInterval, "audit-checkpoint-interval", c.CheckpointInterval, "longest time a decision record waits for a signed checkpoint")
}

// validate checks the --audit-* flags.
func (c auditConfig) validate() error {
	if _, err := audit.ParseContextMode(c.ContextFacts); err != nil {
		return usageError("--audit-context-facts: %v", err)
	}
	if _, err := audit.ParseWhenFull(c.WhenFull); err != nil {
		return usageError("--audit-when-full: %v", err)
	}
	if c.Buffer <= 0 || c.CheckpointEvery <= 0 || c.CheckpointInterval <= 0 || c.MaxSize < 0 || c.Keep < 0 {
		return usageError("--audit-buffer, --audit-checkpoint-every and --audit-checkpoint-interval must be positive, --audit-log-max-size and --audit-log-keep not negative")
	}
	if c.Log != "" && c.Postgres {
		return usageError("--audit-log and --audit-postgres: choose one sink")
	}
	if c.Log == "" && !c.Postgres && c.SigningKey != "" {
		return usageError("--audit-signing-key needs --audit-log or --audit-postgres")
	}
	if c.Replica != "" && !c.Postgres {
		return usageError("--audit-replica needs --audit-postgres")
	}
	return nil
}

// openDecisionLog starts the decision log c asks for: the recorder (nil
// when off) and the server option that records to it (and searches it).
// st is the PostgreSQL store with --audit-postgres. Close the recorder
// after the server stops answering, and before st.
func openDecisionLog(c auditConfig, st *postgres.Store, log zerolog.Logger) (*audit.Recorder, server.Option, error) {
	if c.Log == "" && !c.Postgres {
		return nil, nil, nil
	}
	opts := audit.Options{
		Buffer: c.Buffer, WhenFull: audit.WhenFull(c.WhenFull),
		CheckpointEvery: c.CheckpointEvery, CheckpointInterval: c.CheckpointInterval,
		OnDrop: func(n uint64) {
			log.Warn().Uint64("dropped", n).Msg("decision log buffer full: records dropped (--audit-when-full drop)")
		},
		OnError: func(err error) { log.Error().Err(err).Msg("decision log") },
	}
	if c.SigningKey != "" {
		b, err := os.ReadFile(c.SigningKey)
		if err != nil {
			return nil, nil, usageError("--audit-signing-key: %v", err)
		}
		if opts.SigningKey, err = audit.ParsePrivateKey(b); err != nil {
			return nil, nil, fmt.Errorf("--audit-signing-key %s: %w", c.SigningKey, err)
		}
	}
	var (
		sink   audit.Sink
		search audit.Searcher
		name   = c.Log
	)
	switch {
	case c.Postgres:
		if c.Replica == "" {
			c.Replica = newReplicaName()
		}
		ps, err := st.DecisionSink(c.Replica)
		if err != nil {
			return nil, nil, err
		}
		sink, search, name = ps, st, "replica "+c.Replica
		log.Info().Str("replica", c.Replica).Msg("decision log: the decisions table")
	case c.Log == "-":
		sink = audit.NewWriter(os.Stdout)
	default:
		f, err := audit.OpenFile(c.Log, audit.FileOptions{MaxSize: c.MaxSize, Keep: c.Keep})
		if err != nil {
			return nil, nil, err
		}
		sink, search = f, audit.FileLog(c.Log)
	}
	rec, err := audit.NewRecorder(sink, opts)
	if err != nil {
		sink.Close()
		return nil, nil, fmt.Errorf("decision log %s: %w", name, err)
	}
	return rec, server.WithDecisionLog(rec, server.DecisionLog{ContextFacts: audit.ContextMode(c.ContextFacts), Results: c.Results, Search: search}), nil
}

// newReplicaName names a new decision chain: the host name and a random
// suffix.
func newReplicaName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "castellan"
	}
	b := make([]byte, 4)
	rand.Read(b)
	return host + "-" + hex.EncodeToString(b)
}

func runAudit(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "verify":
			return runAuditVerify(ctx, e, args[1:])
		case "tail":
			return runAuditTail(ctx, e, args[1:])
		case "search":
			return runAuditSearch(ctx, e, args[1:])
		}
	}
	return usageError("usage: castellan audit verify [--public-key FILE] [--open] [--partial] FILE...\n       castellan audit verify --database-url URL [--replica NAME] [--public-key FILE] [--open]\n       castellan audit tail [-n N] [-f] [filters]\n       castellan audit search [filters] [--limit N] [--page-token TOKEN]")
}

// runAuditVerify checks decision log files, or the chains of the
// decisions table of a PostgreSQL database: exit 0 with the record count,
// or 1 naming the first bad line and why.
func runAuditVerify(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	pubFile := fs.String("public-key", "", "check the signed checkpoints with this Ed25519 public key `FILE` (PEM or base64; a private key works too); the log must end with a final checkpoint")
	dbURL := fs.String("database-url", "", "verify the chains of the decisions table of this PostgreSQL `URL` (written by serve --audit-postgres) instead of files")
	replica := fs.String("replica", "", "with --database-url: verify only this replica's chain (default: every replica's)")
	var opts audit.VerifyOptions
	fs.BoolVar(&opts.Open, "open", false, "the log is still being written: records after the last checkpoint are reported, not an error")
	fs.BoolVar(&opts.Partial, "partial", false, "the oldest files were rotated away: the log may start after record 1")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: castellan audit verify [flags] FILE...")
		fmt.Fprintln(e.stderr, "       castellan audit verify --database-url URL [--replica NAME] [flags]")
		fmt.Fprintln(e.stderr, "\nChecks the hash chain (and signed checkpoints) of a decision log; give a log and its rotated files in any order,")
		fmt.Fprintln(e.stderr, "or the database whose decisions table holds one chain per replica.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return helpOr(errHelpShown)
		}
		return usageError("%v", err)
	}
	files := fs.Args()
	switch {
	case *dbURL == "" && len(files) == 0:
		fs.Usage()
		return usageError("audit verify: no FILE given (or --database-url)")
	case *dbURL != "" && len(files) > 0:
		return usageError("audit verify: give FILEs or --database-url, not both")
	case *replica != "" && *dbURL == "":
		return usageError("audit verify: --replica needs --database-url")
	}
	if *pubFile != "" {
		b, err := os.ReadFile(*pubFile)
		if err != nil {
			return usageError("--public-key: %v", err)
		}
		var perr error
		if opts.PublicKey, perr = audit.ParsePublicKey(b); perr != nil {
			return fmt.Errorf("--public-key %s: %w", *pubFile, perr)
		}
	}
	if *dbURL == "" {
		return verifyChain(e, "", files, opts)
	}
	log, err := postgres.OpenDecisionLog(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer log.Close()
	replicas := []string{*replica}
	if *replica == "" {
		if replicas, err = log.Replicas(ctx); err != nil {
			return err
		}
		if len(replicas) == 0 {
			return fmt.Errorf("the decisions table has no records")
		}
	}
	dir, err := os.MkdirTemp("", "castellan-audit-verify-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	failed := false
	for i, r := range replicas {
		// Each chain is exported to a file, which Verify reads as it
		// reads a log: the same checks, line numbers counted in the chain.
		path := filepath.Join(dir, fmt.Sprintf("replica-%d.log", i))
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		n, err := log.Export(ctx, r, f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("replica %s: %w", r, err)
		}
		if n == 0 {
			return fmt.Errorf("replica %s has no records", r)
		}
		if err := verifyChain(e, r, []string{path}, opts); err != nil {
			if !errors.Is(err, errFailed) {
				return err
			}
			failed = true
		}
	}
	if failed {
		return errFailed
	}
	return nil
}

// verifyChain verifies one chain (the files of a log, or the export of
// a replica's chain, named replica) and prints its summary, or the first
// bad line to standard error and errFailed.
func verifyChain(e *env, replica string, files []string, opts audit.VerifyOptions) error {
	sum, err := audit.Verify(files, opts)
	var le *audit.LineError
	if errors.As(err, &le) {
		if replica != "" {
			// The export file is the tool's own: name records by
			// their place in the chain instead.
			reason := strings.ReplaceAll(le.Reason, files[0]+":", "record ")
			fmt.Fprintf(e.stderr, "castellan: audit verify: replica %s: record %d: %s\n", replica, le.Line, reason)
		} else {
			fmt.Fprintf(e.stderr, "castellan: audit verify: %v\n", le)
		}
		return errFailed
	}
	if err != nil {
		return err
	}
	if replica != "" {
		fmt.Fprintf(e.stdout, "replica %s: ok: %d records (%d decisions, %d checkpoints), seq %d to %d", replica, sum.Records, sum.Decisions, sum.Checkpoints, sum.FirstSeq, sum.LastSeq)
	} else {
		fmt.Fprintf(e.stdout, "ok: %d records (%d decisions, %d checkpoints), seq %d to %d, in %d files", sum.Records, sum.Decisions, sum.Checkpoints, sum.FirstSeq, sum.LastSeq, len(sum.Files))
	}
	switch {
	case sum.Signed && sum.Closed:
		fmt.Fprint(e.stdout, "; signatures checked, closed")
	case sum.Signed:
		fmt.Fprintf(e.stdout, "; signatures checked, %d records after the last checkpoint unverified", sum.Unverified)
	case sum.Checkpoints > 0:
		fmt.Fprint(e.stdout, "; signatures not checked (no --public-key)")
	}
	fmt.Fprintln(e.stdout)
	return nil
}
