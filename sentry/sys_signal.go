package sentry

import (
	"time"

	"golang.org/x/sys/unix"

	"kvsentry/kernel/signal"
)

func init() {
	register(unix.SYS_RT_SIGACTION, "dppd", Full, "", sysRtSigaction)
	register(unix.SYS_RT_SIGPROCMASK, "dppd", Full, "", sysRtSigprocmask)
	register(unix.SYS_RT_SIGRETURN, "", Full, "", sysRtSigreturn)
	register(unix.SYS_RT_SIGSUSPEND, "pd", Full, "", sysRtSigsuspend)
	register(unix.SYS_PAUSE, "", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		t.waitInterrupt()
		return 0, errRestartNoHand
	})
	register(unix.SYS_KILL, "dd", Partial, "job-control stop/continue default actions are not modelled yet (ignored)", sysKill)
	register(unix.SYS_TKILL, "dd", Partial, "as kill", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.killTask(int32(a[0]), -1, int(a[1]))
	})
	register(unix.SYS_TGKILL, "ddd", Partial, "as kill", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.killTask(int32(a[1]), int32(a[0]), int(a[2]))
	})
	register(unix.SYS_RT_SIGQUEUEINFO, "ddp", Partial, "as kill", sysRtSigqueueinfo)
	register(unix.SYS_RT_TGSIGQUEUEINFO, "dddp", Partial, "as kill", sysRtTgsigqueueinfo)
	register(unix.SYS_SIGALTSTACK, "pp", Full, "", sysSigaltstack)
	register(unix.SYS_RT_SIGPENDING, "pd", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		if a[1] > 8 {
			return 0, unix.EINVAL
		}
		t.tg.sigMu.Lock()
		p := (t.pending | t.tg.pending) & t.sigMask
		t.tg.sigMu.Unlock()
		b := make([]byte, 8)
		putLE64(b, uint64(p))
		_, err := t.mm.CopyOut(a[0], b[:a[1]])
		return 0, err
	})
	register(unix.SYS_RT_SIGTIMEDWAIT, "pppd", Full, "", sysRtSigtimedwait)
}

