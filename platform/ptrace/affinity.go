package ptrace

import (
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// pinTracers makes each tracer thread and its stubs share one CPU. DESIGN.md
// measured PTRACE_SYSEMU round trips across CPUs as 10-15x dearer than on
// one CPU; BenchmarkGetpidRoundTrip compares both settings here.
var pinTracers = true

// nextCPU spreads tracer threads over the CPUs round-robin.
var nextCPU atomic.Uint32

// pinTracer pins the calling (locked) thread to one CPU, chosen round-robin
// among the CPUs it may run on, and returns it; a thread already limited to
// one CPU keeps it. Stubs forked afterwards inherit the affinity
// (sched_setaffinity(2)). Returns -1 when pinning is off or fails.
//
// Go never clones new threads from a thread locked with LockOSThread (it
// asks its template thread), so the pin does not leak into the runtime; it
// does stay with the thread if the caller later unlocks it.
func pinTracer() int {
	if !pinTracers {
		return -1
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return -1
	}
	n := set.Count()
	if n == 0 {
		return -1
	}
	if n == 1 {
		for c := 0; c < len(set)*64; c++ {
			if set.IsSet(c) {
				return c
			}
		}
	}
	k := int(nextCPU.Add(1)-1) % n
	cpu := -1
	for c := 0; c < len(set)*64; c++ {
		if set.IsSet(c) {
			if k == 0 {
				cpu = c
				break
			}
			k--
		}
	}
	var one unix.CPUSet
	one.Set(cpu)
	if err := unix.SchedSetaffinity(0, &one); err != nil {
		return -1
	}
	return cpu
}
