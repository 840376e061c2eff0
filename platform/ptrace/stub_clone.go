package ptrace

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// cloneThreadFlags make the new stub thread a thread of the stub process, as
// pthread_create does (clone(2)): shared memory, fs, files, signal handlers,
// thread group and SysV semaphore undo list.
const cloneThreadFlags = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND |
	unix.CLONE_THREAD | unix.CLONE_SYSVSEM

// parkedStack is the stack pointer of new stub threads, at the top of the
// scratch page. The stub's code never pushes, and stub threads never take a
// signal frame (every signal that stops them is suppressed by the tracer),
// so all threads may share it.
const parkedStack = stubEnd - 64

// tracedOptions are the ptrace options of every stub thread: syscall-stops
// marked with 0x80, and the stub killed when its tracer thread exits, so
// that a stub thread never runs guest code untraced (ptrace(2)).
const tracedOptions = unix.PTRACE_O_TRACESYSGOOD | unix.PTRACE_O_EXITKILL

// cloneParked runs on the server thread, m being a master thread it traces
// (PTRACE_O_TRACECLONE set). It injects clone(cloneThreadFlags) into m; the
// new thread starts auto-attached to the server in a SIGSTOP stop, is
// pointed at the park loop (stubPark) and detached. It returns the new
// thread's tid: the thread sleeps in pause(2) until a tracer adopts it.
func (m *stubThread) cloneParked() (int, error) {
	rax, err := m.syscall(unix.SYS_CLONE, [6]uintptr{cloneThreadFlags, parkedStack})
	if err != nil {
		return 0, fmt.Errorf("ptrace: clone in stub %d: %w", m.pid, err)
	}
	nt := &stubThread{pid: m.pid, tid: int(rax), tracer: m.tracer}
	if err := nt.waitStop(); err != nil {
		return 0, err
	}
	regs := m.base
	regs.Rip = stubBase + offPark
	regs.Rsp = parkedStack
	regs.Orig_rax = ^uint64(0)
	if err := setRegs(nt.tid, &regs); err != nil {
		return 0, fmt.Errorf("ptrace: PTRACE_SETREGS on new stub thread %d: %w", nt.tid, err)
	}
	// Detaching from the SIGSTOP stop with signal 0 suppresses it.
	if err := ptraceOp(unix.PTRACE_DETACH, nt.tid, 0, 0); err != nil {
		return 0, fmt.Errorf("ptrace: PTRACE_DETACH of new stub thread %d: %w", nt.tid, err)
	}
	return nt.tid, nil
}

// adoptThread makes the calling OS thread the tracer of the parked stub
// thread tid of process pid: it places the caller on a CPU (placeTracer)
// and pins the stub thread to the same one, then PTRACE_SEIZE and PTRACE_INTERRUPT (the thread leaves
// pause(2) for a PTRACE_EVENT_STOP). base is the register template for
// injected calls (the master thread's exec-time registers).
func adoptThread(pid, tid int, base *unix.PtraceRegs, fpSize int) (*stubThread, error) {
	t := &stubThread{pid: pid, tid: tid, tracer: unix.Gettid(), cpu: placeTracer(), base: *base,
		fp: make([]byte, fpSize)}
	// The stub thread runs on the CPUs its tracer may use: one CPU when
	// pinned (DESIGN.md: cross-CPU ptrace stops are 10-15x dearer).
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err == nil {
		unix.SchedSetaffinity(tid, &set)
	}
	if err := ptraceOp(unix.PTRACE_SEIZE, tid, 0, tracedOptions); err != nil {
		return nil, fmt.Errorf("ptrace: PTRACE_SEIZE of stub thread %d: %w", tid, err)
	}
	if err := ptraceOp(unix.PTRACE_INTERRUPT, tid, 0, 0); err != nil {
		return nil, fmt.Errorf("ptrace: PTRACE_INTERRUPT of stub thread %d: %w", tid, err)
	}
	if err := t.waitStop(); err != nil {
		return nil, err
	}
	return t, nil
}

// exitThread ends stub thread t with an injected exit(2) (the thread, not
// the process) and reaps it; called on t's tracer thread. The stub's other
// threads go on.
func (t *stubThread) exitThread() {
	if t.dead.Load() {
		return
	}
	// The call never returns: waitStop sees the exit, reaps the thread and
	// marks t dead.
	t.syscallAt(stubBase+offSyscall, false, unix.SYS_EXIT, [6]uintptr{0})
	t.dead.Store(true)
}
