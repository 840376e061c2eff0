package ptrace

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync/atomic"

	"golang.org/x/sys/unix"
	"kvsentry/platform"
)

// interruptSignal is what Interrupt sends to a running stub thread. SIGSTOP
// can be neither blocked nor ignored; the tracer always suppresses it at the
// signal-delivery-stop, so no group stop ever begins.
const interruptSignal = unix.SIGSTOP

// syscallStop is the stop signal of a syscall-stop with PTRACE_O_TRACESYSGOOD.
const syscallStop = int(unix.SIGTRAP) | 0x80

// si_code values of SIGSEGV (siginfo.h).
const (
	segvMapErr = 1
	segvAccErr = 2
	segvPkuErr = 4
)

// Context is a virtual CPU: it runs guest code on the stub thread that the
// calling tracer thread drives in an address space.
type Context struct {
	fpSize int

	// interrupt is set by Interrupt and consumed by Switch.
	interrupt atomic.Bool
	// running is pid<<32|tid of the stub thread running guest code, 0 if none.
	running atomic.Uint64

	// Cache of the last address space's stub thread (tracer thread only).
	lastAS *AddressSpace
	lastT  *stubThread
	// ts is the CPU placement record of the tracer thread (balance.go).
	ts *tracerState
}

var _ platform.Context = (*Context)(nil)

// Switch runs the guest with regs in as until an event (the loop of
// gVisor's ptrace subprocess.switchToApp, written against ptrace(2)):
// PTRACE_SETREGS (+ NT_X86_XSTATE when the FP state changed), PTRACE_SYSEMU,
// wait4(tid, __WALL), then PTRACE_GETREGS and the XSAVE state back into regs.
// Signals that stop the stub are never delivered to it.
func (c *Context) Switch(as platform.AddressSpace, regs *platform.Registers) (platform.Event, error) {
	pas, ok := as.(*AddressSpace)
	if !ok {
		return platform.Event{}, fmt.Errorf("ptrace: Switch into a foreign address space %T", as)
	}
	if len(regs.FPState) != c.fpSize {
		return platform.Event{}, fmt.Errorf("ptrace: FPState is %d bytes, want %d: %w", len(regs.FPState), c.fpSize, unix.EINVAL)
	}
	tid := unix.Gettid()
	t := c.lastT
	if c.lastAS != pas || t == nil || t.tracer != tid || t.dead.Load() {
		if regs.FPStale {
			// The live FP state is in the stub thread being left; if that
			// thread is gone, FPState's bytes are the best left.
			if c.SyncFP(regs) != nil {
				regs.FPStale = false
			}
		}
		var err error
		if t, err = pas.threadFor(tid); err != nil {
			return platform.Event{}, err
		}
		c.lastAS, c.lastT = pas, t
		if c.ts == nil || c.ts.tid != tid {
			c.ts = tracerFor(tid, c)
		}
	}
	ts := c.ts
	var start int64
	if ts != nil {
		// The balancer may have moved the tracer: its stub threads follow.
		if cpu := int(ts.cpu.Load()); cpu != t.cpu {
			if pinTo(t.tid, cpu) == nil {
				t.cpu = cpu
			}
		}
		start = monoNow()
		ts.runSince.Store(start)
	}

	// Interrupt handshake: either Interrupt sees running != 0 and signals
	// the thread, or we see its flag here.
	c.running.Store(uint64(t.pid)<<32 | uint64(uint32(t.tid)))
	if c.interrupt.CompareAndSwap(true, false) {
		c.running.Store(0)
		if ts != nil {
			ts.runSince.Store(0)
		}
		return platform.Event{Kind: platform.EventInterrupt}, nil
	}
	ev, err := c.run(t, regs)
	c.running.Store(0)
	if ts != nil {
		ts.runSince.Store(0)
		ts.inGuest.Add(monoNow() - start)
	}
	return ev, err
}

