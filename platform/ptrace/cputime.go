package ptrace

import (
	"bytes"
	"golang.org/x/sys/unix"
	"os"
	"strconv"
	"time"

	"kvsentry/platform"
)

var _ platform.CPUTimer = (*AddressSpace)(nil)

// clockTick is USER_HZ, the unit of /proc/PID/stat's times.
const clockTick = 10 * time.Millisecond

// CPUTime returns the CPU time the stub process's threads (guest code and
// the host work of injected calls) have used, from /proc/PID/stat's utime
// and stime (proc(5)). It returns zeros once the stub is gone.
func (as *AddressSpace) CPUTime() (user, sys time.Duration) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(as.pid) + "/stat")
	if err != nil {
		return 0, 0
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: state is field 3, utime 14 and stime 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0, 0
	}
	u, _ := strconv.ParseInt(string(f[11]), 10, 64)
	s, _ := strconv.ParseInt(string(f[12]), 10, 64)
	return time.Duration(u) * clockTick, time.Duration(s) * clockTick
}

// CPUClock reads the stub process's CPU clock (clock_gettime(2) on the
// clock id of clock_getcpuclockid(3) for its pid: CPUCLOCK_SCHED, ns), or
// CPUTime's sum where that fails.
func (as *AddressSpace) CPUClock() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(int32(^as.pid<<3|2), &ts) == nil {
		return time.Duration(ts.Nano())
	}
	u, s := as.CPUTime()
	return u + s
}
