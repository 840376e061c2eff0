package sentry

import (
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"kvsentry/kernel/signal"
)

// Internal restart codes (include/linux/errno.h). A syscall interrupted by a
// signal returns one; handleSignals turns it into EINTR or a restart and it
// never reaches the guest.
const (
	errRestartSys      = unix.Errno(512)
	errRestartNoIntr   = unix.Errno(513)
	errRestartNoHand   = unix.Errno(514)
	errRestartRestartB = unix.Errno(516)
)

// isRestart reports whether e is an internal restart code.
func isRestart(e unix.Errno) bool {
	return e == errRestartSys || e == errRestartNoIntr || e == errRestartNoHand || e == errRestartRestartB
}

// deliverableLocked reports whether a pending signal is not blocked.
// Kernel.mu must be held.
func (t *Task) deliverableLocked() bool {
	t.tg.sigMu.Lock()
	defer t.tg.sigMu.Unlock()
	return t.tg.pending&^t.sigMask != 0
}

// recalcLocked marks the task as having a deliverable signal and interrupts
// it when one is pending and unblocked (recalc_sigpending). Kernel.mu held.
func (t *Task) recalcLocked() {
	if t.deliverableLocked() {
		t.sigPending.Store(true)
		t.interruptLocked()
	}
}

// sendSignalLocked queues a signal to a process (kernel/signal.c
// send_signal, complete_signal). Signals a process ignores are discarded;
// an unblocked default-fatal signal kills at once; anything else waits for
// the target's next return to the guest. Kernel.mu must be held.
func (k *Kernel) sendSignalLocked(tg *ThreadGroup, info signal.Info) {
	sig := int(info.Signo)
	if tg.zombie || tg.exiting || !signal.Valid(sig) {
		return
	}
	leader := tg.leader
	tg.sigMu.Lock()
	act := tg.actions[sig-1]
	blocked := leader != nil && leader.sigMask.Has(sig)
	if sig == int(unix.SIGKILL) {
		tg.sigMu.Unlock()
		k.killGroupLocked(tg, wsSignaled(sig, false))
		return
	}
	if !blocked && (act.Handler == signal.SigIgn || act.Handler == signal.SigDfl && signal.Default(sig) != signal.Terminate && signal.Default(sig) != signal.Core) {
		// Ignored, or a default action that is ignore (job-control stops
		// and continues are not modelled yet: see the signals issue).
		tg.sigMu.Unlock()
		return
	}
	if !blocked && act.Handler == signal.SigDfl {
		tg.pending &^= signal.Bit(sig)
		delete(tg.queue, sig)
		tg.sigMu.Unlock()
		k.killGroupLocked(tg, wsSignaled(sig, false))
		return
	}
	if sig < 32 && tg.pending.Has(sig) {
		tg.sigMu.Unlock()
		return // a standard signal is pending at most once
	}
	if tg.queue == nil {
		tg.queue = map[int][]signal.Info{}
	}
	tg.queue[sig] = append(tg.queue[sig], info)
	tg.pending |= signal.Bit(sig)
	tg.sigMu.Unlock()
	if leader != nil && !blocked {
		leader.sigPending.Store(true)
		leader.interruptLocked()
	}
}

// dequeueLocked takes the lowest-numbered deliverable signal. Kernel.mu held.
func (t *Task) dequeueLocked() (signal.Info, signal.Action, bool) {
	tg := t.tg
	tg.sigMu.Lock()
	defer tg.sigMu.Unlock()
	ready := tg.pending &^ t.sigMask
	if ready == 0 {
		return signal.Info{}, signal.Action{}, false
	}
	sig := 1
	for !ready.Has(sig) {
		sig++
	}
	q := tg.queue[sig]
	info := signal.Info{Signo: int32(sig), Code: signal.SIKernel}
	if len(q) > 0 {
		info, q = q[0], q[1:]
	}
	if len(q) == 0 {
		delete(tg.queue, sig)
		tg.pending &^= signal.Bit(sig)
	} else {
		tg.queue[sig] = q
	}
	act := tg.actions[sig-1]
	if act.Handler > signal.SigIgn && act.Flags&signal.SAResetHand != 0 {
		tg.actions[sig-1] = signal.Action{}
	}
	return info, act, true
}

