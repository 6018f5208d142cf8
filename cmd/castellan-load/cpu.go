package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// clockTick is the unit of the CPU times in /proc/<pid>/stat (USER_HZ,
// 100 on every Linux architecture Go supports).
const clockTick = 10 * time.Millisecond

// processCPU returns the CPU time (user and system) a process has used so
// far, pid 0 meaning this process. It reads /proc and reports false where
// there is none. CPU time, unlike latency, is not inflated by other work on
// the machine, so it compares runs taken under different loads.
func processCPU(pid int) (time.Duration, bool) {
	name := "self"
	if pid != 0 {
		name = strconv.Itoa(pid)
	}
	b, err := os.ReadFile("/proc/" + name + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name, in parentheses, may hold spaces: fields are counted
	// from the last ')'. utime and stime are fields 14 and 15.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * clockTick, true
}

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
// backends it reaped) and its live processes'. It reports false when
// /proc cannot be read.
func databaseCPU(postmaster int) (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(postmaster) + "/stat")
	if err != nil {
		return 0, false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 15 {
		return 0, false
	}
	var total int64
	for _, x := range f[11:15] { // utime, stime, cutime, cstime
		n, _ := strconv.ParseInt(x, 10, 64)
		total += n
	}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 13 || f[1] != strconv.Itoa(postmaster) {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		k, _ := strconv.ParseInt(f[12], 10, 64)
		total += u + k
	}
	return time.Duration(total) * clockTick, true
}
