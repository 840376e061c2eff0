package sentry

import (
	"runtime"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"kvsentry/mm"
	"kvsentry/platform"
)

// start runs the task on a goroutine of its own. first, when non-nil, runs on
// that goroutine before the guest does (the initial exec) and its result is
// sent on started; on error the task ends without running guest code.
func (t *Task) start(first func() error, started chan<- error) {
	go t.run(first, started)
}

// run is the task's goroutine: it owns an OS thread for its whole life (the
// ptrace platform traces from it) and switches into the guest until exit.
// It mirrors the loop of Linux's exit_to_user_mode / syscall entry.
func (t *Task) run(first func() error, started chan<- error) {
	// Never unlocked: the thread ends with the goroutine, and with it the
	// platform's per-thread state (ptrace stubs it traces).
	runtime.LockOSThread()
	ctx, err := t.k.plat.NewContext()
	if err != nil {
		logrus.Errorf("task %d: platform context: %v", t.tid, err)
		if started != nil {
			started <- err
		}
		t.exitGroup(wsSignaled(int(unix.SIGKILL), false))
		return
	}
	t.ctx = ctx
	defer ctx.Release()
	if first != nil {
		err := first()
		if started != nil {
			started <- err
		}
		if err != nil {
			t.exitGroup(wsExited(127))
			return
		}
	}
	for {
		if t.shouldExit() {
			return
		}
		if t.mm.AddressSpace() == nil {
			as, err := t.k.plat.NewAddressSpace()
			if err != nil {
				logrus.Errorf("task %d: new address space: %v", t.tid, err)
				t.exitGroup(wsSignaled(int(unix.SIGKILL), false))
				return
			}
			t.mm.SetAddressSpace(as)
		}
		ev, err := ctx.Switch(t.mm.AddressSpace(), &t.regs)
		if err != nil {
			logrus.Errorf("task %d: platform switch: %v", t.tid, err)
			t.exitGroup(wsSignaled(int(unix.SIGKILL), false))
			return
		}
		switch ev.Kind {
		case platform.EventSyscall:
			t.doSyscall()
		case platform.EventFault:
			if ferr := t.mm.HandleFault(ev.Addr, ev.Access); ferr != nil {
				signo := int(unix.SIGSEGV)
				if fe, ok := ferr.(*mm.FaultError); ok {
					signo = int(fe.Signo)
				}
				logrus.Debugf("task %d: fault at %#x rip %#x: %v", t.tid, ev.Addr, t.regs.Rip, ferr)
				t.forceSignal(signo)
			}
		case platform.EventSignal:
			logrus.Debugf("task %d: hardware signal %d at rip %#x", t.tid, ev.Signo, t.regs.Rip)
			t.forceSignal(int(ev.Signo))
		case platform.EventInterrupt:
			// Nothing: pending kills are checked at the top of the loop.
		}
	}
}

// shouldExit reports whether the task has been killed, and finishes its exit
// if so.
func (t *Task) shouldExit() bool {
	t.k.mu.Lock()
	killed, status := t.killed, t.exitStatus
	t.k.mu.Unlock()
	if !killed {
		return false
	}
	t.exitGroup(status)
	return true
}

// forceSignal delivers a synchronous signal (a fault). Until guest handlers
// are delivered (signals issue), a handled fault signal also kills, as Linux
// does when the handler cannot run. No core file is written, so the wait
// status never carries the core bit (Linux sets it only after a dump).
func (t *Task) forceSignal(sig int) {
	t.k.mu.Lock()
	t.killLocked(wsSignaled(sig, false))
	t.k.mu.Unlock()
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
