package main

// castellan-load failover: the failover test of the highly available
// topology (scripts/ha-cluster): mixed load through HAProxy while the
// primary PostgreSQL is killed and a castellan replica is killed and
// restarted; every acknowledged write and every answer is checked.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// failoverPolicy is the policy of the failover test: a viewer may read.
const failoverPolicy = `actor User {}
resource Repository {
  permissions = ["read"];
  roles = ["viewer"];
  "read" if "viewer";
}
allow(actor, action, resource) if has_permission(actor, action, resource);
`

// failoverConfig is one failover run's settings.
type failoverConfig struct {
	script    string
	castellan string
	dir       string
	portBase  int
	writers   int
	readers   int
	warm      time.Duration
	settle    time.Duration
	keep      bool
	multiHost bool
}

func parseFailoverFlags(args []string, stderr io.Writer) (*failoverConfig, error) {
	c := &failoverConfig{}
	fs := flag.NewFlagSet("castellan-load failover", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.script, "script", "scripts/ha-cluster", "the cluster script")
	fs.StringVar(&c.castellan, "castellan", "", "castellan binary of the replicas (default ./bin/castellan, else castellan on the PATH)")
	fs.StringVar(&c.dir, "dir", "", "cluster directory (default: a new temporary directory, removed at the end)")
	fs.IntVar(&c.portBase, "port-base", 0, "first of the 20 loopback ports of the cluster (HA_PORT_BASE; default: a free range)")
	fs.IntVar(&c.writers, "writers", 4, "concurrent writers")
	fs.IntVar(&c.readers, "readers", 4, "concurrent readers")
	fs.DurationVar(&c.warm, "warm", 8*time.Second, "load before the primary is killed")
	fs.DurationVar(&c.settle, "settle", 5*time.Second, "load after writes succeed again, and after the replica restarts")
	fs.BoolVar(&c.multiHost, "multi-host", false, "replicas reach the primary with a multi-host URL (target_session_attrs=read-write) instead of through HAProxy")
	fs.BoolVar(&c.keep, "keep", false, "leave the cluster up at the end (scripts/ha-cluster down with the same HA_DIR stops it)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if c.writers < 1 || c.readers < 1 {
		return nil, errors.New("-writers and -readers must be at least 1")
	}
	return c, nil
}

// haCluster runs scripts/ha-cluster verbs on one cluster.
type haCluster struct {
	cfg *failoverConfig
	env []string
	out io.Writer
}

func (h *haCluster) run(ctx context.Context, verb ...string) (string, error) {
	cmd := exec.CommandContext(ctx, h.cfg.script, verb...)
	cmd.Env = h.env
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = h.out
	err := cmd.Run()
	if err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w", h.cfg.script, strings.Join(verb, " "), err)
	}
	return stdout.String(), nil
}

// components reports which of the cluster's programs are missing.
func missingComponents() []string {
	var missing []string
	for _, bin := range []string{"patroni", "etcd", "haproxy"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin)
		}
	}
	if _, err := os.Stat("/usr/lib/postgresql/15/bin/pg_ctl"); err != nil {
		missing = append(missing, "postgresql-15")
	}
	return missing
}

