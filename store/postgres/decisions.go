package postgres

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/castellan-authz/castellan/audit"
)

// flushTimeout bounds one batch insert of the decision log.
const flushTimeout = 30 * time.Second

// DecisionSink is an audit.Sink on the decisions table: the chain of one
// replica, whose lines it inserts in one statement per Flush (the
// Recorder flushes after each run of buffered records, so the batches grow
// with the load). A batch that fails stays pending and is inserted with
// the next one; records already stored are not inserted twice.
type DecisionSink struct {
	pool    *pgxpool.Pool
	replica string
	pending [][]byte
}

var _ audit.Sink = (*DecisionSink)(nil)

// DecisionSink returns the sink of replica's chain in the decisions table.
// A replica name used before continues its chain: two running servers must
// not share one. The sink uses the store's pool: close the Recorder
// before the Store.
func (s *Store) DecisionSink(replica string) (*DecisionSink, error) {
	if replica == "" {
		return nil, errors.New("the decision log's replica name is empty")
	}
	return &DecisionSink{pool: s.pool, replica: replica}, nil
}

// Last returns the line of the replica's last record.
func (d *DecisionSink) Last() ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	var line string
	err := d.pool.QueryRow(ctx, `SELECT line FROM decisions WHERE replica = $1 ORDER BY seq DESC LIMIT 1`, d.replica).Scan(&line)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the decision log of replica %s: %w", d.replica, err)
	}
	return []byte(line), nil
}

// Write queues one line for the next Flush.
func (d *DecisionSink) Write(line []byte) error {
	d.pending = append(d.pending, bytes.TrimSuffix(line, []byte("\n")))
	return nil
}

// Flush inserts the queued lines in one statement.
func (d *DecisionSink) Flush() error {
	if len(d.pending) == 0 {
		return nil
	}
	n := len(d.pending)
	var (
		seqs, versions                                   = make([]int64, n), make([]int64, n)
		times                                            = make([]time.Time, n)
		kinds, callers, actorTypes, actorIDs, actions    = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		resourceTypes, resourceIDs, results, lines, reps = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	)
	for i, line := range d.pending {
		var r audit.Record
		if err := json.Unmarshal(line, &r); err != nil {
			d.pending = nil // a line that never parses would block the log
			return fmt.Errorf("decision log: a record does not parse: %w", err)
		}
		seqs[i], versions[i], times[i] = int64(r.Seq), r.PolicyVersion, r.Time
		kinds[i], callers[i], actorTypes[i], actorIDs[i], actions[i] = r.Kind, r.Caller, r.Actor.Type, r.Actor.ID, r.Action
		resourceTypes[i], resourceIDs[i] = r.ResourceTypeID()
		results[i], lines[i], reps[i] = r.Outcome(), string(line), d.replica
	}
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	_, err := d.pool.Exec(ctx, `
		INSERT INTO decisions (replica, seq, kind, time, caller, actor_type, actor_id, action,
			resource_type, resource_id, result, policy_version, line)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::timestamptz[], $5::text[], $6::text[],
			$7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::bigint[], $13::text[])
		ON CONFLICT (replica, seq) DO NOTHING`,
		reps, seqs, kinds, times, callers, actorTypes, actorIDs, actions, resourceTypes, resourceIDs, results, versions, lines)
	if err != nil {
		return fmt.Errorf("decision log: inserting %d records (kept for the next write): %w", n, unavailable(ctx, err))
	}
	d.pending = d.pending[:0]
	return nil
}

// Close inserts what is queued. The pool is the Store's.
func (d *DecisionSink) Close() error { return d.Flush() }