// sysRtSigaction implements rt_sigaction(2).
func sysRtSigaction(t *Task, a *sysArgs) (uint64, error) {
	sig, newAddr, oldAddr, size := int(a[0]), a[1], a[2], a[3]
	if size != 8 || !signal.Valid(sig) {
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
	t.k.mu.Lock()
	tg := t.tg
	tg.sigMu.Lock()
	old := tg.actions[sig-1]
	if newAddr != 0 {
		tg.actions[sig-1] = na
		// Setting SIG_IGN (or SIG_DFL for a default-ignore signal) discards
		// pending instances (kernel/signal.c do_sigaction).
		if na.Handler == signal.SigIgn || (na.Handler == signal.SigDfl && signal.Default(sig) == signal.Ignore) {
			tg.pending &^= signal.Bit(sig)
			delete(tg.queue, sig)
			for o := range tg.tasks {
				o.pending &^= signal.Bit(sig)
				delete(o.queue, sig)
			}
		}
	}
	tg.sigMu.Unlock()
	t.k.mu.Unlock()
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

// setMask installs a new signal mask and notices newly deliverable signals.
func (t *Task) setMask(m signal.Set) {
	t.k.mu.Lock()
	t.sigMask = m &^ signal.Unblockable
	t.recalcLocked()
	t.k.mu.Unlock()
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
		s := signal.Set(v)
		switch how {
		case unix.SIG_BLOCK:
			s = old | s
		case unix.SIG_UNBLOCK:
			s = old &^ s
		case unix.SIG_SETMASK:
		default:
			return 0, unix.EINVAL
		}
		t.setMask(s)
	}
	if oldAddr != 0 {
		if err := t.copyOutUint64(oldAddr, uint64(old)); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// sysRtSigsuspend implements rt_sigsuspend(2).
func sysRtSigsuspend(t *Task, a *sysArgs) (uint64, error) {
	if a[1] != 8 {
		return 0, unix.EINVAL
	}
	v, err := t.copyInUint64(a[0])
	if err != nil {
		return 0, err
	}
	t.savedMask, t.hasSavedMask = t.sigMask, true
	t.setMask(signal.Set(v))
	t.waitInterrupt()
	return 0, errRestartNoHand
}

// sysRtSigreturn implements rt_sigreturn(2): the frame sits at rsp-8.
func sysRtSigreturn(t *Task, a *sysArgs) (uint64, error) {
	t.clearRestart() // a restart the handler's signal left behind is void
	b := make([]byte, signal.FrameReadSize)
	if _, err := t.mm.CopyIn(t.regs.Rsp-8, b); err != nil {
		t.sigreturnFault()
		return 0, errNoReturn
	}
	t.syncFP()
	cur := append([]byte(nil), t.regs.FPState...)
	st := signal.Restore(&t.regs, b)
	size := len(cur)
	fp := t.k.plat.InitialFPState()
	if st.FPAddr != 0 {
		if st.FPAddr&63 != 0 {
			t.sigreturnFault()
			return 0, errNoReturn
		}
		saved := make([]byte, size+4)
		if _, err := t.mm.CopyIn(st.FPAddr, saved); err != nil {
			t.sigreturnFault()
			return 0, errNoReturn
		}
		n := signal.CheckFP(saved, size)
		copy(fp, saved[:n])
		// The software-reserved bytes are the platform's, not the guest's.
		if size >= 512 {
			copy(fp[464:512], cur[464:512])
		}
	}
	t.regs.FPState = fp
	// restore_altstack: errors other than EFAULT are squashed.
	if !t.alt.On(t.regs.Rsp) {
		t.setAltStack(st.Alt)
	}
	t.setMask(st.Mask)
	return 0, errNoReturn
}

// sigreturnFault kills the task with SIGSEGV for a bad sigreturn frame.
func (t *Task) sigreturnFault() {
	t.k.mu.Lock()
	t.killLocked(wsSignaled(int(unix.SIGSEGV), false))
	t.k.mu.Unlock()
}

// senderInfo is the siginfo of a signal sent by this task with kill.
func (t *Task) senderInfo(sig int, code int32) signal.Info {
	return signal.Info{Signo: int32(sig), Code: code, Pid: t.tg.pid, UID: t.ids.ruid}
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
		k.sendSignalLocked(tg, t.senderInfo(sig, signal.SIUser))
	}
	return 0, nil
}

// killTask implements tkill/tgkill: the signal goes to that thread.
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
		k.sendThreadSignalLocked(target, t.senderInfo(sig, signal.SITkill))
	}
	return nil
}

// copyInQueueInfo reads the siginfo of rt_sigqueueinfo and
// rt_tgsigqueueinfo (copy_siginfo_from_user).
func (t *Task) copyInQueueInfo(addr uint64, sig int) (signal.Info, error) {
	b := make([]byte, signal.InfoSize)
	if _, err := t.mm.CopyIn(addr, b); err != nil {
		return signal.Info{}, err
	}
	var info signal.Info
	info.Unmarshal(b)
	info.Signo = int32(sig)
	return info, nil
}

// sysRtSigqueueinfo implements rt_sigqueueinfo(2) (do_rt_sigqueueinfo).
func sysRtSigqueueinfo(t *Task, a *sysArgs) (uint64, error) {
	pid, sig := int32(a[0]), int(a[1])
	info, err := t.copyInQueueInfo(a[2], sig)
	if err != nil {
		return 0, err
	}
	// Not even root may pretend to be the kernel, kill() or tkill() for
	// another process.
	if (info.Code >= 0 || info.Code == signal.SITkill) && pid != t.tid {
		return 0, unix.EPERM
	}
	if sig != 0 && !signal.Valid(sig) {
		return 0, unix.EINVAL
	}
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	tg, ok := k.tgs[pid]
	if !ok {
		return 0, unix.ESRCH
	}
	if sig != 0 {
		k.sendSignalLocked(tg, info)
	}
	return 0, nil
}