// runFailover runs the failover test and prints its figures.
func runFailover(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFailoverFlags(args, stderr)
	if err != nil {
		return err
	}
	if missing := missingComponents(); len(missing) > 0 && os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			return fmt.Errorf("the failover test needs %s (CI=true: it must run)", strings.Join(missing, ", "))
		}
		fmt.Fprintf(stdout, "failover: SKIP: %s not installed and not root to install them (apt-get install patroni etcd-server haproxy postgresql-15)\n", strings.Join(missing, ", "))
		return nil
	}
	bin, err := findCastellan(cfg.castellan)
	if err != nil {
		return err
	}
	if cfg.portBase == 0 {
		if cfg.portBase, err = freePortRange(20); err != nil {
			return err
		}
	}
	if cfg.dir == "" {
		d, err := os.MkdirTemp("", "castellan-failover-")
		if err != nil {
			return err
		}
		// Patroni runs as postgres: it must reach its directory.
		if err := os.Chmod(d, 0o755); err != nil {
			return err
		}
		cfg.dir = d + "/cluster"
		defer os.RemoveAll(d)
	}
	h := &haCluster{cfg: cfg, out: stderr, env: append(os.Environ(),
		"HA_DIR="+cfg.dir, "HA_PORT_BASE="+strconv.Itoa(cfg.portBase), "HA_REPLICAS=3",
		"HA_CASTELLAN="+bin, "HA_ADMIN_KEY="+failoverKey, "HA_FOLLOW_STANDBY=3",
		// A read waits at most 2 s for a revision its replica has not reached.
		"HA_SERVE_ARGS=--consistency-timeout 2s", "HA_LOG_LEVEL=warn")}
	via := "HAProxy"
	if cfg.multiHost {
		h.env = append(h.env, "HA_MULTI_HOST=1")
		via = "a multi-host URL"
	}
	start := time.Now()
	if _, err := h.run(ctx, "up"); err != nil {
		h.run(context.Background(), "down")
		return err
	}
	if !cfg.keep {
		defer h.run(context.Background(), "down")
	}
	fmt.Fprintf(stdout, "failover: cluster up in %.1fs (etcd, 2 Patroni nodes, HAProxy, 3 castellan replicas reaching the primary through %s; replica 3 follows the standby)\n", time.Since(start).Seconds(), via)
	f := newFailover(cfg, h, stdout)
	return f.run(ctx)
}

// freePortRange finds n consecutive free loopback ports, so that runs on
// one machine (several checkouts' make test) do not collide.
func freePortRange(n int) (int, error) {
	for range 50 {
		base := 21000 + 20*rand.IntN(580) // below the ephemeral range (32768-), where outgoing connections take ports
		ok := true
		var held []net.Listener
		for p := base; p < base+n && ok; p++ {
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				ok = false
				break
			}
			held = append(held, ln)
		}
		for _, ln := range held {
			ln.Close()
		}
		if ok {
			return base, nil
		}
	}
	return 0, errors.New("no range of free loopback ports found")
}

// failoverKey is the admin key of the test's replicas.
const failoverKey = "castellan-failover-admin-key"

// factState is what the model knows of one fact.
type factState struct {
	present bool   // inserted (and not deleted)
	rev     uint64 // the revision of the acknowledged write that set present
	busy    bool   // a write of it is in flight: its state is unsettled
	unknown bool   // a write of it failed: it may or may not have committed
	version int    // bumped at every change of the above
}

// ackedWrite is an acknowledged write.
type ackedWrite struct {
	user, repo string
	insert     bool
	rev        uint64
}

type failover struct {
	cfg    *failoverConfig
	h      *haCluster
	out    io.Writer
	api    string   // through HAProxy
	direct []string // each replica
	client *http.Client

	mu     sync.Mutex
	facts  map[int]*factState // by fact number
	names  []int              // fact numbers, for picking
	acked  []ackedWrite
	lastOK time.Time // the last acknowledged write
	gap    time.Duration
	// after the primary is killed
	killedAt    time.Time
	recoveredAt time.Time

	reads, wrong, failedReads, windowReads, windowFailed atomic.Int64
	writeErrs                                            atomic.Int64
	inWindow                                             atomic.Bool
	next                                                 atomic.Int64

	wrongSamples  []string
	failedSamples []string    // of failed reads
	writeStatus   map[int]int // failed writes by status (0: no answer)
	writeSamples  []string    // of writes that failed other than with a 503
}

func newFailover(cfg *failoverConfig, h *haCluster, out io.Writer) *failover {
	f := &failover{cfg: cfg, h: h, out: out, facts: map[int]*factState{}, writeStatus: map[int]int{},
		api: fmt.Sprintf("http://127.0.0.1:%d", cfg.portBase+8)}
	for r := range 3 {
		f.direct = append(f.direct, fmt.Sprintf("http://127.0.0.1:%d", cfg.portBase+10+r))
	}
	f.client = &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	return f
}

func userOf(n int) string { return "u" + strconv.Itoa(n) }
func repoOf(n int) string { return "r" + strconv.Itoa(n) }

// call sends one request; it returns the status (0 when no answer came),
// the OsoOffset header and the body.
func (f *failover) call(ctx context.Context, base, method, path string, body any, offset uint64) (int, uint64, []byte) {
	return callJSON(ctx, f.client, failoverKey, base, method, path, body, offset)
}

