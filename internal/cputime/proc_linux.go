package cputime

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of the CPU times in /proc/<pid>/stat (USER_HZ,
// 100 on every Linux architecture Go supports).
const clockTick = 10 * time.Millisecond

// statFields returns the fields of /proc/<name>/stat after the command
// name (which, in parentheses, may hold spaces): the state is [0], the
// parent's pid [1], utime [11], stime [12], cutime [13], cstime [14].
func statFields(name string) []string {
	b, err := os.ReadFile("/proc/" + name + "/stat")
	if err != nil {
		return nil
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

// ticks sums fields of f as clock ticks.
func ticks(f []string) time.Duration {
	var n int64
	for _, x := range f {
		v, _ := strconv.ParseInt(x, 10, 64)
		n += v
	}
	return time.Duration(n) * clockTick
}

// Of returns the CPU time (user and system) process pid has used so far,
// pid 0 meaning this process, from /proc: another process's too (a
// server a benchmark drives), in clock ticks of 10 ms. It reports false
// where it cannot be read.
func Of(pid int) (time.Duration, bool) {
	name := "self"
	if pid != 0 {
		name = strconv.Itoa(pid)
	}
	f := statFields(name)
	if len(f) < 13 {
		return 0, false
	}
	return ticks(f[11:13]), true
}

// Tree returns the CPU time used so far by process pid and its children:
// its own, its children's that ended (and that it waited for) and its
// live children's, e.g. a PostgreSQL server's postmaster and its
// backends. It reports false where /proc cannot be read.
func Tree(pid int) (time.Duration, bool) {
	f := statFields(strconv.Itoa(pid))
	if len(f) < 15 {
		return 0, false
	}
	total := ticks(f[11:15])
	parent := strconv.Itoa(pid)
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		c := statFields(filepath.Base(filepath.Dir(p)))
		if len(c) >= 13 && c[1] == parent {
			total += ticks(c[11:13])
		}
	}
	return total, true
}
