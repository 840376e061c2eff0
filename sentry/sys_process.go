package sentry

import (
	"golang.org/x/sys/unix"
)

func init() {
	register(unix.SYS_GETPID, "", Full, "", func(t *Task, a *sysArgs) (uint64, error) { return uint64(t.tg.pid), nil })
	register(unix.SYS_GETTID, "", Full, "", func(t *Task, a *sysArgs) (uint64, error) { return uint64(t.tid), nil })
	register(unix.SYS_GETPPID, "", Full, "", sysGetppid)
	register(unix.SYS_EXIT, "d", Full, "", sysExit)
	register(unix.SYS_EXIT_GROUP, "d", Full, "", sysExitGroup)
	register(unix.SYS_GETPGID, "d", Full, "", sysGetpgid)
	register(unix.SYS_GETPGRP, "", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		b := sysArgs{}
		return sysGetpgid(t, &b)
	})
	register(unix.SYS_SETPGID, "dd", Full, "", sysSetpgid)
	register(unix.SYS_GETSID, "d", Full, "", sysGetsid)
	register(unix.SYS_SETSID, "", Full, "", sysSetsid)
}

// sysGetppid implements getppid(2); init's parent is 0, as in a PID namespace.
func sysGetppid(t *Task, a *sysArgs) (uint64, error) {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	if t.tg.parent == nil {
		return 0, nil
	}
	return uint64(t.tg.parent.pid), nil
}

// sysExit implements exit(2): only the calling thread ends.
func sysExit(t *Task, a *sysArgs) (uint64, error) {
	t.k.mu.Lock()
	t.killLocked(wsExited(int(a[0])))
	t.k.mu.Unlock()
	return 0, errNoReturn
}

// sysExitGroup implements exit_group(2).
func sysExitGroup(t *Task, a *sysArgs) (uint64, error) {
	t.k.mu.Lock()
	t.k.groupExitLocked(t.tg, wsExited(int(a[0])))
	t.k.mu.Unlock()
	return 0, errNoReturn
}

// lookupTG finds a live or zombie process by pid (0 = the caller's).
func (t *Task) lookupTGLocked(pid int32) (*ThreadGroup, error) {
	if pid == 0 {
		return t.tg, nil
	}
	tg, ok := t.k.tgs[pid]
	if !ok {
		return nil, unix.ESRCH
	}
	return tg, nil
}

// sysGetpgid implements getpgid(2).
func sysGetpgid(t *Task, a *sysArgs) (uint64, error) {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	tg, err := t.lookupTGLocked(int32(a[0]))
	if err != nil {
		return 0, err
	}
	return uint64(tg.pgid), nil
}

// sysGetsid implements getsid(2).
func sysGetsid(t *Task, a *sysArgs) (uint64, error) {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	tg, err := t.lookupTGLocked(int32(a[0]))
	if err != nil {
		return 0, err
	}
	return uint64(tg.sid), nil
}

// sysSetpgid implements setpgid(2) with Linux's checks (kernel/sys.c).
func sysSetpgid(t *Task, a *sysArgs) (uint64, error) {
	pid, pgid := int32(a[0]), int32(a[1])
	// kernel/sys.c: pid 0 is the caller, pgid 0 is pid, then a negative
	// pgid is invalid.
	if pid == 0 {
		pid = t.tg.pid
	}
	if pgid == 0 {
		pgid = pid
	}
	if pgid < 0 {
		return 0, unix.EINVAL
	}
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	target, err := t.lookupTGLocked(pid)
	if err != nil {
		return 0, err
	}
	if target != t.tg {
		if target.parent != t.tg {
			return 0, unix.ESRCH
		}
		if target.sid != t.tg.sid {
			return 0, unix.EPERM
		}
		if target.exePathChanged {
			return 0, unix.EACCES
		}
	}
	if target.sid == target.pid {
		return 0, unix.EPERM // a session leader
	}
	if pgid == 0 {
		pgid = target.pid
	}
	if pgid != target.pid {
		found := false
		for _, tg := range k.tgs {
			if tg.pgid == pgid && tg.sid == t.tg.sid && !tg.zombie {
				found = true
				break
			}
		}
		if !found {
			return 0, unix.EPERM
		}
	}
	target.pgid = pgid
	return 0, nil
}

// sysSetsid implements setsid(2).
func sysSetsid(t *Task, a *sysArgs) (uint64, error) {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, tg := range k.tgs {
		if tg.pgid == t.tg.pid {
			return 0, unix.EPERM
		}
	}
	t.tg.sid, t.tg.pgid = t.tg.pid, t.tg.pid
	return uint64(t.tg.pid), nil
}
