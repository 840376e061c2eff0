package sentry

import (
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/abi/linux"

	"kvsentry/kernel/signal"
)

func init() {
	register(unix.SYS_WAIT4, "dpxp", Full, "", sysWait4)
	register(unix.SYS_WAITID, "ddpxp", Full, "", sysWaitid)
}

// Wait option bits (include/uapi/linux/wait.h).
const (
	wNoHang    = 0x1
	wUntraced  = 0x2
	wExited    = 0x4
	wContinued = 0x8
	wNoWait    = 0x01000000
	wNoThread  = 0x20000000
	wAll       = 0x40000000
	wClone     = 0x80000000
)

// waitTarget selects children as wait4's pid argument does.
type waitTarget struct {
	pid  int32 // > 0: that child
	pgid int32 // > 0: children in that process group
	any  bool
}

// matches reports whether child c is selected.
func (w waitTarget) matches(c *ThreadGroup) bool {
	switch {
	case w.any:
		return true
	case w.pid > 0:
		return c.pid == w.pid
	default:
		return c.pgid == w.pgid
	}
}

// waitEvent is one state change a wait reports.
type waitEvent struct {
	pid int32
	// status is the wait4 status word; code and sigStatus are waitid's
	// si_code and si_status.
	status    uint32
	code      int32
	sigStatus int32
	usage     rusage
}

// waitChild blocks until a selected child has a state change the options ask
// for: exit (always for wait4, WEXITED for waitid), stop (WUNTRACED /
// WSTOPPED) or continue (WCONTINUED), as Linux's do_wait. consume removes
// the event (reaps a zombie); WNOWAIT leaves it. A zero pid means WNOHANG
// found nothing.
func (t *Task) waitChild(w waitTarget, options int, exited, consume bool) (waitEvent, error) {
	k := t.k
	tg := t.tg
	k.mu.Lock()
	defer k.mu.Unlock()
	for {
		found := false
		for c := range tg.children {
			if !w.matches(c) {
				continue
			}
			// __WCLONE selects children whose exit signal is not SIGCHLD.
			clone := c.exitSignal != int(unix.SIGCHLD)
			if options&wAll == 0 && (options&wClone != 0) != clone {
				continue
			}
			found = true
			switch {
			case c.zombie && exited:
				ev := waitEvent{pid: c.pid, status: c.status, code: signal.CLDExited, sigStatus: int32(c.status >> 8 & 0xff), usage: c.usage}
				if sig := c.status & 0x7f; sig != 0 {
					ev.code, ev.sigStatus = signal.CLDKilled, int32(sig)
				}
				ev.usage.utimeNS += c.childUsage.utimeNS
				ev.usage.stimeNS += c.childUsage.stimeNS
				if consume {
					k.reapLocked(c)
				}
				return ev, nil
			case !c.zombie && c.stopped && !c.stopReported && options&wUntraced != 0:
				if consume {
					c.stopReported = true
				}
				return waitEvent{pid: c.pid, status: uint32(c.stopSig)<<8 | 0x7f, code: signal.CLDStopped, sigStatus: int32(c.stopSig), usage: c.usage}, nil
			case !c.zombie && c.continued && options&wContinued != 0:
				if consume {
					c.continued = false
				}
				return waitEvent{pid: c.pid, status: 0xffff, code: signal.CLDContinued, sigStatus: int32(unix.SIGCONT), usage: c.usage}, nil
			}
		}
		if !found {
			return waitEvent{}, unix.ECHILD
		}
		if options&wNoHang != 0 {
			return waitEvent{}, nil
		}
		if t.killed || t.intrClosed {
			return waitEvent{}, errRestartSys
		}
		tg.childCond.Wait()
	}
}

// targetFromPid decodes wait4's pid argument.
func (t *Task) targetFromPid(pid int32) waitTarget {
	switch {
	case pid == -1:
		return waitTarget{any: true}
	case pid > 0:
		return waitTarget{pid: pid}
	case pid == 0:
		t.k.mu.Lock()
		defer t.k.mu.Unlock()
		return waitTarget{pgid: t.tg.pgid}
	default:
		return waitTarget{pgid: -pid}
	}
}

// sysWait4 implements wait4(2).
func sysWait4(t *Task, a *sysArgs) (uint64, error) {
	pid, statusAddr, options, rusageAddr := int32(a[0]), a[1], int(a[2]), a[3]
	if options&^(wNoHang|wUntraced|wContinued|wNoThread|wAll|wClone) != 0 {
		return 0, unix.EINVAL
	}
	if pid == -2147483648 {
		return 0, unix.ESRCH
	}
	ev, err := t.waitChild(t.targetFromPid(pid), options, true, true)
	if err != nil || ev.pid == 0 {
		return 0, err
	}
	if statusAddr != 0 {
		if err := t.copyOutUint32(statusAddr, ev.status); err != nil {
			return 0, err
		}
	}
	if rusageAddr != 0 {
		if err := t.copyOutStruct(rusageAddr, ev.usage.toLinux()); err != nil {
			return 0, err
		}
	}
	return uint64(ev.pid), nil
}

// sysWaitid implements waitid(2) for exited children.
func sysWaitid(t *Task, a *sysArgs) (uint64, error) {
	idtype, id, infop, options, rusageAddr := int(a[0]), int32(a[1]), a[2], int(a[3]), a[4]
	if options&^(wNoHang|wUntraced|wExited|wContinued|wNoWait|wNoThread|wAll|wClone) != 0 ||
		options&(wExited|wUntraced|wContinued) == 0 {
		return 0, unix.EINVAL
	}
	var w waitTarget
	switch idtype {
	case unix.P_ALL:
		w.any = true
	case unix.P_PID:
		if id <= 0 {
			return 0, unix.EINVAL
		}
		w.pid = id
	case unix.P_PGID:
		if id < 0 {
			return 0, unix.EINVAL
		}
		if id == 0 {
			w = t.targetFromPid(0)
		} else {
			w.pgid = id
		}
	default:
		return 0, unix.EINVAL
	}
	ev, err := t.waitChild(w, options, options&wExited != 0, options&wNoWait == 0)
	if err != nil {
		return 0, err
	}
	if infop != 0 {
		// struct siginfo for SIGCHLD: si_signo, si_errno, si_code, then
		// si_pid, si_uid, si_status; all zero when WNOHANG found nothing.
		b := make([]byte, signal.InfoSize)
		if ev.pid != 0 {
			info := signal.Info{Signo: int32(unix.SIGCHLD), Code: ev.code, Pid: ev.pid, Status: ev.sigStatus}
			info.Marshal(b)
		}
		if _, err := t.mm.CopyOut(infop, b); err != nil {
			return 0, err
		}
	}
	if rusageAddr != 0 && ev.pid != 0 {
		if err := t.copyOutStruct(rusageAddr, ev.usage.toLinux()); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// toLinux converts the tracked usage to struct rusage.
func (r rusage) toLinux() *linux.Rusage {
	return &linux.Rusage{
		UTime: linux.NsecToTimeval(r.utimeNS),
		STime: linux.NsecToTimeval(r.stimeNS),
	}
}

// putLE32 stores v little-endian at b.
func putLE32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}