// run loads regs into t, resumes it with PTRACE_SYSEMU and decodes the stop.
func (c *Context) run(t *stubThread, regs *platform.Registers) (platform.Event, error) {
	// orig_rax = -1: the thread is not in a system call, so the kernel never
	// applies syscall-restart fix-ups (rip -= 2) to the guest's registers.
	orig := regs.Orig_rax
	regs.Orig_rax = ^uint64(0)
	err := setRegs(t.tid, &regs.PtraceRegs)
	regs.Orig_rax = orig
	if err != nil {
		return platform.Event{}, fmt.Errorf("ptrace: PTRACE_SETREGS: %w", err)
	}
	// With FPStale the guest's FP state is still in this stub thread (left
	// there by the previous stop); otherwise load FPState unless the thread
	// already holds exactly these bytes.
	if !regs.FPStale && (!t.fpValid || !bytes.Equal(t.fp, regs.FPState)) {
		t.fpValid = false
		if err := setXState(t.tid, &t.iov, regs.FPState); err != nil {
			return platform.Event{}, fmt.Errorf("ptrace: PTRACE_SETREGSET NT_X86_XSTATE: %w", err)
		}
		copy(t.fp, regs.FPState)
		t.fpValid = true
	}
	if err := ptraceOp(unix.PTRACE_SYSEMU, t.tid, 0, 0); err != nil {
		return platform.Event{}, fmt.Errorf("ptrace: PTRACE_SYSEMU: %w", err)
	}
	if err := t.waitStop(); err != nil {
		return platform.Event{}, err
	}
	if err := getRegs(t.tid, &regs.PtraceRegs); err != nil {
		return platform.Event{}, fmt.Errorf("ptrace: PTRACE_GETREGS: %w", err)
	}
	// The FP state stays in the stub thread until SyncFP asks for it: most
	// stops (system calls) never look at it, and reading it costs a ptrace
	// request per stop.
	t.fpValid = false
	regs.FPStale = true

	sig := t.stopSignal()
	if sig == syscallStop {
		return platform.Event{Kind: platform.EventSyscall}, nil
	}
	if err := getSiginfo(t.tid, &t.siginfo); err != nil {
		return platform.Event{}, fmt.Errorf("ptrace: PTRACE_GETSIGINFO: %w", err)
	}
	// siginfo_t: si_signo@0, si_errno@4, si_code@8, si_addr@16 (sigaction(2)).
	code := int32(binary.LittleEndian.Uint32(t.siginfo[8:]))
	addr := binary.LittleEndian.Uint64(t.siginfo[16:])
	switch unix.Signal(sig) {
	case unix.SIGSEGV:
		if code == segvMapErr || code == segvAccErr || code == segvPkuErr {
			return platform.Event{Kind: platform.EventFault, Addr: addr, Access: platform.NoAccess,
				Signo: int32(sig), Code: code}, nil
		}
		// A general-protection fault (si_code SI_KERNEL).
		return platform.Event{Kind: platform.EventSignal, Addr: addr, Signo: int32(sig), Code: code}, nil
	case unix.SIGILL, unix.SIGFPE, unix.SIGTRAP, unix.SIGBUS:
		return platform.Event{Kind: platform.EventSignal, Addr: addr, Signo: int32(sig), Code: code}, nil
	}
	// The interrupt signal or any stray one: suppressed by the next resume.
	c.interrupt.Store(false)
	return platform.Event{Kind: platform.EventInterrupt}, nil
}

// SyncFP implements platform.FPSyncer: it reads the FP state the last
// Switch left in its stub thread into regs.FPState.
func (c *Context) SyncFP(regs *platform.Registers) error {
	if !regs.FPStale {
		return nil
	}
	t := c.lastT
	if t == nil || t.dead.Load() {
		return fmt.Errorf("ptrace: SyncFP: the stub thread holding the FP state is gone")
	}
	if _, err := getXState(t.tid, &t.iov, regs.FPState); err != nil {
		return fmt.Errorf("ptrace: PTRACE_GETREGSET NT_X86_XSTATE: %w", err)
	}
	copy(t.fp, regs.FPState)
	t.fpValid = true
	regs.FPStale = false
	return nil
}

// Interrupt makes the running Switch (or the next one) return
// EventInterrupt: it flags the context and tgkill(2)s the stub thread that
// is running guest code, if any. Any goroutine may call it.
func (c *Context) Interrupt() {
	c.interrupt.Store(true)
	if r := c.running.Load(); r != 0 {
		unix.Tgkill(int(r>>32), int(uint32(r)), interruptSignal)
	}
}

var _ platform.ThreadKeeper = (*Context)(nil)

// Keep implements platform.ThreadKeeper: called on the context's thread when
// its guest thread ended, it frees the context but leaves the stub threads
// this thread traces parked in their ptrace stops, one per address space
// (AddressSpace.threads), so that the next Context of the thread runs its
// guest on them with no clone, PTRACE_SEIZE or exit. A tracee stays tied to
// the thread that seized it (ptrace(2)), so a parked stub thread can only
// serve this thread; the address space's Release kills and reaps it like
// any other of its threads. The thread keeps its CPU and counts as idle for
// the balancer until its next Switch.
func (c *Context) Keep() {
	if c.ts != nil {
		idleTracer(c.ts)
	}
	c.lastAS, c.lastT, c.ts = nil, nil, nil
}

// Release frees the context. Called on the thread that used it, it also
// ends (exit(2), see exitThread) every stub thread this thread traces, in
// every address space (those of earlier, kept contexts of the thread too),
// so that the thread can end without killing stubs that other threads still
// use (PTRACE_O_EXITKILL).
func (c *Context) Release() {
	c.lastAS, c.lastT, c.ts = nil, nil, nil
	tid := unix.Gettid()
	dropTracer(tid)
	for t, as := range takeTracees(tid) {
		as.dropThread(t)
	}
}
