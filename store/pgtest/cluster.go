package pgtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
)

// Cluster is a private PostgreSQL server of one test, which the test may
// stop (as a crash would) and start again: a database outage for real.
// Shared servers of NewDatabase are never stopped.
type Cluster struct {
	dir   string   // holds data/, the log and the socket
	port  int      // the port, the same across restarts
	pgCtl string   // the pg_ctl binary
	asPG  []string // the command prefix that runs a binary as postgres when we are root
}

// NewCluster creates a PostgreSQL cluster in a temporary directory (trust
// authentication, a free port on 127.0.0.1), starts it, and stops and
// removes it when the test ends. When the PostgreSQL binaries are missing
// the test is skipped, or fails under CI=true (as for NewDatabase).
func NewCluster(tb testing.TB) *Cluster {
	tb.Helper()
	initdb, err1 := findBin("initdb")
	pgCtl, err2 := findBin("pg_ctl")
	if err1 != nil || err2 != nil {
		missing(tb, "the PostgreSQL binaries (initdb, pg_ctl) are not installed")
	}
	dir, err := os.MkdirTemp("", "castellan-cluster-")
	if err != nil {
		tb.Fatal(err)
	}
	c := &Cluster{dir: dir, pgCtl: pgCtl}
	tb.Cleanup(func() {
		c.run(c.pgCtl, "-D", c.data(), "-m", "immediate", "stop")
		os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 { // PostgreSQL refuses to run as root
		u, err := user.Lookup("postgres")
		if err != nil {
			missing(tb, "running as root and there is no postgres user to run PostgreSQL as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		if err := os.Chown(dir, uid, -1); err != nil {
			tb.Fatal(err)
		}
		c.asPG = []string{"runuser", "-u", "postgres", "--"}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	c.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	if out, err := c.run(initdb, "-D", c.data(), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"); err != nil {
		tb.Fatalf("pgtest: initdb: %v\n%s", err, out)
	}
	c.Start(tb)
	return c
}

// missing skips the test, or fails it under CI=true.
func missing(tb testing.TB, why string) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf("pgtest: %s but CI=true: the PostgreSQL tests must run in CI", why)
	}
	tb.Skipf("pgtest: %s", why)
}

// findBin finds a PostgreSQL binary on PATH or in /usr/lib/postgresql/*/bin.
func findBin(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(matches) == 0 {
		return "", fmt.Errorf("%s not found", name)
	}
	return matches[len(matches)-1], nil
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

func (c *Cluster) run(bin string, args ...string) ([]byte, error) {
	argv := append(append(append([]string(nil), c.asPG...), bin), args...)
	return exec.Command(argv[0], argv[1:]...).CombinedOutput()
}

// URL returns the URL of the cluster's postgres database.
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// Start starts the cluster and waits until it accepts connections.
func (c *Cluster) Start(tb testing.TB) {
	tb.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off", c.port, c.dir)
	if out, err := c.run(c.pgCtl, "-D", c.data(), "-l", filepath.Join(c.dir, "postgres.log"), "-w", "-t", "60", "-o", opts, "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "postgres.log"))
		tb.Fatalf("pgtest: starting the cluster: %v\n%s\n%s", err, out, log)
	}
}

// Kill stops the cluster the way a crash does (pg_ctl stop -m immediate:
// every backend ends at once, connections drop, nothing is shut down
// cleanly); Start brings it back, recovering from its WAL.
func (c *Cluster) Kill(tb testing.TB) {
	tb.Helper()
	if out, err := c.run(c.pgCtl, "-D", c.data(), "-m", "immediate", "stop"); err != nil {
		tb.Fatalf("pgtest: killing the cluster: %v\n%s", err, out)
	}
}

// NewStandby creates a hot standby of c (pg_basebackup with streaming
// replication, on a port of its own), starts it, and stops and removes it
// when the test ends. Its URL is read-only; it replays what c commits.
func (c *Cluster) NewStandby(tb testing.TB) *Cluster {
	tb.Helper()
	basebackup, err := findBin("pg_basebackup")
	if err != nil {
		missing(tb, "pg_basebackup is not installed")
	}
	dir, err := os.MkdirTemp("", "castellan-standby-")
	if err != nil {
		tb.Fatal(err)
	}
	s := &Cluster{dir: dir, pgCtl: c.pgCtl, asPG: c.asPG}
	tb.Cleanup(func() {
		s.run(s.pgCtl, "-D", s.data(), "-m", "immediate", "stop")
		os.RemoveAll(dir)
	})
	if len(c.asPG) > 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			tb.Fatal(err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		if err := os.Chown(dir, uid, -1); err != nil {
			tb.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	if out, err := s.run(basebackup, "-h", "127.0.0.1", "-p", strconv.Itoa(c.port), "-U", "postgres",
		"-D", s.data(), "-R", "-X", "stream", "--no-sync", "--checkpoint=fast"); err != nil {
		tb.Fatalf("pgtest: pg_basebackup: %v\n%s", err, out)
	}
	s.Start(tb)
	return s
}
