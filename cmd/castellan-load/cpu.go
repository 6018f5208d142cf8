package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/castellan-authz/castellan/internal/cputime"
	"github.com/jackc/pgx/v5"
)

// processCPU returns the CPU time (user and system) a process has used so
// far, pid 0 meaning this process (cputime.Of). CPU time, unlike latency,
// is not inflated by other work on the machine, so it compares runs taken
// under different loads.
func processCPU(pid int) (time.Duration, bool) { return cputime.Of(pid) }

// cpuMeter measures the CPU time this process and, when pid is not 0, the
// server process use while a function runs; and, when postmaster is not
// 0, the PostgreSQL server's.
type cpuMeter struct {
	pid        int
	postmaster int
}

// measure runs f and adds the CPU time used meanwhile to res.
func (m cpuMeter) measure(res *result, f func()) {
	self0, okSelf0 := processCPU(0)
	srv0, okSrv0 := processCPU(m.pid)
	var db0 time.Duration
	okDB0 := false
	if m.postmaster != 0 {
		db0, okDB0 = databaseCPU(m.postmaster)
	}
	f()
	if okDB0 {
		if db1, ok := databaseCPU(m.postmaster); ok {
			res.databaseCPU += db1 - db0
			res.databaseCPUKnown = true
		}
	}
	self1, okSelf1 := processCPU(0)
	srv1, okSrv1 := processCPU(m.pid)
	if okSelf0 && okSelf1 {
		res.selfCPU += self1 - self0
		res.selfCPUKnown = true
	}
	if m.pid != 0 && okSrv0 && okSrv1 {
		res.serverCPU += srv1 - srv0
		res.serverCPUKnown = true
	}
}

// postmasterPID returns the pid of the PostgreSQL server at url when it
// runs on this machine (read from its data directory's postmaster.pid),
// else 0.
func postmasterPID(ctx context.Context, url string) int {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0
	}
	defer conn.Close(context.Background())
	var dir string
	if err := conn.QueryRow(ctx, "SELECT current_setting('data_directory')").Scan(&dir); err != nil {
		return 0
	}
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	return pid
}

// databaseCPU returns the CPU time used so far by the PostgreSQL server
// whose postmaster has pid postmaster: the postmaster's own (with the
// backends it reaped) and its live processes' (cputime.Tree). It reports
// false when /proc cannot be read.
func databaseCPU(postmaster int) (time.Duration, bool) { return cputime.Tree(postmaster) }
