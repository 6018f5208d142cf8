package main

import (
	"os"
	"strconv"
	"strings"
	"time"
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
// server process use while a function runs.
type cpuMeter struct {
	pid int
}

// measure runs f and adds the CPU time used meanwhile to res.
func (m cpuMeter) measure(res *result, f func()) {
	self0, okSelf0 := processCPU(0)
	srv0, okSrv0 := processCPU(m.pid)
	f()
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