// sysRtTgsigqueueinfo implements rt_tgsigqueueinfo(2)
// (do_rt_tgsigqueueinfo): the signal and its siginfo go to thread tid of
// process tgid.
func sysRtTgsigqueueinfo(t *Task, a *sysArgs) (uint64, error) {
	tgid, tid, sig := int32(a[0]), int32(a[1]), int(a[2])
	if tid <= 0 || tgid <= 0 {
		return 0, unix.EINVAL
	}
	info, err := t.copyInQueueInfo(a[3], sig)
	if err != nil {
		return 0, err
	}
	if (info.Code >= 0 || info.Code == signal.SITkill) && tid != t.tid {
		return 0, unix.EPERM
	}
	if sig != 0 && !signal.Valid(sig) {
		return 0, unix.EINVAL
	}
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	target, ok := k.tasks[tid]
	if !ok || target.tg.pid != tgid {
		return 0, unix.ESRCH
	}
	if sig != 0 {
		k.sendThreadSignalLocked(target, info)
	}
	return 0, nil
}

// sysSigaltstack implements sigaltstack(2).
func sysSigaltstack(t *Task, a *sysArgs) (uint64, error) {
	onStack := t.alt.On(t.regs.Rsp)
	if a[1] != 0 {
		b := make([]byte, 24)
		putLE64(b, t.alt.Sp)
		// sas_ss_flags(sp) | (sas_ss_flags & SS_FLAG_BITS)
		putLE32(b[8:], t.alt.FlagsFor(t.regs.Rsp)|t.alt.Flags&signal.SSAutoDisarm)
		putLE64(b[16:], t.alt.Size)
		if _, err := t.mm.CopyOut(a[1], b); err != nil {
			return 0, err
		}
	}
	if a[0] != 0 {
		b := make([]byte, 24)
		if _, err := t.mm.CopyIn(a[0], b); err != nil {
			return 0, err
		}
		if onStack {
			return 0, unix.EPERM
		}
		return 0, t.setAltStack(signal.AltStack{Sp: leUint64(b), Flags: leUint32(b[8:]), Size: leUint64(b[16:])})
	}
	return 0, nil
}

// setAltStack installs a new alternate stack (do_sigaltstack once the
// on-stack check passed): SS_DISABLE clears it, a stack below MINSIGSTKSZ
// is ENOMEM, an unknown mode EINVAL.
func (t *Task) setAltStack(ns signal.AltStack) error {
	switch ns.Flags &^ signal.SSAutoDisarm {
	case signal.SSDisable:
		t.alt = signal.AltStack{Flags: signal.SSDisable}
	case 0, signal.SSOnStack:
		if ns.Size < 2048 {
			return unix.ENOMEM
		}
		ns.Flags &^= signal.SSOnStack
		t.alt = ns
	default:
		return unix.EINVAL
	}
	return nil
}

// sysRtSigtimedwait implements rt_sigtimedwait(2).
func sysRtSigtimedwait(t *Task, a *sysArgs) (uint64, error) {
	if a[3] != 8 {
		return 0, unix.EINVAL
	}
	v, err := t.copyInUint64(a[0])
	if err != nil {
		return 0, err
	}
	set := signal.Set(v) &^ signal.Unblockable
	var deadline <-chan time.Time
	if a[2] != 0 {
		ts, err := t.copyInTimespec(a[2])
		if err != nil {
			return 0, err
		}
		tm := time.NewTimer(time.Duration(ts.Sec)*time.Second + time.Duration(ts.Nsec))
		defer tm.Stop()
		deadline = tm.C
	}
	k := t.k
	arrived, done := sigArrival(t.tg)
	defer done()
	for {
		k.mu.Lock()
		info, ok := t.dequeueMaskLocked(^set)
		if ok {
			k.mu.Unlock()
			if a[1] != 0 {
				b := make([]byte, signal.InfoSize)
				info.Marshal(b)
				if _, err := t.mm.CopyOut(a[1], b); err != nil {
					return 0, err
				}
			}
			return uint64(info.Signo), nil
		}
		if t.killed || t.deliverableLocked() {
			k.mu.Unlock()
			return 0, unix.EINTR
		}
		t.rearmLocked()
		ch := t.intr
		k.mu.Unlock()
		select {
		case <-ch:
		case <-arrived:
			arrived, done = t.nextArrival(done)
		case <-deadline:
			return 0, unix.EAGAIN
		}
	}
}

// nextArrival ends the wait for one signal arrival and begins the next.
func (t *Task) nextArrival(done func()) (<-chan struct{}, func()) {
	ch, next := sigArrival(t.tg)
	done()
	return ch, next
}
