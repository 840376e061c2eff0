package sentry

import (
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/abi/linux"
)

func init() {
	register(unix.SYS_WAIT4, "dpxp", Partial, "exited children only: stop/continue reports come with the signals issue", sysWait4)
	register(unix.SYS_WAITID, "ddpxp", Partial, "WEXITED only: stop/continue reports come with the signals issue", sysWaitid)
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

// waitChild blocks until a selected child is a zombie (Linux do_wait). It
// returns the child's pid, wait status and usage; reap removes it.
func (t *Task) waitChild(w waitTarget, options int, reap bool) (int32, uint32, rusage, error) {
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
			if c.zombie {
				pid, ws, ru := c.pid, c.status, c.usage
				ru.utimeNS += c.childUsage.utimeNS
				ru.stimeNS += c.childUsage.stimeNS
				if reap {
					k.reapLocked(c)
				}
				return pid, ws, ru, nil
			}
		}
		if !found {
			return 0, 0, rusage{}, unix.ECHILD
		}
		if options&wNoHang != 0 {
			return 0, 0, rusage{}, nil
		}
		if t.killed || t.intrClosed {
			return 0, 0, rusage{}, errRestartSys
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
	cpid, ws, ru, err := t.waitChild(t.targetFromPid(pid), options, true)
	if err != nil || cpid == 0 {
		return 0, err
	}
	if statusAddr != 0 {
		if err := t.copyOutUint32(statusAddr, ws); err != nil {
			return 0, err
		}
	}
	if rusageAddr != 0 {
		if err := t.copyOutStruct(rusageAddr, ru.toLinux()); err != nil {
			return 0, err
		}
	}
	return uint64(cpid), nil
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
	if options&wExited == 0 {
		// Only stop/continue events were asked for; none are reported yet.
		options |= wNoHang
	}
	cpid, ws, ru, err := t.waitChild(w, options, options&wNoWait == 0)
	if err != nil {
		return 0, err
	}
	if infop != 0 {
		// struct siginfo for CLD_EXITED / CLD_KILLED: si_signo, si_errno,
		// si_code, then si_pid, si_uid, si_status.
		b := make([]byte, 128)
		if cpid != 0 {
			code, status := int32(1), int32(ws>>8&0xff) // CLD_EXITED
			if sig := ws & 0x7f; sig != 0 {
				code, status = 2, int32(sig) // CLD_KILLED
				if ws&0x80 != 0 {
					code = 3 // CLD_DUMPED
				}
			}
			putLE32(b[0:], uint32(unix.SIGCHLD))
			putLE32(b[8:], uint32(code))
			putLE32(b[16:], uint32(cpid))
			putLE32(b[20:], 0)
			putLE32(b[24:], uint32(status))
		}
		if _, err := t.mm.CopyOut(infop, b); err != nil {
			return 0, err
		}
	}
	if rusageAddr != 0 && cpid != 0 {
		if err := t.copyOutStruct(rusageAddr, ru.toLinux()); err != nil {
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
