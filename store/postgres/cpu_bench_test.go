package postgres_test

import (
	"github.com/castellan-authz/castellan/internal/cputime"
	"github.com/jackc/pgx/v5"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// postgresCPU returns the CPU time used so far by the PostgreSQL server
// whose postmaster has pid postmaster and its processes (cputime.Tree), or
// 0 where /proc cannot be read.
func postgresCPU(postmaster int) time.Duration {
	d, _ := cputime.Tree(postmaster)
	return d
}

// postmasterPID returns the pid of the server at url (read from its data
// directory's postmaster.pid), or 0 when it is not on this machine.
func postmasterPID(tb testing.TB, url string) int {
	c, err := pgx.Connect(tb.Context(), url)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close(tb.Context())
	var dir string
	if err := c.QueryRow(tb.Context(), "SELECT current_setting('data_directory')").Scan(&dir); err != nil {
		return 0
	}
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	return pid
}

// processCPU returns the CPU time used so far by this process (0 where
// it cannot be read).
func processCPU() time.Duration {
	d, _ := cputime.Process()
	return d
}

// cpuMeter measures the CPU time of this process and of the PostgreSQL
// server between its start and report: on a machine shared with other
// work, CPU per fact is steadier than wall-clock rates. (Backends that end
// during the measurement are not counted.)
type cpuMeter struct {
	postmaster   int
	goCPU, pgCPU time.Duration
}

func startCPU(postmaster int) cpuMeter {
	return cpuMeter{postmaster, processCPU(), postgresCPU(postmaster)}
}

// report adds the Go process's and the server's CPU microseconds per fact.
func (m cpuMeter) report(b *testing.B, facts int) {
	reportCPU(b, processCPU()-m.goCPU, postgresCPU(m.postmaster)-m.pgCPU, facts)
}

// reportCPU reports CPU microseconds per fact of this process (go) and of
// the PostgreSQL server (pg).
func reportCPU(b *testing.B, goCPU, pgCPU time.Duration, facts int) {
	b.ReportMetric(float64(goCPU.Microseconds())/float64(facts), "go-µs/fact")
	b.ReportMetric(float64(pgCPU.Microseconds())/float64(facts), "pg-µs/fact")
}
