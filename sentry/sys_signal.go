package sentry

import (
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"kvsentry/kernel/signal"
)

func init() {
	register(unix.SYS_RT_SIGACTION, "dppd", Partial, "actions are recorded and default actions taken; handlers run once the signals issue delivers frames", sysRtSigaction)
	register(unix.SYS_RT_SIGPROCMASK, "dppd", Full, "", sysRtSigprocmask)
	register(unix.SYS_KILL, "dd", Partial, "default actions (terminate, ignore); signals to handlers stay pending until frames are delivered", sysKill)
	register(unix.SYS_TKILL, "dd", Partial, "as kill", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.killTask(int32(a[0]), -1, int(a[1]))
	})
	register(unix.SYS_TGKILL, "ddd", Partial, "as kill", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.killTask(int32(a[1]), int32(a[0]), int(a[2]))
	})
	register(unix.SYS_SIGALTSTACK, "pp", Partial, "recorded; used when frames are delivered", sysSigaltstack)
	register(unix.SYS_RT_SIGPENDING, "pd", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		t.tg.sigMu.Lock()
		p := t.tg.pending
		t.tg.sigMu.Unlock()
		return 0, t.copyOutUint64(a[0], uint64(p))
	})
}

// sysRtSigaction implements rt_sigaction(2).
func sysRtSigaction(t *Task, a *sysArgs) (uint64, error) {
	sig, newAddr, oldAddr, size := int(a[0]), a[1], a[2], a[3]
	if size != 8 {
		return 0, unix.EINVAL
	}
	if !signal.Valid(sig) {
		return 0, unix.EINVAL
	}
	var na signal.Action
	if newAddr != 0 {
		if sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) {
			return 0, unix.EINVAL
		}
		b := make([]byte, signal.ActionSize)
		if _, err := t.mm.CopyIn(newAddr, b); err != nil {
			return 0, err
		}
		na = signal.Action{Handler: leUint64(b), Flags: leUint64(b[8:]), Restorer: leUint64(b[16:]), Mask: signal.Set(leUint64(b[24:])) &^ signal.Unblockable}
	}
	tg := t.tg
	tg.sigMu.Lock()
	old := tg.actions[sig-1]
	if newAddr != 0 {
		tg.actions[sig-1] = na
		// Setting SIG_IGN (or SIG_DFL for a default-ignore signal) discards
		// pending instances (kernel/signal.c do_sigaction).
		if na.Handler == signal.SigIgn || (na.Handler == signal.SigDfl && signal.Default(sig) == signal.Ignore) {
			tg.pending &^= signal.Bit(sig)
		}
	}
	tg.sigMu.Unlock()
	if oldAddr != 0 {
		b := make([]byte, signal.ActionSize)
		putLE64(b, old.Handler)
		putLE64(b[8:], old.Flags)
		putLE64(b[16:], old.Restorer)
		putLE64(b[24:], uint64(old.Mask))
		if _, err := t.mm.CopyOut(oldAddr, b); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// sysRtSigprocmask implements rt_sigprocmask(2).
func sysRtSigprocmask(t *Task, a *sysArgs) (uint64, error) {
	how, setAddr, oldAddr, size := int(a[0]), a[1], a[2], a[3]
	if size != 8 {
		return 0, unix.EINVAL
	}
	old := t.sigMask
	if setAddr != 0 {
		v, err := t.copyInUint64(setAddr)
		if err != nil {
			return 0, err
		}
		s := signal.Set(v) &^ signal.Unblockable
		switch how {
		case unix.SIG_BLOCK:
			t.sigMask |= s
		case unix.SIG_UNBLOCK:
			t.sigMask &^= s
		case unix.SIG_SETMASK:
			t.sigMask = s
		default:
			return 0, unix.EINVAL
		}
	}
	if oldAddr != 0 {
		if err := t.copyOutUint64(oldAddr, uint64(old)); err != nil {
			t.sigMask = old
			return 0, err
		}
	}
	// A default-fatal signal left pending while blocked takes effect now.
	t.k.mu.Lock()
	t.tg.sigMu.Lock()
	ready := t.tg.pending &^ t.sigMask
	t.tg.sigMu.Unlock()
	for sig := 1; sig <= signal.NumSignals; sig++ {
		if ready.Has(sig) {
			t.k.sendSignalLocked(t.tg, sig)
		}
	}
	t.k.mu.Unlock()
	return 0, nil
}

// sysKill implements kill(2).
func sysKill(t *Task, a *sysArgs) (uint64, error) {
	pid, sig := int32(a[0]), int(a[1])
	if sig != 0 && !signal.Valid(sig) {
		return 0, unix.EINVAL
	}
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	var targets []*ThreadGroup
	switch {
	case pid > 0:
		tg, ok := k.tgs[pid]
		if !ok {
			return 0, unix.ESRCH
		}
		targets = append(targets, tg)
	case pid == -1:
		for _, tg := range k.tgs {
			if tg != k.initTG && tg != t.tg {
				targets = append(targets, tg)
			}
		}
	default:
		pgid := -pid
		if pid == 0 {
			pgid = t.tg.pgid
		}
		for _, tg := range k.tgs {
			if tg.pgid == pgid {
				targets = append(targets, tg)
			}
		}
	}
	if len(targets) == 0 {
		return 0, unix.ESRCH
	}
	if sig == 0 {
		return 0, nil
	}
	for _, tg := range targets {
		k.sendSignalLocked(tg, sig)
	}
	return 0, nil
}

// killTask implements tkill/tgkill: with one thread per process a tid names
// a process.
func (t *Task) killTask(tid, tgid int32, sig int) error {
	if tid <= 0 || (tgid != -1 && tgid <= 0) {
		return unix.EINVAL
	}
	if sig != 0 && !signal.Valid(sig) {
		return unix.EINVAL
	}
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	target, ok := k.tasks[tid]
	if !ok || (tgid != -1 && target.tg.pid != tgid) {
		return unix.ESRCH
	}
	if sig != 0 {
		k.sendSignalLocked(target.tg, sig)
	}
	return nil
}

// sendSignalLocked sends sig to a process (kernel/signal.c send_signal and
// complete_signal): default actions are carried out; signals with a guest
// handler stay pending. Kernel.mu must be held.
func (k *Kernel) sendSignalLocked(tg *ThreadGroup, sig int) {
	if tg.zombie || tg.exiting {
		return
	}
	tg.sigMu.Lock()
	act := tg.actions[sig-1]
	leader := tg.leader
	blocked := leader != nil && leader.sigMask.Has(sig)
	switch {
	case sig == int(unix.SIGKILL):
	case act.Handler == signal.SigIgn:
		tg.sigMu.Unlock()
		return
	case blocked || act.Handler != signal.SigDfl:
		if act.Handler != signal.SigDfl && !tg.pending.Has(sig) {
			logrus.Debugf("pid %d: signal %d to a guest handler stays pending (delivery not implemented)", tg.pid, sig)
		}
		tg.pending |= signal.Bit(sig)
		tg.sigMu.Unlock()
		return
	}
	tg.pending &^= signal.Bit(sig)
	tg.sigMu.Unlock()
	switch signal.Default(sig) {
	case signal.Terminate, signal.Core:
		k.killGroupLocked(tg, wsSignaled(sig, false))
		tg.childCond.Broadcast()
	}
}

// sysSigaltstack implements sigaltstack(2): the stack is recorded.
func sysSigaltstack(t *Task, a *sysArgs) (uint64, error) {
	if a[1] != 0 {
		// Report "disabled" (ss_flags SS_DISABLE = 2) until set.
		b := make([]byte, 24)
		b[8] = 2
		if t.altStack != nil {
			copy(b, t.altStack)
		}
		if _, err := t.mm.CopyOut(a[1], b); err != nil {
			return 0, err
		}
	}
	if a[0] != 0 {
		b := make([]byte, 24)
		if _, err := t.mm.CopyIn(a[0], b); err != nil {
			return 0, err
		}
		flags := leUint32(b[8:])
		if flags&^uint32(2|1<<31) != 0 {
			return 0, unix.EINVAL
		}
		if flags&2 == 0 && leUint64(b[16:]) < 2048 {
			return 0, unix.ENOMEM
		}
		t.altStack = b
	}
	return 0, nil
}