// callJSON sends one JSON request with key and, when not 0, an OsoOffset;
// it returns the status (0 when no answer came), the OsoOffset header and
// the body.
func callJSON(ctx context.Context, client *http.Client, key, base, method, path string, body any, offset uint64) (int, uint64, []byte) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return 0, 0, nil
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	if offset > 0 {
		req.Header.Set("OsoOffset", strconv.FormatUint(offset, 10))
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	off, _ := strconv.ParseUint(resp.Header.Get("OsoOffset"), 10, 64)
	return resp.StatusCode, off, b
}

type wireValue struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

func roleFact(n int) map[string]any {
	return map[string]any{"predicate": "has_role", "args": []wireValue{
		{"User", userOf(n)}, {"String", "viewer"}, {"Repository", repoOf(n)}}}
}

func (f *failover) run(ctx context.Context) error {
	// The policy, through HAProxy; then wait until every replica has it.
	if st, _, b := f.call(ctx, f.api, "POST", "/api/policy", map[string]any{"filename": "failover.polar", "src": failoverPolicy}, 0); st != 200 {
		return fmt.Errorf("uploading the policy: %d %s", st, b)
	}
	for _, r := range f.direct {
		if err := f.waitPolicy(ctx, r); err != nil {
			return err
		}
	}

	lctx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range f.cfg.writers {
		wg.Add(1)
		go func() { defer wg.Done(); f.writer(lctx) }()
	}
	for i := range f.cfg.readers {
		wg.Add(1)
		go func() { defer wg.Done(); f.reader(lctx, rand.New(rand.NewPCG(uint64(i), 7))) }()
	}
	stop := func() { stopLoad(); wg.Wait() }

	sleep(ctx, f.cfg.warm)
	f.mu.Lock()
	before := len(f.acked)
	f.mu.Unlock()
	out, err := f.h.run(ctx, "kill-primary")
	if err != nil {
		stop()
		return err
	}
	f.mu.Lock()
	f.killedAt = time.Now()
	f.mu.Unlock()
	f.inWindow.Store(true)
	fmt.Fprintf(f.out, "failover: %d writes acknowledged, then kill -9 of the primary (%s: Patroni and postmaster)\n", before, strings.TrimSpace(out))
	// Wait for writes to succeed again, then some more load.
	deadline := time.Now().Add(90 * time.Second)
	for {
		f.mu.Lock()
		rec := f.recoveredAt
		f.mu.Unlock()
		if !rec.IsZero() {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stop()
			return errors.New("writes did not succeed again within 90 s of the primary's loss")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// And for Patroni to name the new primary (a write answered by the
	// old one just after its kill must not start the next step early).
	for {
		status, _ := f.h.run(ctx, "status")
		if p := firstLines(status, 1); strings.HasPrefix(p, "primary: node") {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stop()
			return errors.New("no new primary within 90 s of the primary's loss")
		}
		time.Sleep(200 * time.Millisecond)
	}
	sleep(ctx, f.cfg.settle)
	f.inWindow.Store(false)
	status, _ := f.h.run(ctx, "status")
	fmt.Fprintf(f.out, "failover: %s", indent(firstLines(status, 3)))

	// Then a castellan replica: kill -9, restart.
	if _, err := f.h.run(ctx, "kill-replica", "2"); err != nil {
		stop()
		return err
	}
	restart := time.Now()
	sleep(ctx, time.Second)
	if _, err := f.h.run(ctx, "start-replica", "2"); err != nil {
		stop()
		return err
	}
	fmt.Fprintf(f.out, "failover: castellan replica 2 killed (kill -9) and restarted: ready %.1fs after the kill\n", time.Since(restart).Seconds())
	sleep(ctx, f.cfg.settle)
	stop()
	return f.verify(ctx)
}

func (f *failover) waitPolicy(ctx context.Context, base string) error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		st, _, b := f.call(ctx, base, "GET", "/api/policy", nil, 0)
		if st == 200 && bytes.Contains(b, []byte("Repository")) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("replica %s did not load the policy", base)
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	return strings.Join(lines[:min(n, len(lines))], "")
}

func indent(s string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n          ") + "\n"
}

// noteWrite records the outcome of a write sent at sent and answered at t.
// Writes count as back only from one sent after the primary's kill: one in
// flight at the kill may still be answered by the dying primary.
func (f *failover) noteWrite(ok bool, sent, t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !ok {
		f.writeErrs.Add(1)
		return
	}
	if !f.lastOK.IsZero() && t.Sub(f.lastOK) > f.gap {
		f.gap = t.Sub(f.lastOK)
	}
	if t.After(f.lastOK) {
		f.lastOK = t
	}
	if !f.killedAt.IsZero() && f.recoveredAt.IsZero() && sent.After(f.killedAt) {
		f.recoveredAt = t
	}
}

// writer inserts new facts and deletes some it inserted, through HAProxy.
func (f *failover) writer(ctx context.Context) {
	var mine []int
	for i := 0; ctx.Err() == nil; i++ {
		if i%3 == 2 && len(mine) > 0 {
			n := mine[0]
			mine = mine[1:]
			f.write(ctx, n, false)
			continue
		}
		n := int(f.next.Add(1))
		if f.write(ctx, n, true) {
			mine = append(mine, n)
		}
		if f.inWindow.Load() && f.lastFailed(n) {
			time.Sleep(20 * time.Millisecond) // the database is away: do not spin
		}
	}
}

func (f *failover) lastFailed(n int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.facts[n]
	return s != nil && s.unknown
}

// write inserts or deletes fact n and records the outcome; it reports
// whether the write was acknowledged.
func (f *failover) write(ctx context.Context, n int, insert bool) bool {
	f.mu.Lock()
	s := f.facts[n]
	if s == nil {
		s = &factState{}
		f.facts[n] = s
		f.names = append(f.names, n)
	}
	s.busy = true
	s.version++
	f.mu.Unlock()
	method := "POST"
	if !insert {
		method = "DELETE"
	}
	sent := time.Now()
	st, rev, body := f.call(ctx, f.api, method, "/api/facts", roleFact(n), 0)
	now := time.Now()
	if ctx.Err() != nil && st == 0 {
		f.mu.Lock()
		s.busy, s.unknown = false, true
		s.version++
		f.mu.Unlock()
		return false
	}
	ok := st == 200 && rev > 0
	if !ok {
		f.mu.Lock()
		f.writeStatus[st]++
		if st != http.StatusServiceUnavailable && len(f.writeSamples) < 5 {
			f.writeSamples = append(f.writeSamples, fmt.Sprintf("%d %s", st, bytes.TrimSpace(body)))
		}
		f.mu.Unlock()
	}
	f.noteWrite(ok, sent, now)
	f.mu.Lock()
	defer f.mu.Unlock()
	s.busy = false
	s.version++
	if !ok {
		s.unknown = true
		return false
	}
	s.present, s.rev = insert, rev
	f.acked = append(f.acked, ackedWrite{user: userOf(n), repo: repoOf(n), insert: insert, rev: rev})
	return true
}

// reader asks about settled facts at the revision of their last write (or
// a fact never written, with no offset) and compares with the model.
func (f *failover) reader(ctx context.Context, rng *rand.Rand) {
	for ctx.Err() == nil {
		f.mu.Lock()
		n, want, rev, version := 0, false, uint64(0), 0
		var s *factState
		if len(f.names) > 0 && rng.IntN(10) > 0 {
			n = f.names[rng.IntN(len(f.names))]
			s = f.facts[n]
			if s.busy || s.unknown || s.rev == 0 {
				f.mu.Unlock()
				continue
			}
			want, rev, version = s.present, s.rev, s.version
		} else {
			n = -1 - rng.IntN(1000) // never written
		}
		f.mu.Unlock()
		body := map[string]any{"actor_type": "User", "actor_id": userOf(n), "action": "read",
			"resource_type": "Repository", "resource_id": repoOf(n)}
		st, _, b := f.call(ctx, f.api, "POST", "/api/authorize", body, rev)
		if ctx.Err() != nil {
			return
		}
		f.reads.Add(1)
		window := f.inWindow.Load()
		if window {
			f.windowReads.Add(1)
		}
		if st != 200 {
			f.failedReads.Add(1)
			if window {
				f.windowFailed.Add(1)
			}
			f.mu.Lock()
			if len(f.failedSamples) < 5 {
				f.failedSamples = append(f.failedSamples, fmt.Sprintf("offset %d: %d %s", rev, st, bytes.TrimSpace(b)))
			}
			f.mu.Unlock()
			continue
		}
		var got struct {
			Allowed bool `json:"allowed"`
		}
		if err := json.Unmarshal(b, &got); err != nil {
			f.failedReads.Add(1)
			continue
		}
		f.mu.Lock()
		if s != nil && s.version != version { // a write of it started meanwhile
			f.mu.Unlock()
			continue
		}
		if got.Allowed != want {
			f.wrong.Add(1)
			if len(f.wrongSamples) < 5 {
				f.wrongSamples = append(f.wrongSamples, fmt.Sprintf("fact %d at offset %d: allowed=%v, want %v", n, rev, got.Allowed, want))
			}
		}
		f.mu.Unlock()
	}
}

// verify checks the database and every replica against the acknowledged
// writes, prints the figures and fails on a lost write, a wrong answer or
// a gap or duplicate in the revisions.
func (f *failover) verify(ctx context.Context) error {
	var problems []string
	url := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/castellan?sslmode=disable", f.cfg.portBase+6)
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, url)
	if err != nil {
		return fmt.Errorf("connecting to the new primary: %w", err)
	}
	defer conn.Close(context.Background())

	// Revisions: contiguous 1..head in the database, distinct among the
	// acknowledged writes.
	var head, count, minRev, maxRev int64
	if err := conn.QueryRow(cctx, "SELECT revision FROM castellan_head").Scan(&head); err != nil {
		return err
	}
	if err := conn.QueryRow(cctx, "SELECT count(*), coalesce(min(revision), 0), coalesce(max(revision), 0) FROM revisions").Scan(&count, &minRev, &maxRev); err != nil {
		return err
	}
	if count != head || minRev != 1 || maxRev != head {
		problems = append(problems, fmt.Sprintf("revisions in the database: %d rows from %d to %d, head %d: a gap or a duplicate", count, minRev, maxRev, head))
	}
	f.mu.Lock()
	acked := slices.Clone(f.acked)
	f.mu.Unlock()
	seen := map[uint64]bool{}
	dups := 0
	for _, a := range acked {
		if seen[a.rev] {
			dups++
		}
		seen[a.rev] = true
	}
	if dups > 0 {
		problems = append(problems, fmt.Sprintf("%d acknowledged writes share a revision with another", dups))
	}

	// Every acknowledged write is in the change log at its revision.
	type change struct {
		user, repo string
		insert     bool
	}
	logged := map[uint64][]change{}
	// The load's writes are single facts (op 1 insert, op 2 delete). The
	// rows of a bulk insert (op 3 names a block of facts.id, op 4 a fact of
	// such a block deleted since) never hold an acknowledged write here, and
	// reading them as single facts would misread them, so they are left out.
	rows, err := conn.Query(cctx, "SELECT revision, op, arg_ids FROM changes WHERE predicate = 'has_role' AND op IN (1, 2)")
	if err != nil {
		return err
	}
	for rows.Next() {
		var rev int64
		var op int16
		var ids []string
		if err := rows.Scan(&rev, &op, &ids); err != nil {
			return err
		}
		if len(ids) == 3 {
			logged[uint64(rev)] = append(logged[uint64(rev)], change{ids[0], ids[2], op == 1})
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	lost := 0
	inserts := 0
	for _, a := range acked {
		if a.insert {
			inserts++
		}
		if !slices.Contains(logged[a.rev], change{a.user, a.repo, a.insert}) {
			lost++
		}
	}
	if lost > 0 {
		problems = append(problems, fmt.Sprintf("%d acknowledged writes are not in the change log at their revision", lost))
	}

	// Every replica reaches the head and answers every settled fact right.
	f.mu.Lock()
	final := map[int]factState{}
	for n, s := range f.facts {
		if !s.busy && !s.unknown && s.rev > 0 {
			final[n] = *s
		}
	}
	f.mu.Unlock()
	finalWrong := 0
	for i, r := range f.direct {
		for n, s := range final {
			body := map[string]any{"actor_type": "User", "actor_id": userOf(n), "action": "read",
				"resource_type": "Repository", "resource_id": repoOf(n)}
			st, _, b := f.call(ctx, r, "POST", "/api/authorize", body, uint64(head))
			var got struct {
				Allowed bool `json:"allowed"`
			}
			if st != 200 || json.Unmarshal(b, &got) != nil || got.Allowed != s.present {
				finalWrong++
				if finalWrong <= 3 {
					problems = append(problems, fmt.Sprintf("replica %d at revision %d: fact %d: %d %s (want allowed=%v)", i+1, head, n, st, bytes.TrimSpace(b), s.present))
				}
			}
		}
	}
	if finalWrong > 3 {
		problems = append(problems, fmt.Sprintf("... %d wrong final answers in all", finalWrong))
	}

	// How fast a write through one replica reaches another (LISTEN/NOTIFY
	// re-established after the failover; replica 3 polls the standby).
	var notify []string
	for i := 1; i < 3; i++ {
		n := int(f.next.Add(1))
		st, rev, b := f.call(ctx, f.direct[0], "POST", "/api/facts", roleFact(n), 0)
		if st != 200 {
			problems = append(problems, fmt.Sprintf("a write after the failover: %d %s", st, b))
			break
		}
		t := time.Now()
		for time.Since(t) < 10*time.Second {
			_, _, rb := f.call(ctx, f.direct[i], "GET", "/readyz", nil, 0)
			var ready struct {
				Revision uint64 `json:"revision"`
			}
			if json.Unmarshal(rb, &ready) == nil && ready.Revision >= rev {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		notify = append(notify, fmt.Sprintf("replica %d %.0f ms", i+1, float64(time.Since(t).Microseconds())/1000))
	}

	f.mu.Lock()
	gap, recovered := f.gap, f.recoveredAt.Sub(f.killedAt)
	samples := slices.Clone(f.wrongSamples)
	f.mu.Unlock()
	reads, wrong, failed := f.reads.Load(), f.wrong.Load(), f.failedReads.Load()
	wreads, wfailed := f.windowReads.Load(), f.windowFailed.Load()
	pct := func(a, b int64) float64 {
		if b == 0 {
			return 0
		}
		return 100 * float64(a) / float64(b)
	}
	f.mu.Lock()
	var byStatus []string
	for _, st := range slices.Sorted(maps.Keys(f.writeStatus)) {
		name := strconv.Itoa(st)
		if st == 0 {
			name = "no answer"
		}
		byStatus = append(byStatus, fmt.Sprintf("%s: %d", name, f.writeStatus[st]))
	}
	f.mu.Unlock()
	fmt.Fprintf(f.out, "failover: acknowledged writes: %d (%d inserts, %d deletes); lost: %d; failed, not acknowledged: %d (%s)\n",
		len(acked), inserts, len(acked)-inserts, lost, f.writeErrs.Load(), strings.Join(byStatus, ", "))
	fmt.Fprintf(f.out, "failover: longest write outage: %.1fs; writes succeeded again %.1fs after the kill\n", gap.Seconds(), recovered.Seconds())
	fmt.Fprintf(f.out, "failover: reads: %d, wrong answers: %d, failed: %d (%.2f%%); during the failover: %d failed of %d (%.2f%%)\n",
		reads, wrong, failed, pct(failed, reads), wfailed, wreads, pct(wfailed, wreads))
	fmt.Fprintf(f.out, "failover: revisions 1..%d in the database without a gap; %d distinct among acknowledged writes, no duplicate: %v\n", head, len(seen), dups == 0 && count == head)
	fmt.Fprintf(f.out, "failover: every replica (the restarted one too) answers all %d settled facts right at revision %d: %v\n", len(final), head, finalWrong == 0)
	fmt.Fprintf(f.out, "failover: a write through replica 1 seen by the followers of: %s\n", strings.Join(notify, ", "))
	f.mu.Lock()
	for _, s := range f.writeSamples {
		fmt.Fprintf(f.out, "failover: a write that failed other than with a 503: %s\n", s)
	}
	for _, s := range f.failedSamples {
		fmt.Fprintf(f.out, "failover: a failed read: %s\n", s)
	}
	f.mu.Unlock()
	for _, s := range samples {
		problems = append(problems, "wrong answer: "+s)
	}
	if wrong > 0 {
		problems = append(problems, fmt.Sprintf("%d wrong answers during the load", wrong))
	}
	if len(acked) == 0 || reads == 0 {
		problems = append(problems, "no load went through")
	}
	if len(problems) > 0 {
		return fmt.Errorf("failover test FAILED:\n  %s", strings.Join(problems, "\n  "))
	}
	fmt.Fprintln(f.out, "failover: PASS")
	return nil
}
