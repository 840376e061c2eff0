package ptrace

import (
	"encoding/binary"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"kvsentry/platform"
)

// lockedThread is a goroutine locked to its own OS thread with a Context of
// its own, running closures on that thread.
type lockedThread struct {
	ctx  *Context
	reqs chan func()
}

// newLockedThread starts a locked goroutine. It ends, still locked (so its
// thread exits), when the test ends; with release it first calls
// Context.Release, as the sentry does.
func newLockedThread(t testing.TB, p *Platform, release bool) *lockedThread {
	lt := &lockedThread{reqs: make(chan func())}
	ready := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		ctx, err := p.NewContext()
		if err != nil {
			panic(err)
		}
		lt.ctx = ctx.(*Context)
		close(ready)
		for f := range lt.reqs {
			f()
		}
		if release {
			lt.ctx.Release()
		}
	}()
	<-ready
	t.Cleanup(lt.stop)
	return lt
}

// do runs f on the thread and waits for it.
func (lt *lockedThread) do(f func()) {
	done := make(chan struct{})
	lt.reqs <- func() { f(); close(done) }
	<-done
}

// stop ends the goroutine and its thread.
func (lt *lockedThread) stop() {
	defer func() { recover() }() // stopped already
	done := make(chan struct{})
	lt.reqs <- func() { close(done) }
	close(lt.reqs)
	<-done
}

// Guest code offsets in the code page (pool page 0) for the thread tests.
const (
	offStore = 0x100
	offLoad  = 0x200
	offCount = 0x300
)

var (
	// movabs $0x600000,%rcx; mov %rdi,(%rcx); mov $39,%eax; syscall
	codeStoreRdi = []byte{0x48, 0xb9, 0, 0, 0x60, 0, 0, 0, 0, 0, 0x48, 0x89, 0x39, 0xb8, 0x27, 0, 0, 0, 0x0f, 0x05}
	// mov $200000000,%rdx; 1: dec %rdx; jnz 1b; mov $39,%eax; syscall
	codeCountDown = []byte{0x48, 0xc7, 0xc2, 0x00, 0xc2, 0xeb, 0x0b, 0x48, 0xff, 0xca, 0x75, 0xfb,
		0xb8, 0x27, 0, 0, 0, 0x0f, 0x05}
)

// regsFor returns fresh registers starting at off in the code page, after
// copying code there.
func (e *env) regsFor(off int, code []byte) *platform.Registers {
	copy(e.pool[off:], code)
	r := &platform.Registers{FPState: e.p.InitialFPState()}
	r.Rip = codeAddr + uint64(off)
	r.Rsp = dataAddr + pageSize
	r.Cs, r.Ss, r.Eflags = 0x33, 0x2b, 0x202
	return r
}

// loadFrom returns registers for a load of the quadword at addr into rdi
// followed by getpid (codeLoadData at offLoad with its address patched).
func (e *env) loadFrom(addr uint64) *platform.Registers {
	r := e.regsFor(offLoad, codeLoadData)
	binary.LittleEndian.PutUint64(e.pool[offLoad+2:], addr)
	return r
}

func TestTwoThreadsShareAddressSpace(t *testing.T) {
	e := newEnv(t)
	b := newLockedThread(t, e.p, true)
	// A's guest stores to the shared page, B's guest reads it.
	r := e.regsFor(offStore, codeStoreRdi)
	r.Rdi = 0xabcdef
	if ev := e.switchTo(r); ev.Kind != platform.EventSyscall {
		t.Fatalf("A: event %+v", ev)
	}
	var ev platform.Event
	var err error
	rb := e.loadFrom(dataAddr)
	b.do(func() { ev, err = b.ctx.Switch(e.as, rb) })
	if err != nil || ev.Kind != platform.EventSyscall || rb.Rdi != 0xabcdef {
		t.Fatalf("B: event %+v err %v rdi %#x, want the value A's guest stored", ev, err, rb.Rdi)
	}
	tidA, tidB := e.ctx.lastT.tid, b.ctx.lastT.tid
	if tidA == tidB || tidA == e.as.Pid() || tidB == e.as.Pid() {
		t.Errorf("stub threads: A %d, B %d, master %d; want three different threads", tidA, tidB, e.as.Pid())
	}
	// MapFile on A is visible to B's guest.
	binary.LittleEndian.PutUint64(e.pool[5*pageSize:], 555)
	e.mustMap(0x5000000, 5, platform.Read)
	rb = e.loadFrom(0x5000000)
	b.do(func() { ev, err = b.ctx.Switch(e.as, rb) })
	if err != nil || ev.Kind != platform.EventSyscall || rb.Rdi != 555 {
		t.Fatalf("B after A's MapFile: event %+v err %v rdi %d", ev, err, rb.Rdi)
	}
	// Unmap on B makes A's guest fault.
	b.do(func() { err = e.as.Unmap(0x5000000, pageSize) })
	if err != nil {
		t.Fatal(err)
	}
	r = e.loadFrom(0x5000000)
	if ev := e.switchTo(r); ev.Kind != platform.EventFault || ev.Addr != 0x5000000 {
		t.Fatalf("A after B's Unmap: event %+v, want a fault at 0x5000000", ev)
	}
	// MapFiles from B, seen by A.
	b.do(func() {
		err = e.as.MapFiles([]Mapping{{Addr: 0x5000000, Length: pageSize, PoolOffset: 5 * pageSize, Perms: platform.Read}})
	})
	if err != nil {
		t.Fatal(err)
	}
	r = e.loadFrom(0x5000000)
	if ev := e.switchTo(r); ev.Kind != platform.EventSyscall || r.Rdi != 555 {
		t.Fatalf("A after B's MapFiles: event %+v rdi %d", ev, r.Rdi)
	}
	// Context.Release on B ends B's stub thread only.
	b.do(func() { b.ctx.Release() })
	if _, err := os.Stat("/proc/" + itoa(e.as.Pid()) + "/task/" + itoa(tidB)); !os.IsNotExist(err) {
		t.Errorf("B's stub thread %d still exists after B's Context.Release (err %v)", tidB, err)
	}
	if ev := e.switchTo(e.loadFrom(dataAddr)); ev.Kind != platform.EventSyscall {
		t.Fatalf("A after B left: event %+v", ev)
	}
}

