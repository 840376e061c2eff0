package ptrace

import (
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// pinTracers makes each tracer thread and its stubs share one CPU. DESIGN.md
// measured PTRACE_SYSEMU round trips across CPUs as 10-15x dearer than on
// one CPU; BenchmarkGetpidRoundTrip compares both settings here.
var pinTracers = true

// nextCPU spreads the threads pinned with pinTracer over the CPUs
// round-robin.
var nextCPU atomic.Uint32

// allowedCPUs returns the CPUs the calling thread may run on, in order.
func allowedCPUs() []int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil
	}
	var cpus []int
	for c := 0; c < len(set)*64; c++ {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	return cpus
}

// pinTo pins host thread tid (0: the caller) to cpu (sched_setaffinity(2)).
func pinTo(tid, cpu int) error {
	var one unix.CPUSet
	one.Set(cpu)
	return unix.SchedSetaffinity(tid, &one)
}

// pinTracer pins the calling (locked) thread to one CPU, chosen round-robin
// among the CPUs it may run on, and returns it; a thread already limited to
// one CPU keeps it. Stubs forked afterwards inherit the affinity
// (sched_setaffinity(2)). Returns -1 when pinning is off or fails. The stub
// server pins itself so; tracer threads of guest threads are placed by
// placeTracer instead.
//
// Go never clones new threads from a thread locked with LockOSThread (it
// asks its template thread), so the pin does not leak into the runtime; it
// does stay with the thread if the caller later unlocks it.
func pinTracer() int {
	if !pinTracers {
		return -1
	}
	cpus := allowedCPUs()
	switch len(cpus) {
	case 0:
		return -1
	case 1:
		return cpus[0]
	}
	cpu := cpus[int(nextCPU.Add(1)-1)%len(cpus)]
	if pinTo(0, cpu) != nil {
		return -1
	}
	return cpu
}
