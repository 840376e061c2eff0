package ptrace

import (
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// CPU placement of tracer threads (each with its stub threads, see
// pinTracer). Two forces pull apart: guest threads that hand work to each
// other (a pipe, a futex, fork+wait, pthread_join) want one CPU, since on
// this kind of host a wake-up across CPUs costs tens of µs (DESIGN.md) —
// far more than the round trip it hands over; guest threads that compute
// at the same time want a CPU each. As Linux's scheduler does with its
// wake-affine placement and periodic load balancing (kernel/sched/fair.c),
// a new tracer thread starts on the CPU with the fewest busy tracers (the
// first one on a tie, so that communicating threads meet), and a balancer
// goroutine, running while two or more tracers live, moves one busy tracer
// from a CPU that holds two or more to a CPU that holds none. A tracer is
// busy when, over the last period, its guest thread was inside Switch
// (running guest code, waiting for a CPU to do so, or in a system-call round
// trip) for more than busyShare of the period. The sentry's own work for a
// guest thread does not count: the CPU time of the tracer thread overlaps
// with its Switches and would make threads that only hand work to each
// other look busy. A tracer thread whose guest thread ended but which waits
// for the next one (Context.Keep) keeps its CPU and counts as idle: neither
// busy nor a reason to run the balancer.

// balancePeriod is how often the balancer looks at the tracers.
const balancePeriod = 10 * time.Millisecond

// busyShare is the share of a period above which a tracer counts as busy.
const busyShare = 0.7

// tracerState is what the placement knows of one tracer thread.
type tracerState struct {
	tid int
	cpu atomic.Int32 // the CPU the tracer and its stub threads are pinned to
	// runSince is the monotonic time (monoNow) at which the running Switch
	// resumed the guest, 0 outside Switch; inGuest sums finished Switches.
	runSince atomic.Int64
	inGuest  atomic.Int64
	ctx      atomic.Pointer[Context] // the tracer's context, to find the running stub thread

	// Balancer-only fields.
	seen                bool
	lastGuest, lastTime int64
	busy                atomic.Bool // also read by placeTracer
	// idle is set by Context.Keep until the thread's next Context switches.
	idle atomic.Bool
}

// tracers is the registry of placed tracer threads, keyed by host tid.
var tracers struct {
	mu        sync.Mutex
	m         map[int]*tracerState
	cpus      []int // the CPUs tracers may use, set at the first placement
	balancing bool  // the balancer goroutine runs
}

// monoEpoch is the origin of monoNow.
var monoEpoch = time.Now()

// monoNow is monotonic time in ns since monoEpoch (never 0 once running).
func monoNow() int64 { return int64(time.Since(monoEpoch)) + 1 }

// placeTracer pins the calling (locked) thread, if not yet placed, to the
// CPU holding the fewest busy tracers, and returns its CPU (-1 when pinning
// is off or fails). A thread that is already limited to one CPU keeps it.
func placeTracer() int {
	if !pinTracers {
		return -1
	}
	tid := unix.Gettid()
	tracers.mu.Lock()
	defer tracers.mu.Unlock()
	if ts := tracers.m[tid]; ts != nil {
		return int(ts.cpu.Load())
	}
	if tracers.m == nil {
		tracers.m = map[int]*tracerState{}
		tracers.cpus = allowedCPUs()
		if len(tracers.cpus) >= 2 {
			pinRuntimeThreads(tracers.cpus[0], len(tracers.cpus))
		}
	}
	if len(tracers.cpus) == 0 {
		return -1
	}
	if len(tracers.cpus) == 1 {
		return tracers.cpus[0]
	}
	busy := map[int]int{}
	for _, ts := range tracers.m {
		if ts.busy.Load() {
			busy[int(ts.cpu.Load())]++
		}
	}
	cpu := tracers.cpus[0]
	for _, c := range tracers.cpus[1:] {
		if busy[c] < busy[cpu] {
			cpu = c
		}
	}
	if pinTo(0, cpu) != nil {
		return -1
	}
	ts := &tracerState{tid: tid}
	ts.cpu.Store(int32(cpu))
	tracers.m[tid] = ts
	startBalancerLocked()
	return cpu
}

// activeTracersLocked counts the placed tracers that are not idle.
// tracers.mu held.
func activeTracersLocked() int {
	n := 0
	for _, ts := range tracers.m {
		if !ts.idle.Load() {
			n++
		}
	}
	return n
}

// startBalancerLocked starts the balancer when two or more tracers are
// active and it is not running. tracers.mu held.
func startBalancerLocked() {
	if !tracers.balancing && len(tracers.cpus) >= 2 && activeTracersLocked() >= 2 {
		tracers.balancing = true
		go balanceLoop()
	}
}

// tracerFor returns the placement record of tracer thread tid, nil if it
// was never placed, ties ctx to it and counts it active again.
func tracerFor(tid int, ctx *Context) *tracerState {
	tracers.mu.Lock()
	defer tracers.mu.Unlock()
	ts := tracers.m[tid]
	if ts != nil {
		ts.ctx.Store(ctx)
		if ts.idle.CompareAndSwap(true, false) {
			startBalancerLocked()
		}
	}
	return ts
}

// idleTracer marks ts idle: its guest thread ended and the thread waits for
// the next one (Context.Keep).
func idleTracer(ts *tracerState) {
	ts.runSince.Store(0)
	ts.ctx.Store(nil)
	ts.busy.Store(false)
	ts.idle.Store(true)
}

// dropTracer forgets tracer thread tid (it is about to end).
func dropTracer(tid int) {
	tracers.mu.Lock()
	delete(tracers.m, tid)
	tracers.mu.Unlock()
}

// balanceLoop runs balance every balancePeriod while two or more tracers
// are placed and active.
func balanceLoop() {
	for {
		time.Sleep(balancePeriod)
		tracers.mu.Lock()
		if activeTracersLocked() < 2 {
			tracers.balancing = false
			for _, ts := range tracers.m {
				ts.seen = false
				ts.busy.Store(false)
			}
			tracers.mu.Unlock()
			return
		}
		list := make([]*tracerState, 0, len(tracers.m))
		for _, ts := range tracers.m {
			list = append(list, ts)
		}
		cpus := tracers.cpus
		tracers.mu.Unlock()
		balance(list, cpus)
	}
}

// balance marks the busy tracers of list and moves one busy tracer from a
// CPU with two or more of them to a CPU of cpus with none.
func balance(list []*tracerState, cpus []int) {
	now := monoNow()
	busy := map[int][]*tracerState{}
	for _, ts := range list {
		if ts.idle.Load() {
			// Measured afresh when its next guest thread runs.
			ts.seen = false
			ts.busy.Store(false)
			continue
		}
		g := ts.inGuest.Load()
		if rs := ts.runSince.Load(); rs != 0 {
			g += now - rs
		}
		if ts.seen {
			ts.busy.Store(float64(g-ts.lastGuest) >= busyShare*float64(now-ts.lastTime))
		}
		ts.seen, ts.lastGuest, ts.lastTime = true, g, now
		if ts.busy.Load() {
			cpu := int(ts.cpu.Load())
			busy[cpu] = append(busy[cpu], ts)
		}
	}
	from, to := -1, -1
	for _, c := range cpus {
		if len(busy[c]) >= 2 && from < 0 {
			from = c
		}
		if len(busy[c]) == 0 && to < 0 {
			to = c
		}
	}
	if from < 0 || to < 0 {
		return
	}
	ts := busy[from][len(busy[from])-1]
	logrus.Debugf("ptrace: tracer thread %d moves from CPU %d to CPU %d", ts.tid, from, to)
	ts.cpu.Store(int32(to))
	pinTo(ts.tid, to)
	if c := ts.ctx.Load(); c != nil {
		if r := c.running.Load(); r != 0 {
			pinTo(int(uint32(r)), to)
		}
	}
}

// pinRuntimeThreads pins every thread of the sentry that may still run on
// all n CPUs (the Go runtime's unlocked threads; tracer and server threads
// are pinned already) to cpu, where new tracer threads start: a guest thread
// that wakes another one readies its goroutine through such a thread, and a
// wake-up that stays on one CPU is an order of magnitude cheaper here.
// Threads the runtime starts later inherit the pin from their creator.
func pinRuntimeThreads(cpu, n int) {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return
	}
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var set unix.CPUSet
		if unix.SchedGetaffinity(tid, &set) == nil && set.Count() == n {
			pinTo(tid, cpu)
		}
	}
}
