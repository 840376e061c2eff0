package sentry

import (
	"golang.org/x/sys/unix"

	"kvsentry/kernel/signal"
)

// groupExitLocked starts the exit of every thread of tg with wait status ws
// (do_group_exit, and a fatal signal's zap_other_threads). Kernel.mu held.
func (k *Kernel) groupExitLocked(tg *ThreadGroup, ws uint32) {
	if !tg.exiting {
		tg.exiting = true
		tg.status = ws
	}
	for t := range tg.tasks {
		t.killLocked(tg.status)
	}
}

// killGroupLocked makes every task of tg exit with ws (a fatal signal).
// Kernel.mu must be held.
func (k *Kernel) killGroupLocked(tg *ThreadGroup, ws uint32) {
	if tg.exiting {
		return
	}
	k.groupExitLocked(tg, ws)
}

// exitTask ends the calling task (do_exit): its robust futexes and
// clear_child_tid word are released, its share of the address space and file
// table dropped; the last thread out turns the process into a zombie.
func (t *Task) exitTask() {
	k := t.k
	tg := t.tg
	t.exitRobustList()
	if t.clearChildTID != 0 {
		// CLONE_CHILD_CLEARTID: zero the tid word and wake one waiter
		// (mm_release), which is how pthread_join learns of the exit.
		if _, err := t.mm.CopyOut(t.clearChildTID, le32(0)); err == nil {
			k.futexWake(t, t.clearChildTID, false, 1, ^uint32(0))
		}
	}

	k.mu.Lock()
	delete(tg.tasks, t)
	delete(k.tasks, t.tid)
	last := len(tg.tasks) == 0
	// Children created by this thread lose their parent thread: they get
	// their parent-death signal (PR_SET_PDEATHSIG) and, while the process
	// lives on, another of its threads as parent thread.
	for c := range tg.children {
		if c.parentThread != t {
			continue
		}
		c.parentThread = nil
		for o := range tg.tasks {
			c.parentThread = o
			break
		}
		// The last thread's children get theirs in processExit, once
		// they have their new parent (forget_original_parent reparents
		// first, so a handler's getppid sees the reaper).
		if !last && c.pdeathSig != 0 && !c.zombie {
			k.sendSignalLocked(c, signal.Info{Signo: int32(c.pdeathSig), Code: signal.SIUser})
		}
	}
	if last && !tg.exiting {
		tg.exiting = true
		tg.status = t.exitStatus
	}
	tg.threadCond.Broadcast()
	k.mu.Unlock()

	if last {
		// The process's CPU time, for its parent's wait and RUSAGE_CHILDREN.
		u := t.selfUsage()
		k.mu.Lock()
		tg.usage = u
		k.mu.Unlock()
	}
	k.mmPut(t.mm)
	t.fds.put()
	if last {
		k.processExit(tg)
	}
}

// processExit makes tg a zombie once its last thread is gone: children are
// reparented to init, the parent is notified (exit_notify).
func (k *Kernel) processExit(tg *ThreadGroup) {
	k.mu.Lock()
	defer k.mu.Unlock()
	tg.stopTimersLocked(true)
	tg.zombie = true
	if tg.vforkDone != nil {
		close(tg.vforkDone)
		tg.vforkDone = nil
	}
	// Reparent children to the nearest live subreaper ancestor, else init
	// (forget_original_parent, find_new_reaper).
	if tg != k.initTG {
		reaper := k.initTG
		for a := tg.parent; a != nil && a != k.initTG; a = a.parent {
			if a.subreaper && !a.zombie && !a.exiting {
				reaper = a
				break
			}
		}
		for c := range tg.children {
			k.killOrphanedPgrpLocked(c, tg)
			c.parent = reaper
			c.parentThread = reaper.leader
			reaper.children[c] = struct{}{}
			if c.pdeathSig != 0 && !c.zombie {
				k.sendSignalLocked(c, signal.Info{Signo: int32(c.pdeathSig), Code: signal.SIUser})
			}
			if c.zombie {
				// An adopted zombie is reported to its new parent.
				k.notifyExitLocked(c)
			}
		}
		if len(tg.children) > 0 {
			reaper.childCond.Broadcast()
		}
	}
	tg.children = nil
	if tg != k.initTG {
		k.killOrphanedPgrpLocked(tg, nil)
	}
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
	k.notifyExitLocked(tg)
}

// notifyExitLocked tells tg's parent that it exited (do_notify_parent).
// Kernel.mu must be held.
func (k *Kernel) notifyExitLocked(tg *ThreadGroup) {
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

// killOrphanedPgrpLocked sends SIGHUP then SIGCONT to tg's process group if
// it just became orphaned and holds stopped processes (kernel/exit.c
// kill_orphaned_pgrp): on exit (parent nil) tg's parent was the group's last
// link to its session outside the group; on reparenting (parent = the
// exiting parent) tg itself was. Kernel.mu must be held.
func (k *Kernel) killOrphanedPgrpLocked(tg, parent *ThreadGroup) {
	ignored := tg
	if parent == nil {
		parent = tg.parent
	} else {
		ignored = nil
	}
	if parent == nil || parent.pgid == tg.pgid || parent.sid != tg.sid {
		return
	}
	if !k.willBeOrphanedLocked(tg.pgid, ignored) || !k.hasStoppedLocked(tg.pgid) {
		return
	}
	for _, sig := range []unix.Signal{unix.SIGHUP, unix.SIGCONT} {
		for _, m := range k.tgs {
			if m.pgid == tg.pgid && !m.zombie {
				k.sendSignalLocked(m, signal.Info{Signo: int32(sig), Code: signal.SIKernel})
			}
		}
	}
}

// willBeOrphanedLocked reports whether no member of pgid (but ignored) has
// a parent in another group of the same session, init excepted
// (will_become_orphaned_pgrp). Kernel.mu must be held.
func (k *Kernel) willBeOrphanedLocked(pgid int32, ignored *ThreadGroup) bool {
	for _, m := range k.tgs {
		if m.pgid != pgid || m == ignored || m.zombie || m.exiting || m.parent == nil || m.parent == k.initTG {
			continue
		}
		if m.parent.pgid != pgid && m.parent.sid == m.sid {
			return false
		}
	}
	return true
}

// hasStoppedLocked reports whether a process of pgid is stopped.
func (k *Kernel) hasStoppedLocked(pgid int32) bool {
	for _, m := range k.tgs {
		if m.pgid == pgid && m.stopped && !m.zombie {
			return true
		}
	}
	return false
}
