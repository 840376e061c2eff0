package sentry

import (
	"golang.org/x/sys/unix"

	"kvsentry/kernel/signal"
)

// exitGroup ends the task's whole process with wait status ws, as Linux's
// do_group_exit: every other task of the group is killed, memory and files
// are released, children are reparented to init and the parent is notified.
func (t *Task) exitGroup(ws uint32) {
	tg := t.tg
	k := t.k

	k.mu.Lock()
	if !tg.exiting {
		tg.exiting = true
		tg.status = ws
	}
	for _, other := range k.tasks {
		if other.tg == tg && other != t {
			other.killLocked(tg.status)
		}
	}
	delete(k.tasks, t.tid)
	k.mu.Unlock()

	// CLONE_CHILD_CLEARTID: zero the tid word (the futex wake comes with
	// the processes issue, which adds threads).
	if t.clearChildTID != 0 {
		t.copyOutUint32(t.clearChildTID, 0)
	}
	if t.fds != nil {
		t.fds.CloseAll()
	}
	if t.mm != nil {
		t.mm.Release()
	}

	k.mu.Lock()
	defer k.mu.Unlock()
	tg.zombie = true
	if tg.vforkDone != nil {
		close(tg.vforkDone)
		tg.vforkDone = nil
	}
	// Reparent children to init (Linux: forget_original_parent); zombies
	// already reparented are reaped by init's wait.
	if tg != k.initTG {
		for c := range tg.children {
			c.parent = k.initTG
			k.initTG.children[c] = struct{}{}
		}
		if len(tg.children) > 0 {
			k.initTG.childCond.Broadcast()
		}
	}
	tg.children = nil
	if tg == k.initTG {
		// The sandbox's init has exited: every other process dies, as in a
		// PID namespace whose init ends (zap_pid_ns_processes).
		for _, other := range k.tasks {
			other.killLocked(wsSignaled(int(unix.SIGKILL), false))
		}
		select {
		case <-k.done:
		default:
			close(k.done)
		}
		return
	}
	p := tg.parent
	if p == nil {
		return
	}
	// A parent that ignores SIGCHLD, or set SA_NOCLDWAIT, never sees the
	// zombie (kernel/signal.c do_notify_parent).
	p.sigMu.Lock()
	act := p.actions[unix.SIGCHLD-1]
	p.sigMu.Unlock()
	autoReap := tg.exitSignal == int(unix.SIGCHLD) && (act.Handler == signal.SigIgn || act.Flags&signal.SANoCldWait != 0)
	if tg.exitSignal > 0 && !(autoReap && act.Handler == signal.SigIgn) {
		// do_notify_parent: SIGCHLD (or the clone's exit signal) with the
		// child's status.
		info := signal.Info{Signo: int32(tg.exitSignal), Code: signal.CLDExited, Pid: tg.pid, Status: int32(tg.status >> 8 & 0xff)}
		if sig := tg.status & 0x7f; sig != 0 {
			info.Code, info.Status = signal.CLDKilled, int32(sig)
		}
		k.sendSignalLocked(p, info)
	}
	if autoReap {
		k.reapLocked(tg)
	}
	p.childCond.Broadcast()
}

// reapLocked removes a zombie from the process tree. Kernel.mu must be held.
func (k *Kernel) reapLocked(tg *ThreadGroup) {
	if tg.parent != nil && tg.parent.children != nil {
		delete(tg.parent.children, tg)
		tg.parent.childUsage.utimeNS += tg.usage.utimeNS + tg.childUsage.utimeNS
		tg.parent.childUsage.stimeNS += tg.usage.stimeNS + tg.childUsage.stimeNS
	}
	delete(k.tgs, tg.pid)
}

// killGroupLocked makes every task of tg exit with ws (a fatal signal).
// Kernel.mu must be held.
func (k *Kernel) killGroupLocked(tg *ThreadGroup, ws uint32) {
	if tg.exiting {
		return
	}
	for _, t := range k.tasks {
		if t.tg == tg {
			t.killLocked(ws)
		}
	}
}
