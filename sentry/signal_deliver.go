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
	return (t.pending|t.tg.pending)&^t.sigMask != 0
}

// recalcLocked marks the task as having a deliverable signal and interrupts
// it when one is pending and unblocked (recalc_sigpending). Kernel.mu held.
func (t *Task) recalcLocked() {
	if t.deliverableLocked() {
		t.sigPending.Store(true)
		t.interruptLocked()
	}
}

// sendSignalLocked queues a process-directed signal (kernel/signal.c
// send_signal, complete_signal): it goes to a thread that does not block it,
// the main thread first. Kernel.mu must be held.
func (k *Kernel) sendSignalLocked(tg *ThreadGroup, info signal.Info) {
	var target *Task
	if tg.leader != nil && !tg.leader.killed && !tg.leader.sigMask.Has(int(info.Signo)) {
		if _, live := tg.tasks[tg.leader]; live {
			target = tg.leader
		}
	}
	if target == nil {
		for t := range tg.tasks {
			if !t.killed && !t.sigMask.Has(int(info.Signo)) {
				target = t
				break
			}
		}
	}
	k.queueSignalLocked(tg, nil, target, info)
}

// sendThreadSignalLocked queues a signal for one thread (tkill, tgkill).
// Kernel.mu must be held.
func (k *Kernel) sendThreadSignalLocked(t *Task, info signal.Info) {
	var target *Task
	if !t.sigMask.Has(int(info.Signo)) {
		target = t
	}
	k.queueSignalLocked(t.tg, t, target, info)
}

// queueSignalLocked queues info on the process (owner nil) or on owner's own
// queue; target is the thread that will take it now, nil when every
// candidate blocks it. Signals a process ignores are discarded; an unblocked
// default-fatal signal kills the whole process at once. Kernel.mu held.
func (k *Kernel) queueSignalLocked(tg *ThreadGroup, owner, target *Task, info signal.Info) {
	sig := int(info.Signo)
	if tg.zombie || tg.exiting || !signal.Valid(sig) {
		return
	}
	if sig == int(unix.SIGKILL) {
		k.killGroupLocked(tg, wsSignaled(sig, false))
		return
	}
	blocked := target == nil
	if sig == int(unix.SIGCONT) {
		// SIGCONT resumes a stopped process whatever its disposition, and
		// discards pending stop signals (prepare_signal).
		k.continueLocked(tg)
		k.discardLocked(tg, stopSignals)
	} else if stopSignals.Has(sig) {
		k.discardLocked(tg, signal.Bit(int(unix.SIGCONT)))
	}
	tg.sigMu.Lock()
	act := tg.actions[sig-1]
	if !blocked && act.Handler == signal.SigDfl && signal.Default(sig) == signal.Stop {
		tg.sigMu.Unlock()
		k.groupStopLocked(tg, sig)
		return
	}
	if !blocked && (act.Handler == signal.SigIgn || act.Handler == signal.SigDfl && signal.Default(sig) != signal.Terminate && signal.Default(sig) != signal.Core) {
		// Ignored, or a default action that is ignore or continue.
		tg.sigMu.Unlock()
		return
	}
	if !blocked && act.Handler == signal.SigDfl {
		tg.sigMu.Unlock()
		k.killGroupLocked(tg, wsSignaled(sig, false))
		return
	}
	pending, queue := &tg.pending, &tg.queue
	if owner != nil {
		pending, queue = &owner.pending, &owner.queue
	}
	if sig < 32 && pending.Has(sig) {
		tg.sigMu.Unlock()
		return // a standard signal is pending at most once
	}
	if *queue == nil {
		*queue = map[int][]signal.Info{}
	}
	(*queue)[sig] = append((*queue)[sig], info)
	*pending |= signal.Bit(sig)
	tg.sigMu.Unlock()
	notifySignalWatchers(tg, sig)
	if target != nil {
		target.sigPending.Store(true)
		target.interruptLocked()
	}
}

// stopSignals are the job-control stop signals.
var stopSignals = signal.Bit(int(unix.SIGSTOP)) | signal.Bit(int(unix.SIGTSTP)) | signal.Bit(int(unix.SIGTTIN)) | signal.Bit(int(unix.SIGTTOU))

// discardLocked drops pending instances of the signals in set from the
// process and its threads. Kernel.mu must be held.
func (k *Kernel) discardLocked(tg *ThreadGroup, set signal.Set) {
	tg.sigMu.Lock()
	defer tg.sigMu.Unlock()
	for sig := 1; sig <= signal.NumSignals; sig++ {
		if !set.Has(sig) {
			continue
		}
		tg.pending &^= signal.Bit(sig)
		delete(tg.queue, sig)
		for t := range tg.tasks {
			t.pending &^= signal.Bit(sig)
			delete(t.queue, sig)
		}
	}
}