// Decisions answers q over the decisions table, every replica's chain,
// newest first (by time, then replica and seq).
func (s *Store) Decisions(ctx context.Context, q audit.Query) (audit.Page, error) {
	if err := q.Check(); err != nil {
		return audit.Page{}, err
	}
	var (
		where = []string{"kind = 'decision'"}
		args  []any
	)
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if !q.Since.IsZero() {
		add("time >= ?", q.Since)
	}
	if !q.Until.IsZero() {
		add("time < ?", q.Until)
	}
	for _, f := range []struct{ col, v string }{{"caller", q.Caller}, {"action", q.Action}, {"result", q.Result}} {
		if f.v != "" {
			add(f.col+" = ?", f.v)
		}
	}
	if q.Actor != "" {
		typ, id := audit.SplitTypeID(q.Actor)
		add("actor_type = ?", typ)
		if id != "" {
			add("actor_id = ?", id)
		}
	}
	if q.Resource != "" {
		// The resource asked about, or one of a batch's resources, which
		// only the line holds.
		typ, id := audit.SplitTypeID(q.Resource)
		want := map[string]string{"type": typ}
		if id != "" {
			want["id"] = id
		}
		js, _ := json.Marshal([]any{want})
		args = append(args, typ, id, string(js))
		n := len(args)
		where = append(where, fmt.Sprintf(`((resource_type = $%d AND ($%d = '' OR resource_id = $%d))
			OR (resource_type = '' AND line LIKE '%%"resources":%%' AND (line::jsonb -> 'resources') @> $%d::jsonb))`, n-2, n-1, n-1, n))
	}
	if q.PolicyVersion != 0 {
		add("policy_version = ?", q.PolicyVersion)
	}
	if q.PageToken != "" {
		t, replica, seq, err := parseDecisionToken(q.PageToken)
		if err != nil {
			return audit.Page{}, err
		}
		args = append(args, t, replica, seq)
		where = append(where, fmt.Sprintf("(time, replica, seq) < ($%d, $%d, $%d)", len(args)-2, len(args)-1, len(args)))
	}
	args = append(args, q.Limit+1)
	sql := fmt.Sprintf(`SELECT replica, seq, time, line FROM decisions WHERE %s
		ORDER BY time DESC, replica DESC, seq DESC LIMIT $%d`, strings.Join(where, " AND "), len(args))
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return audit.Page{}, unavailable(ctx, err)
	}
	defer rows.Close()
	var (
		page audit.Page
		last struct {
			replica string
			seq     int64
			time    time.Time
		}
	)
	for rows.Next() {
		if len(page.Decisions) == q.Limit {
			page.NextPageToken = decisionToken(last.time, last.replica, last.seq)
			break
		}
		var line string
		if err := rows.Scan(&last.replica, &last.seq, &last.time, &line); err != nil {
			return audit.Page{}, err
		}
		page.Decisions = append(page.Decisions, audit.Entry{Replica: last.replica, Line: []byte(line)})
	}
	if err := rows.Err(); err != nil {
		return audit.Page{}, unavailable(ctx, err)
	}
	return page, nil
}

// decisionToken is the page token after the record (t, replica, seq).
func decisionToken(t time.Time, replica string, seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%d/%d/%s", t.UnixMicro(), seq, replica)))
}

func parseDecisionToken(tok string) (time.Time, string, int64, error) {
	bad := audit.ErrBadPageToken
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return time.Time{}, "", 0, bad
	}
	parts := strings.SplitN(string(b), "/", 3)
	if len(parts) != 3 {
		return time.Time{}, "", 0, bad
	}
	us, err1 := strconv.ParseInt(parts[0], 10, 64)
	seq, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil {
		return time.Time{}, "", 0, bad
	}
	return time.UnixMicro(us), parts[2], seq, nil
}

// ExportDecisions writes the lines of replica's chain, in order, one per
// line: a log audit.Verify reads. It returns how many it wrote.
func (s *Store) ExportDecisions(ctx context.Context, replica string, w io.Writer) (int, error) {
	return exportDecisions(ctx, s.pool, replica, w)
}

// DecisionReplicas returns the replicas that have records, by name.
func (s *Store) DecisionReplicas(ctx context.Context) ([]string, error) {
	return decisionReplicas(ctx, s.pool)
}

// DecisionLog reads the decisions table alone, without the facts a Store
// loads at Open: for tools such as `castellan audit verify`.
type DecisionLog struct {
	pool *pgxpool.Pool
}

// OpenDecisionLog connects to the database at url, which must be
// migrated to at least the decisions table.
func OpenDecisionLog(ctx context.Context, url string) (*DecisionLog, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parsing database url: %w", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	cfg.MaxConns = 2
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to the database: %w", err)
	}
	var exists bool
	if err := pool.QueryRow(ctx, "SELECT to_regclass('decisions') IS NOT NULL").Scan(&exists); err != nil {
		pool.Close()
		return nil, unavailable(ctx, fmt.Errorf("reading the schema: %w", err))
	}
	if !exists {
		pool.Close()
		return nil, errors.New("the database has no decisions table: run `castellan migrate up`, and serve with --audit-postgres")
	}
	return &DecisionLog{pool: pool}, nil
}

// Replicas returns the replicas that have records, by name.
func (l *DecisionLog) Replicas(ctx context.Context) ([]string, error) {
	return decisionReplicas(ctx, l.pool)
}

// Export writes the lines of replica's chain in order, as ExportDecisions.
func (l *DecisionLog) Export(ctx context.Context, replica string, w io.Writer) (int, error) {
	return exportDecisions(ctx, l.pool, replica, w)
}

// Close closes the connections.
func (l *DecisionLog) Close() { l.pool.Close() }

func exportDecisions(ctx context.Context, pool *pgxpool.Pool, replica string, w io.Writer) (int, error) {
	rows, err := pool.Query(ctx, `SELECT line FROM decisions WHERE replica = $1 ORDER BY seq`, replica)
	if err != nil {
		return 0, unavailable(ctx, err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var line []byte
		if err := rows.Scan(&line); err != nil {
			return n, err
		}
		if _, err := w.Write(append(line, '\n')); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

func decisionReplicas(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	rows, err := pool.Query(ctx, `SELECT DISTINCT replica FROM decisions ORDER BY replica`)
	if err != nil {
		return nil, unavailable(ctx, err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
