package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/castellan-authz/castellan/migrations"
	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/index"
)

// ErrSchemaVersion reports a database whose schema is not the one this
// build needs (not migrated yet, migrated by a newer Castellan, or dirty).
var ErrSchemaVersion = errors.New("database schema version mismatch")

// Options configures Open. The zero value is usable.
type Options struct {
	// Migrate applies pending migrations at Open instead of refusing an
	// unmigrated database.
	Migrate bool
	// WaitTimeout bounds how long Snapshot waits for Consistency.AtLeast
	// (default 5s).
	WaitTimeout time.Duration
	// PollInterval is how often the follower reads the change log when no
	// notification arrives (default 1s).
	PollInterval time.Duration
	// MaxConns caps the connection pool (default 10); the follower uses
	// one more connection of its own.
	MaxConns int32
	// Logger receives reconnects and follower errors. The zero Logger
	// logs nothing.
	Logger zerolog.Logger
	// MaxGroupBatches is the most concurrent writes committed in one
	// transaction (default 256; 1 commits each write alone).
	MaxGroupBatches int
	// ReadURL, when set, is the database Open loads the facts from and
	// the follower reads the change log from: typically a hot standby
	// (or a load balancer in front of standbys), so that replicas do not
	// load the primary. Writes, and the catch-up of a read that waits for
	// an OsoOffset, still go to the primary at the url given to Open. A
	// standby cannot LISTEN, so the follower polls it every
	// StandbyPollInterval instead of waiting for notifications.
	ReadURL string
	// StandbyPollInterval is how often the follower reads the change log
	// when its connection is to a hot standby (default 100ms).
	StandbyPollInterval time.Duration
	// ChangeRetention, when positive, makes the store delete the change
	// log's revisions committed longer ago than this (every store on a
	// database may prune; the deletes are idempotent). A store whose index
	// is behind the pruned revisions (one disconnected for longer than
	// the retention) reloads its index from the facts. Changes since a
	// pruned revision fail with store.ErrPruned. 0 keeps every change.
	ChangeRetention time.Duration
}

// Store is the PostgreSQL store. PostgreSQL holds the truth; the Store
// keeps an in-memory index.Index of every fact that follows the change
// log, so snapshots do no SQL, and likewise every API key, following the
// key change log, so KeyByID does no SQL.
type Store struct {
	pool     *pgxpool.Pool
	readPool *pgxpool.Pool   // Options.ReadURL's pool, else pool
	connCfg  *pgx.ConnConfig // the follower's connection (Options.ReadURL, else url)
	opts     Options
	log      zerolog.Logger
	idx      atomic.Pointer[index.Index] // replaced whole when the follower reloads it

	applyMu sync.Mutex // serializes changes to idx (follower and own writes)
	writes  writeQueue // batches waiting for a group commit (write.go)
	// pipelineAfter is when groups may be sent in one round trip again
	// (unix nanoseconds; see commitPipelined).
	pipelineAfter atomic.Int64
	// committing is the last revision of the group this store's writer
	// is committing, until it is applied to the index (0 when none): the
	// follower need not catch up on its notification (see notedApplied).
	committing atomic.Uint64

	dbHead    atomic.Uint64 // the last head read from the database
	connected atomic.Bool   // the follower is connected and caught up

	keys keySet // the followed copy of the API keys

	advMu    sync.Mutex
	advanced chan struct{} // closed and replaced whenever idx advances

	closed atomic.Bool
	stop   context.CancelFunc
	done   chan struct{}
	pruned chan struct{} // closed when the pruner ends (nil without ChangeRetention)
}

// index returns the in-memory index (the follower may replace it whole,
// see reload).
func (s *Store) index() *index.Index { return s.idx.Load() }

var (
	_ store.PastReader     = (*Store)(nil)
	_ store.Store          = (*Store)(nil)
	_ store.Clearer        = (*Store)(nil)
	_ store.PolicyStore    = (*Store)(nil)
	_ store.KeyStore       = (*Store)(nil)
	_ store.Follower       = (*Store)(nil)
	_ store.Expirer        = (*Store)(nil)
	_ store.PreparedWriter = (*Store)(nil)
	_ store.BatchPreparer  = (*Store)(nil)
)

