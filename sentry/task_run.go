package sentry

import (
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"kvsentry/kernel/signal"
	"kvsentry/mm"
	"kvsentry/platform"
)

// run is the task's run loop, on a worker's locked OS thread
// (task_worker.go; the ptrace platform traces from that thread): it
// switches into the guest until the task exits. It mirrors the loop of
// Linux's exit_to_user_mode / syscall entry.
func (t *Task) run(first func() error, started chan<- error) {
	ctx, err := t.k.plat.NewContext()
	if err != nil {
		logrus.Errorf("task %d: platform context: %v", t.tid, err)
		if started != nil {
			started <- err
		}
		t.dieGroup(wsSignaled(int(unix.SIGKILL), false))
		return
	}
	t.ctx = ctx
	defer endContext(ctx)
	t.cpuBase = threadCPUTime()
	if first != nil {
		err := first()
		if started != nil {
			started <- err
		}
		if err != nil {
			t.dieGroup(wsExited(127))
			return
		}
	}
	for {
		if t.shouldExit() {
			return
		}
		as := t.mm.AddressSpace()
		if as == nil {
			var err error
			if as, err = t.k.plat.NewAddressSpace(); err != nil {
				logrus.Errorf("task %d: new address space: %v", t.tid, err)
				t.dieGroup(wsSignaled(int(unix.SIGKILL), false))
				return
			}
			t.mm.SetAddressSpace(as)
			// A forked child: map what it shares with its parent up front.
			t.mm.Prefault([]uint64{t.regs.Rsp, t.regs.Rsp - mm.PageSize}, prefaultPages, false)
		}
		ev, err := ctx.Switch(as, &t.regs)
		if err != nil {
			logrus.Errorf("task %d: platform switch: %v", t.tid, err)
			t.dieGroup(wsSignaled(int(unix.SIGKILL), false))
			return
		}
		switch ev.Kind {
		case platform.EventSyscall:
			t.spuriousFault = 0
			t.k.stats.syscalls.Add(1)
			t.doSyscall()
		case platform.EventFault:
			t.k.stats.faults.Add(1)
			if ferr := t.mm.HandleFault(ev.Addr, ev.Access); ferr != nil {
				signo, code := int(unix.SIGSEGV), int32(1)
				if fe, ok := ferr.(*mm.FaultError); ok {
					signo, code = int(fe.Signo), fe.Code
					if fe.Mapped && t.spuriousFault != ev.Addr {
						// Possibly resolved by another thread meanwhile:
						// run the instruction once more before deciding.
						t.spuriousFault = ev.Addr
						break
					}
				}
				logrus.Debugf("task %d: fault at %#x rip %#x: %v", t.tid, ev.Addr, t.regs.Rip, ferr)
				t.forceSignal(signo, code, ev.Addr)
			}
		case platform.EventSignal:
			t.k.stats.signals.Add(1)
			logrus.Debugf("task %d: hardware signal %d at rip %#x", t.tid, ev.Signo, t.regs.Rip)
			t.forceSignal(int(ev.Signo), ev.Code, ev.Addr)
		case platform.EventInterrupt:
			t.k.stats.interrupts.Add(1)
			// Nothing: kills and signals are handled below.
		}
		t.handleSignals()
	}
}

// syncFP makes t.regs.FPState the guest's current FP state (a platform may
// leave it in the CPU between stops: see platform.Registers.FPStale).
func (t *Task) syncFP() {
	if !t.regs.FPStale {
		return
	}
	if s, ok := t.ctx.(platform.FPSyncer); ok {
		if err := s.SyncFP(&t.regs); err != nil {
			logrus.Warnf("task %d: %v", t.tid, err)
		}
	}
	t.regs.FPStale = false
}

// prefaultPages bounds how many pages a new address space gets mapped
// before the guest runs (after fork and exec).
const prefaultPages = 4096

// shouldExit reports whether the task has been killed, and finishes its exit
// if so.
func (t *Task) shouldExit() bool {
	// Kernel.mu is not taken on this per-event path: dying is set, under
	// it, together with killed.
	if !t.dying.Load() {
		return false
	}
	t.exitTask()
	return true
}

// dieGroup ends the whole process with wait status ws from the task's own
// goroutine (platform failures, a failed first exec).
func (t *Task) dieGroup(ws uint32) {
	t.k.mu.Lock()
	t.k.groupExitLocked(t.tg, ws)
	t.k.mu.Unlock()
	t.exitTask()
}

// forceSignal delivers a synchronous signal from a hardware event (Linux
// force_sig_fault): a handler runs if the signal is caught and unblocked;
// otherwise the process dies of it. No core file is written, so the wait
// status never carries the core bit (Linux sets it only after a dump).
func (t *Task) forceSignal(sig int, code int32, addr uint64) {
	tg := t.tg
	tg.sigMu.Lock()
	act := tg.actions[sig-1]
	run := act.Handler > signal.SigIgn && !t.sigMask.Has(sig)
	if run && act.Flags&signal.SAResetHand != 0 {
		tg.actions[sig-1] = signal.Action{}
	}
	tg.sigMu.Unlock()
	if run {
		// The page-fault error code: user mode (4); for SEGV_ACCERR the page
		// was present (1), and since present pages are readable, a fault
		// that is not an instruction fetch was a write (2).
		fault := signal.Fault{Cr2: addr, Trapno: trapFor(sig), Err: 4}
		if sig == int(unix.SIGSEGV) && code == 2 {
			fault.Err |= 1
			if t.regs.Rip != addr {
				fault.Err |= 2
			} else {
				fault.Err |= 0x10
			}
		}
		if trapFor(sig) != 14 {
			fault.Cr2, fault.Err = 0, 0
		}
		info := signal.Info{Signo: int32(sig), Code: code, Addr: addr}
		t.setupFrame(sig, info, act, fault)
		return
	}
	t.k.mu.Lock()
	t.killLocked(wsSignaled(sig, false))
	t.k.mu.Unlock()
}

// trapFor is the x86 exception vector behind a synchronous signal.
func trapFor(sig int) uint64 {
	switch unix.Signal(sig) {
	case unix.SIGSEGV, unix.SIGBUS:
		return 14 // #PF
	case unix.SIGILL:
		return 6 // #UD
	case unix.SIGFPE:
		return 0 // #DE
	case unix.SIGTRAP:
		return 3 // #BP
	}
	return 0
}

// Wait statuses as wait(2) encodes them.
func wsExited(code int) uint32 { return uint32(code&0xff) << 8 }

// wsSignaled is the status of a process killed by sig (0x80: core dumped).
func wsSignaled(sig int, core bool) uint32 {
	s := uint32(sig & 0x7f)
	if core {
		s |= 0x80
	}
	return s
}

// shellStatus converts a wait status to what a shell reports ($?).
func shellStatus(ws uint32) int {
	if sig := ws & 0x7f; sig != 0 {
		return 128 + int(sig)
	}
	return int(ws>>8) & 0xff
}
