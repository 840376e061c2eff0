package ptrace

import (
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"kvsentry/platform"
)

// taskCount is the number of threads of host process pid (0 if gone).
func taskCount(pid int) int {
	ents, err := os.ReadDir("/proc/" + itoa(pid) + "/task")
	if err != nil {
		return 0
	}
	return len(ents)
}

// childCount is the number of child processes of this process, over all its
// threads (/proc/self/task/*/children).
func childCount(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		b, _ := os.ReadFile("/proc/self/task/" + e.Name() + "/children")
		n += len(strings.Fields(string(b)))
	}
	return n
}

// guestThread runs one "guest thread" on lt as a task worker does: a new
// Context, one Switch of a load+getpid in as, then Keep. It returns the
// stub thread that ran it.
func (e *env) guestThread(t *testing.T, lt *lockedThread, as *AddressSpace, want uint64) int {
	t.Helper()
	var ev platform.Event
	var err error
	var tid int
	r := e.loadFrom(dataAddr)
	lt.do(func() {
		c, _ := e.p.NewContext()
		ctx := c.(*Context)
		if ev, err = ctx.Switch(as, r); err == nil {
			tid = ctx.lastT.tid
		}
		ctx.Keep()
	})
	if err != nil || ev.Kind != platform.EventSyscall || r.Rdi != want {
		t.Fatalf("guest thread: event %+v err %v rdi %#x, want a syscall with rdi %#x", ev, err, r.Rdi, want)
	}
	return tid
}

func TestKeptStubThreadIsReused(t *testing.T) {
	e := newEnv(t)
	pid := e.as.Pid()
	e.pool[pageSize] = 0x5a // dataAddr's first byte
	w := newLockedThread(t, e.p, true)
	first := e.guestThread(t, w, e.as, 0x5a)
	threads := taskCount(pid)
	if got := e.guestThread(t, w, e.as, 0x5a); got != first {
		t.Errorf("second guest thread ran on stub thread %d, want the kept %d", got, first)
	}
	if n := taskCount(pid); n != threads {
		t.Errorf("stub %d has %d threads after a reuse, want %d", pid, n, threads)
	}
	// The kept thread's tracer is idle for the balancer until it switches.
	tracers.mu.Lock()
	ts := tracers.m[threadTid(w)]
	tracers.mu.Unlock()
	if ts != nil && !ts.idle.Load() {
		t.Errorf("tracer of a kept context is not idle")
	}
	// Release on a context of the thread ends its kept stub thread only.
	w.do(func() { w.ctx.Release() })
	if _, err := os.Stat("/proc/" + itoa(pid) + "/task/" + itoa(first)); !os.IsNotExist(err) {
		t.Errorf("kept stub thread %d still exists after Release (err %v)", first, err)
	}
	if ev := e.switchTo(e.loadFrom(dataAddr)); ev.Kind != platform.EventSyscall {
		t.Fatalf("the address space's other thread after Release: event %+v", ev)
	}
}

// threadTid returns the host tid of lt's thread.
func threadTid(lt *lockedThread) int {
	var tid int
	lt.do(func() { tid = unix.Gettid() })
	return tid
}

// settledChildCount waits until the platform's pool of ready stubs is full
// and the number of child processes stays put, and returns it.
func (e *env) settledChildCount(t *testing.T) int {
	last, since := -1, time.Now()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		n := childCount(t)
		if n != last {
			last, since = n, time.Now()
		}
		if len(e.p.pool.ready) == readyStubs && time.Since(since) > 100*time.Millisecond {
			break
		}
	}
	return last
}

func TestAddressSpaceReleaseReapsKeptThreads(t *testing.T) {
	e := newEnv(t)
	w := newLockedThread(t, e.p, true)
	// A second address space, made on w, with the env's pages.
	var as *AddressSpace
	var err error
	w.do(func() {
		var pas platform.AddressSpace
		if pas, err = e.p.NewAddressSpace(); err != nil {
			return
		}
		as = pas.(*AddressSpace)
		err = as.MapFiles([]Mapping{
			{Addr: codeAddr, Length: pageSize, PoolOffset: 0, Perms: platform.Read | platform.Execute},
			{Addr: dataAddr, Length: pageSize, PoolOffset: pageSize, Perms: platform.ReadWrite},
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	pid := as.Pid()
	e.pool[pageSize] = 7
	e.guestThread(t, w, as, 7)
	// Torn down from another thread while w keeps a stub thread in it.
	as.Release()
	if _, err := os.Stat("/proc/" + itoa(pid)); !os.IsNotExist(err) {
		t.Errorf("/proc/%d still exists after Release (err %v)", pid, err)
	}
	tid := threadTid(w)
	tracees.mu.Lock()
	for st, tas := range tracees.m[tid] {
		if tas == as {
			t.Errorf("stub thread %d of the released address space is still recorded for tracer %d", st.tid, tid)
		}
	}
	tracees.mu.Unlock()
	// The worker goes on in its other address space.
	e.guestThread(t, w, e.as, 7)
}

// TestKeepCyclesLeakNothing runs 1,000 guest threads one after another on
// two alternating worker threads, as pthread_create+join does on task
// workers, then tears the address space down: no host thread, stub thread or
// child process may be left over.
func TestKeepCyclesLeakNothing(t *testing.T) {
	e := newEnv(t)
	pid := e.as.Pid()
	e.pool[pageSize] = 3
	w := [2]*lockedThread{newLockedThread(t, e.p, true), newLockedThread(t, e.p, true)}
	e.guestThread(t, w[0], e.as, 3)
	e.guestThread(t, w[1], e.as, 3)
	childBefore := e.settledChildCount(t)
	selfBefore, stubBefore := taskCount(os.Getpid()), taskCount(pid)
	tids := map[int]bool{}
	for i := range 1000 {
		tids[e.guestThread(t, w[i%2], e.as, 3)] = true
	}
	if len(tids) != 2 {
		t.Errorf("1000 guest threads on 2 workers used %d stub threads, want 2", len(tids))
	}
	// A few threads of slack: the Go runtime may start threads of its own
	// meanwhile; a leak per cycle would show hundreds.
	if n := taskCount(os.Getpid()); n > selfBefore+4 {
		t.Errorf("the process has %d threads after 1000 cycles, %d before", n, selfBefore)
	}
	if n := taskCount(pid); n != stubBefore {
		t.Errorf("stub %d has %d threads after 1000 cycles, %d before", pid, n, stubBefore)
	}
	if n := childCount(t); n > childBefore {
		t.Errorf("%d child processes after 1000 cycles, %d before", n, childBefore)
	}
	e.as.Release()
	if _, err := os.Stat("/proc/" + itoa(pid)); !os.IsNotExist(err) {
		t.Errorf("/proc/%d still exists after Release (err %v)", pid, err)
	}
	if n := childCount(t); n != childBefore-1 {
		t.Errorf("%d child processes after Release, want %d", n, childBefore-1)
	}
}