// groupStopLocked stops every thread of tg (do_signal_stop): each parks at
// its next return to the sentry until SIGCONT or SIGKILL; the parent hears
// CLD_STOPPED. Kernel.mu must be held.
func (k *Kernel) groupStopLocked(tg *ThreadGroup, sig int) {
	if tg.stopped || tg.exiting {
		return
	}
	tg.stopped, tg.stopSig, tg.stopReported, tg.continued = true, sig, false, false
	for t := range tg.tasks {
		t.sigPending.Store(true)
		t.interruptLocked()
	}
	k.notifyParentLocked(tg, signal.CLDStopped, int32(sig))
}

// continueLocked resumes a stopped process; the parent hears CLD_CONTINUED.
// Kernel.mu must be held.
func (k *Kernel) continueLocked(tg *ThreadGroup) {
	if !tg.stopped {
		return
	}
	tg.stopped, tg.continued = false, true
	tg.stopCond.Broadcast()
	k.notifyParentLocked(tg, signal.CLDContinued, int32(unix.SIGCONT))
}

// notifyParentLocked reports a stop or continue to the parent
// (do_notify_parent_cldstop): SIGCHLD unless SA_NOCLDSTOP, and a wakeup of
// its waits. Kernel.mu must be held.
func (k *Kernel) notifyParentLocked(tg *ThreadGroup, code, status int32) {
	p := tg.parent
	if p == nil {
		return
	}
	p.sigMu.Lock()
	act := p.actions[unix.SIGCHLD-1]
	p.sigMu.Unlock()
	if act.Flags&signal.SANoCldStop == 0 {
		k.sendSignalLocked(p, signal.Info{Signo: int32(unix.SIGCHLD), Code: code, Pid: tg.pid, Status: status})
	}
	p.childCond.Broadcast()
}

// dequeueLocked takes the lowest-numbered deliverable signal, from the
// thread's own queue first, then the process's (dequeue_signal), with the
// action it is to be delivered with; SA_RESETHAND resets that action
// (handle_signal). Kernel.mu must be held.
func (t *Task) dequeueLocked() (signal.Info, signal.Action, bool) {
	info, ok := t.dequeueMaskLocked(t.sigMask)
	if !ok {
		return info, signal.Action{}, false
	}
	tg := t.tg
	tg.sigMu.Lock()
	defer tg.sigMu.Unlock()
	sig := int(info.Signo)
	act := tg.actions[sig-1]
	if act.Handler > signal.SigIgn && act.Flags&signal.SAResetHand != 0 {
		tg.actions[sig-1] = signal.Action{}
	}
	return info, act, true
}

// dequeueMaskLocked takes the lowest-numbered pending signal not in
// blocked, from the thread's own queue first, then the process's
// (dequeue_signal as rt_sigtimedwait and signalfd call it). Kernel.mu held.
func (t *Task) dequeueMaskLocked(blocked signal.Set) (signal.Info, bool) {
	tg := t.tg
	tg.sigMu.Lock()
	pending, queue := &t.pending, &t.queue
	ready := t.pending &^ blocked
	if ready == 0 {
		pending, queue = &tg.pending, &tg.queue
		ready = tg.pending &^ blocked
	}
	if ready == 0 {
		tg.sigMu.Unlock()
		return signal.Info{}, false
	}
	sig := 1
	for !ready.Has(sig) {
		sig++
	}
	q := (*queue)[sig]
	info := signal.Info{Signo: int32(sig), Code: signal.SIKernel}
	if len(q) > 0 {
		info, q = q[0], q[1:]
	}
	if len(q) == 0 {
		delete(*queue, sig)
		*pending &^= signal.Bit(sig)
	} else {
		(*queue)[sig] = q
	}
	var it *intervalTimer
	if info.Code == signal.SITimer {
		it = tg.timers[info.TimerID]
	}
	tg.sigMu.Unlock()
	if it != nil {
		info.Overrun = it.delivered()
	}
	return info, true
}

// handleSignals runs on the way back to the guest (exit_to_user_mode):
// it finishes an interrupted syscall's restart, and delivers deliverable
// signals, building a frame for each one with a handler.
func (t *Task) handleSignals() {
	if !t.sigPending.Load() && t.restartErr == 0 && !t.hasSavedMask {
		return
	}
	k := t.k
	// A job-control stop parks every thread here until SIGCONT or a kill.
	k.mu.Lock()
	for t.tg.stopped && !t.killed {
		t.tg.stopCond.Wait()
	}
	k.mu.Unlock()
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
	switch {
	case restart == errRestartRestartB:
		// No handler ran: the guest calls restart_syscall, which resumes
		// with the state the call left in t.restart (arch_do_signal_or_restart).
		t.regs.Rip -= 2
		t.regs.Rax = unix.SYS_RESTART_SYSCALL
	case restart != 0:
		// No handler ran: the syscall starts again.
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
	t.syncFP()
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