// handleSignals runs on the way back to the guest (exit_to_user_mode):
// it finishes an interrupted syscall's restart, and delivers deliverable
// signals, building a frame for each one with a handler.
func (t *Task) handleSignals() {
	if !t.sigPending.Load() && t.restartErr == 0 && !t.hasSavedMask {
		return
	}
	k := t.k
	restart := t.restartErr
	t.restartErr = 0
	for {
		k.mu.Lock()
		if t.killed {
			k.mu.Unlock()
			return
		}
		info, act, ok := t.dequeueLocked()
		if !ok {
			t.sigPending.Store(false)
			k.mu.Unlock()
			break
		}
		sig := int(info.Signo)
		if act.Handler == signal.SigIgn {
			k.mu.Unlock()
			continue
		}
		if act.Handler == signal.SigDfl {
			switch signal.Default(sig) {
			case signal.Terminate, signal.Core:
				k.killGroupLocked(t.tg, wsSignaled(sig, false))
				k.mu.Unlock()
				return
			}
			k.mu.Unlock()
			continue
		}
		k.mu.Unlock()
		if restart != 0 {
			switch {
			case restart == errRestartNoIntr,
				restart == errRestartSys && act.Flags&signal.SARestart != 0:
				t.rewindSyscall()
			default:
				t.regs.Rax = negErrno(unix.EINTR)
			}
			restart = 0
		}
		if !t.setupFrame(sig, info, act, signal.Fault{}) {
			return
		}
	}
	if restart != 0 {
		// No handler ran: the syscall starts again (ERESTART_RESTARTBLOCK
		// restarts the same call rather than restart_syscall).
		t.rewindSyscall()
	}
	if t.hasSavedMask {
		t.sigMask = t.savedMask
		t.hasSavedMask = false
	}
	k.mu.Lock()
	t.rearmLocked()
	k.mu.Unlock()
}

// rewindSyscall makes the guest execute the syscall instruction again.
func (t *Task) rewindSyscall() {
	t.regs.Rip -= 2
	t.regs.Rax = t.regs.Orig_rax
}

// setupFrame builds a signal frame on the guest stack and enters the
// handler (handle_signal). On an unusable stack the process dies with
// SIGSEGV, as force_sigsegv does. It reports whether the task goes on.
func (t *Task) setupFrame(sig int, info signal.Info, act signal.Action, fault signal.Fault) bool {
	mask := t.sigMask
	if t.hasSavedMask {
		mask = t.savedMask
		t.hasSavedMask = false
	}
	fr, err := signal.Build(signal.FrameInput{Regs: &t.regs, Sig: sig, Info: info, Act: act, Mask: mask, Alt: t.alt, Fault: fault})
	if err == nil {
		_, err = t.mm.CopyOut(fr.Addr, fr.Data)
	}
	if err != nil {
		logrus.Debugf("task %d: cannot deliver signal %d: %v", t.tid, sig, err)
		t.k.mu.Lock()
		t.killLocked(wsSignaled(int(unix.SIGSEGV), false))
		t.k.mu.Unlock()
		return false
	}
	signal.EnterHandler(&t.regs, fr, sig, act, t.k.plat.InitialFPState())
	nm := t.sigMask | act.Mask
	if act.Flags&signal.SANoDefer == 0 {
		nm |= signal.Bit(sig)
	}
	t.sigMask = nm &^ signal.Unblockable
	if fr.DisarmAlt {
		t.alt = signal.AltStack{Flags: signal.SSDisable}
	}
	return true
}

// waitInterrupt blocks until the task is interrupted by a deliverable
// signal or killed (the wait of sigsuspend and pause).
func (t *Task) waitInterrupt() {
	k := t.k
	for {
		k.mu.Lock()
		if t.killed || t.deliverableLocked() {
			t.sigPending.Store(true)
			k.mu.Unlock()
			return
		}
		t.rearmLocked()
		ch := t.intr
		k.mu.Unlock()
		<-ch
	}
}

// negErrno is the rax value of a syscall failing with e.
func negErrno(e unix.Errno) uint64 {
	v := int64(e)
	return uint64(-v)
}
