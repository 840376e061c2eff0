package ptrace

import (
	"fmt"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// stubThread is one host thread of a stub process together with the one
// tracer thread allowed to drive it. All fields except pid/tid/tracer are
// touched only on the tracer thread.
type stubThread struct {
	pid    int // thread group id of the stub process
	tid    int // host tid of this stub thread
	tracer int // host tid of the tracer thread (the only ptrace caller)
	cpu    int // CPU this thread and its tracer are pinned to, or -1

	status  unix.WaitStatus
	siginfo [128]byte
	iov     iovec
	// base is the register file at the exec stop: the template for
	// injected calls (valid segment selectors and eflags).
	base unix.PtraceRegs
	inj  unix.PtraceRegs
	// fp is the XSAVE state the thread holds now, when fpValid.
	fp      []byte
	fpValid bool
	dead    atomic.Bool // set by Release from any thread
}

// waitStop waits for the next stop of t (wait4(tid, __WALL)). It returns an
// error and marks t dead when the thread exited or was killed.
func (t *stubThread) waitStop() error {
	if err := wait4(t.tid, &t.status); err != nil {
		t.dead.Store(true)
		return fmt.Errorf("ptrace: wait4(%d): %w", t.tid, err)
	}
	switch {
	case t.status.Stopped():
		return nil
	case t.status.Exited():
		t.dead.Store(true)
		return fmt.Errorf("ptrace: stub %d exited with status %d", t.tid, t.status.ExitStatus())
	case t.status.Signaled():
		t.dead.Store(true)
		return fmt.Errorf("ptrace: stub %d killed by %v", t.tid, t.status.Signal())
	}
	t.dead.Store(true)
	return fmt.Errorf("ptrace: stub %d: unexpected wait status %#x", t.tid, uint32(t.status))
}

// stopSignal is the signal of the current stop, SIGTRAP|0x80 for a
// syscall-stop (PTRACE_O_TRACESYSGOOD).
func (t *stubThread) stopSignal() int {
	return int(t.status>>8) & 0xff
}

// syscallAt runs the system call nr(args) in the stub by pointing rip at
// the `syscall` instruction at site (followed by int3) and continuing until
// the int3's SIGTRAP. Guest registers need no saving: Switch loads the full
// register file before it resumes guest code, and the FP state is untouched.
// It returns the raw rax; stray signals on the way are suppressed. segvOK
// accepts a SIGSEGV stop as the end of the call (see setupStub).
func (t *stubThread) syscallAt(site uint64, segvOK bool, nr uintptr, args [6]uintptr) (uint64, error) {
	if t.dead.Load() {
		return 0, fmt.Errorf("ptrace: stub %d is dead", t.tid)
	}
	t.inj = t.base
	t.inj.Rip = site
	t.inj.Rax = uint64(nr)
	t.inj.Orig_rax = ^uint64(0) // not in a syscall: no restart fix-ups on resume
	t.inj.Rdi, t.inj.Rsi, t.inj.Rdx = uint64(args[0]), uint64(args[1]), uint64(args[2])
	t.inj.R10, t.inj.R8, t.inj.R9 = uint64(args[3]), uint64(args[4]), uint64(args[5])
	if err := setRegs(t.tid, &t.inj); err != nil {
		return 0, fmt.Errorf("ptrace: PTRACE_SETREGS: %w", err)
	}
	return t.runUntilTrap(site+3, segvOK)
}

// runUntilTrap continues t (PTRACE_CONT) until it stops with the SIGTRAP of
// the int3 just before wantRip, and returns rax. With segvOK a SIGSEGV stop
// also ends the run (setupStub relies on it); other signals are suppressed.
func (t *stubThread) runUntilTrap(wantRip uint64, segvOK bool) (uint64, error) {
	for {
		if err := ptraceOp(unix.PTRACE_CONT, t.tid, 0, 0); err != nil {
			return 0, fmt.Errorf("ptrace: PTRACE_CONT: %w", err)
		}
		if err := t.waitStop(); err != nil {
			return 0, err
		}
		sig := t.stopSignal()
		if sig != int(unix.SIGTRAP) && sig != int(unix.SIGSEGV) {
			continue // stray signal (e.g. an Interrupt): drop it
		}
		if err := getRegs(t.tid, &t.inj); err != nil {
			return 0, fmt.Errorf("ptrace: PTRACE_GETREGS: %w", err)
		}
		if sig == int(unix.SIGTRAP) && t.inj.Rip != wantRip {
			continue
		}
		if sig == int(unix.SIGSEGV) && !segvOK {
			return 0, fmt.Errorf("ptrace: stub %d faulted at %#x", t.tid, t.inj.Rip)
		}
		return t.inj.Rax, nil
	}
}

// syscall runs nr(args) in the stub at its relocated code page.
func (t *stubThread) syscall(nr uintptr, args [6]uintptr) (uint64, error) {
	rax, err := t.syscallAt(stubBase+offSyscall, false, nr, args)
	if err != nil {
		return 0, err
	}
	if e := int64(rax); e < 0 && e >= -4095 {
		return 0, unix.Errno(-e)
	}
	return rax, nil
}