// TestSwitchRunsInParallel runs CPU-bound guest loops on two threads of one
// address space at the same time; each must finish with the right result.
func TestSwitchRunsInParallel(t *testing.T) {
	e := newEnv(t)
	b := newLockedThread(t, e.p, true)
	run := func(ctx *Context) time.Duration {
		r := e.regsFor(offCount, codeCountDown)
		start := time.Now()
		ev, err := ctx.Switch(e.as, r)
		if err != nil || ev.Kind != platform.EventSyscall || r.Rdx != 0 {
			t.Errorf("count-down loop: event %+v err %v rdx %d", ev, err, r.Rdx)
		}
		return time.Since(start)
	}
	run(e.ctx)
	b.do(func() { run(b.ctx) }) // both stub threads exist before timing
	cpuA, cpuB := e.ctx.lastT.cpu, b.ctx.lastT.cpu
	start := time.Now()
	run(e.ctx)
	run(e.ctx)
	serial := time.Since(start)
	start = time.Now()
	done := make(chan struct{})
	go b.do(func() { run(b.ctx); close(done) })
	run(e.ctx)
	<-done
	parallel := time.Since(start)
	// The speed-up itself is a benchmark figure (test/bench, "speed-up, 2
	// threads vs 1"), not asserted: timed assertions flake on a shared
	// machine. What must hold is that both loops ran to the end correctly.
	t.Logf("two 2e8-iteration guest loops: one thread %v, two threads %v (%d CPUs, tracers on CPUs %d and %d)",
		serial, parallel, runtime.NumCPU(), cpuA, cpuB)
}

func TestReleaseWhileThreadsSwitch(t *testing.T) {
	e := newEnv(t)
	pid := e.as.Pid()
	errs := make(chan error, 2)
	for i := 0; i < 2; i++ {
		lt := newLockedThread(t, e.p, false)
		r := e.regsAt(codeSpin)
		go lt.do(func() {
			_, err := lt.ctx.Switch(e.as, r)
			errs <- err
		})
	}
	time.Sleep(20 * time.Millisecond) // both guests spinning
	done := make(chan struct{})
	go func() { e.as.Release(); close(done) }() // a third thread
	<-done
	if _, err := os.Stat("/proc/" + itoa(pid)); !os.IsNotExist(err) {
		t.Errorf("/proc/%d still exists after Release (err %v)", pid, err)
	}
	for i := 0; i < 2; i++ {
		select {
		case err := <-errs:
			if err == nil {
				t.Errorf("Switch on a released address space returned no error")
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Switch still blocked after Release")
		}
	}
}

func TestInterruptOneThreadOnly(t *testing.T) {
	e := newEnv(t)
	b := newLockedThread(t, e.p, true)
	rb := e.regsAt(codeSpin)
	evc := make(chan platform.Event, 1)
	go b.do(func() {
		ev, err := b.ctx.Switch(e.as, rb)
		if err != nil {
			t.Errorf("B: %v", err)
		}
		evc <- ev
	})
	ra := e.regsFor(offCount, codeGetpidLoop)
	for i := 0; i < 200; i++ {
		if i == 50 {
			b.ctx.Interrupt()
		}
		if ev := e.switchTo(ra); ev.Kind != platform.EventSyscall {
			t.Fatalf("A, round trip %d: event %+v, want syscall", i, ev)
		}
	}
	select {
	case ev := <-evc:
		if ev.Kind != platform.EventInterrupt {
			t.Errorf("B: event %+v, want interrupt", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("B's Switch was not interrupted")
	}
}

func TestTracerExitWithoutReleaseKillsStub(t *testing.T) {
	e := newEnv(t)
	pid := e.as.Pid()
	b := newLockedThread(t, e.p, false)
	var err error
	b.do(func() { err = e.as.MapFile(0x700000, pageSize, 0, platform.Read) })
	if err != nil {
		t.Fatal(err)
	}
	b.stop() // the thread exits with a stub thread still traced
	// PTRACE_O_EXITKILL: the stub dies rather than run guest code untraced.
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile("/proc/" + itoa(pid) + "/stat")
		if len(b) == 0 || strings.Contains(string(b), ") Z") || strings.Contains(string(b), ") X") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stub %d still alive after its tracer thread exited: %s", pid, b)
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := e.ctx.Switch(e.as, e.regsAt(codeSpin)); err == nil {
		t.Errorf("Switch into a killed stub succeeded")
	}
	e.as.Release()
	if _, err := os.Stat("/proc/" + itoa(pid)); !os.IsNotExist(err) {
		t.Errorf("/proc/%d still exists after Release (err %v)", pid, err)
	}
}