// Open connects to the database at url, checks its schema version
// (applying migrations when opts.Migrate is set), loads every fact into the
// index and every API key into the key set, and starts following the change
// log and the key change log. It fails with an error
// wrapping ErrSchemaVersion when the schema does not match, and
// store.ErrUnavailable when the database cannot be reached.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	if opts.WaitTimeout <= 0 {
		opts.WaitTimeout = 5 * time.Second
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 10
	}
	if opts.MaxGroupBatches <= 0 {
		opts.MaxGroupBatches = defaultMaxGroupBatches
	}
	if opts.StandbyPollInterval <= 0 {
		opts.StandbyPollInterval = 100 * time.Millisecond
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parsing database url: %w", err)
	}
	cfg.MaxConns = opts.MaxConns
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	if opts.Migrate {
		if err := migrations.Up(ctx, url); err != nil {
			return nil, unavailable(ctx, err)
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to the database: %w", err)
	}
	s := &Store{
		pool:     pool,
		readPool: pool,
		connCfg:  cfg.ConnConfig.Copy(),
		opts:     opts,
		log:      opts.Logger,
		advanced: make(chan struct{}),
		done:     make(chan struct{}),
	}
	if opts.ReadURL != "" {
		rcfg, err := pgxpool.ParseConfig(opts.ReadURL)
		if err != nil {
			pool.Close()
			return nil, fmt.Errorf("parsing read database url: %w", err)
		}
		rcfg.MaxConns = 2
		if rcfg.ConnConfig.ConnectTimeout == 0 {
			rcfg.ConnConfig.ConnectTimeout = 5 * time.Second
		}
		if s.readPool, err = pgxpool.NewWithConfig(ctx, rcfg); err != nil {
			pool.Close()
			return nil, fmt.Errorf("connecting to the read database: %w", err)
		}
		s.connCfg = rcfg.ConnConfig.Copy()
	}
	closePools := func() {
		if s.readPool != pool {
			s.readPool.Close()
		}
		pool.Close()
	}
	if err := s.checkSchema(ctx); err != nil {
		closePools()
		return nil, err
	}
	s.idx.Store(index.New())
	if err := s.load(ctx); err != nil {
		closePools()
		return nil, err
	}
	fctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	go s.follow(fctx)
	if opts.ChangeRetention > 0 {
		s.pruned = make(chan struct{})
		go s.pruneLoop(fctx)
	}
	return s, nil
}

// checkSchema refuses a database whose schema version is not
// migrations.Latest().
func (s *Store) checkSchema(ctx context.Context) error {
	want := migrations.Latest()
	var exists bool
	if err := s.pool.QueryRow(ctx, "SELECT to_regclass('schema_migrations') IS NOT NULL").Scan(&exists); err != nil {
		return unavailable(ctx, fmt.Errorf("reading the schema version: %w", err))
	}
	var version int64
	var dirty bool
	if exists {
		err := s.pool.QueryRow(ctx, "SELECT version, dirty FROM schema_migrations LIMIT 1").Scan(&version, &dirty)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return unavailable(ctx, fmt.Errorf("reading the schema version: %w", err))
		}
	}
	switch {
	case dirty:
		return fmt.Errorf("%w: database schema is dirty at version %d (a migration failed halfway): repair it, then run `castellan migrate up`", ErrSchemaVersion, version)
	case version < int64(want):
		return fmt.Errorf("%w: database schema is at version %d, this castellan needs %d: run `castellan migrate up` or start with --migrate", ErrSchemaVersion, version, want)
	case version > int64(want):
		return fmt.Errorf("%w: database schema is at version %d, newer than this castellan supports (%d): upgrade castellan", ErrSchemaVersion, version, want)
	}
	return nil
}

// Close stops the follower and closes the connections. Snapshots taken
// earlier stay readable.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.stop()
	<-s.done
	if s.pruned != nil {
		<-s.pruned
	}
	if s.readPool != s.pool {
		s.readPool.Close()
	}
	s.pool.Close()
	return nil
}

func (s *Store) check() error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	return nil
}

// Head returns the latest revision committed to the database.
func (s *Store) Head(ctx context.Context) (store.Revision, error) {
	if err := s.check(); err != nil {
		return 0, err
	}
	var head int64
	if err := s.pool.QueryRow(ctx, "SELECT revision FROM castellan_head").Scan(&head); err != nil {
		return 0, unavailable(ctx, fmt.Errorf("reading head revision: %w", err))
	}
	s.noteHead(uint64(head))
	return uint64(head), nil
}

func (s *Store) noteHead(h uint64) {
	for {
		cur := s.dbHead.Load()
		if h <= cur || s.dbHead.CompareAndSwap(cur, h) {
			return
		}
	}
}

// IndexRevision returns the revision the in-memory index has reached.
func (s *Store) IndexRevision() store.Revision { return s.index().Revision() }

// Lag returns how many revisions the index is behind the latest database
// head this store has seen.
func (s *Store) Lag() uint64 {
	h, r := s.dbHead.Load(), s.index().Revision()
	if h <= r {
		return 0
	}
	return h - r
}

// Ready reports whether the store can answer reads at a known revision:
// the index and the keys were loaded by Open, so this holds until Close,
// also while the database is unreachable (see store.Follower).
func (s *Store) Ready() bool { return !s.closed.Load() }

// Writable reports whether the follower is connected to the database and
// its last catch-up succeeded: whether writes can be expected to succeed.
// It reads a flag the follower keeps; it does no I/O.
func (s *Store) Writable() bool { return s.connected.Load() && !s.closed.Load() }

// unavailable wraps err with store.ErrUnavailable when it comes from a
// lost or refused connection rather than from the statement itself.
func unavailable(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// read_only_sql_transaction: the connection reached a standby (a
		// load balancer or multi-host URL during a failover, before the
		// new primary is promoted): the primary is unavailable for now.
		if pgErr.Code == "25006" {
			return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
		}
		switch pgErr.Code[:2] {
		case "08", "53", "57": // connection exception, insufficient resources, operator intervention
			if pgErr.Code == "57014" && ctx.Err() != nil { // query_canceled by our context
				return err
			}
			return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
		}
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) || errors.Is(err, pgx.ErrTxClosed) {
		return err
	}
	return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
}

// Index returns the store's in-memory index.
func (s *Store) Index() *index.Index { return s.index() }
