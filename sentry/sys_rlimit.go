package sentry

import (
	"golang.org/x/sys/unix"
)

func init() {
	register(unix.SYS_GETRLIMIT, "dp", Full, "", sysGetrlimit)
	register(unix.SYS_SETRLIMIT, "dp", Partial, "limits are recorded; RLIMIT_NOFILE is enforced, others are not yet", sysSetrlimit)
	register(unix.SYS_PRLIMIT64, "ddpp", Partial, "own process (pid 0 or own pid) only", sysPrlimit64)
}

// rlimits is a process's resource limit table (struct rlimit[RLIM_NLIMITS]).
type rlimits [16]unix.Rlimit

// rlimInfinity is RLIM_INFINITY.
const rlimInfinity = ^uint64(0)

// defaultRlimits are the limits a sandbox's init starts with (Linux's
// INIT_RLIMITS, with the stack at 8 MiB and 1024 open files like a login).
func defaultRlimits() rlimits {
	var r rlimits
	for i := range r {
		r[i] = unix.Rlimit{Cur: rlimInfinity, Max: rlimInfinity}
	}
	r[unix.RLIMIT_STACK] = unix.Rlimit{Cur: 8 << 20, Max: rlimInfinity}
	r[unix.RLIMIT_CORE] = unix.Rlimit{Cur: 0, Max: rlimInfinity}
	r[unix.RLIMIT_NOFILE] = unix.Rlimit{Cur: 1024, Max: 524288}
	r[unix.RLIMIT_NPROC] = unix.Rlimit{Cur: 95000, Max: 95000}
	r[unix.RLIMIT_MEMLOCK] = unix.Rlimit{Cur: 8 << 20, Max: 8 << 20}
	r[unix.RLIMIT_SIGPENDING] = unix.Rlimit{Cur: 95000, Max: 95000}
	r[unix.RLIMIT_MSGQUEUE] = unix.Rlimit{Cur: 819200, Max: 819200}
	r[unix.RLIMIT_NICE] = unix.Rlimit{}
	r[unix.RLIMIT_RTPRIO] = unix.Rlimit{}
	return r
}

// rlimitBytes encodes a struct rlimit.
func rlimitBytes(r unix.Rlimit) []byte {
	b := make([]byte, 16)
	putLE64(b, r.Cur)
	putLE64(b[8:], r.Max)
	return b
}

// putLE64 stores v little-endian at b.
func putLE64(b []byte, v uint64) {
	for i := 0; i < 8; i++ {
		b[i] = byte(v >> (8 * i))
	}
}

// prlimit gets and/or sets one limit of the task's process.
func (t *Task) prlimit(res int, newAddr, oldAddr uint64) error {
	if res < 0 || res >= len(rlimits{}) {
		return unix.EINVAL
	}
	var nr unix.Rlimit
	if newAddr != 0 {
		b := make([]byte, 16)
		if _, err := t.mm.CopyIn(newAddr, b); err != nil {
			return err
		}
		nr = unix.Rlimit{Cur: leUint64(b), Max: leUint64(b[8:])}
		if nr.Cur > nr.Max {
			return unix.EINVAL
		}
	}
	tg := t.tg
	tg.sigMu.Lock()
	old := tg.rlimits[res]
	if newAddr != 0 {
		if nr.Max > old.Max && t.creds.UID != 0 {
			tg.sigMu.Unlock()
			return unix.EPERM
		}
		if res == unix.RLIMIT_NOFILE && nr.Max > 1<<20 {
			tg.sigMu.Unlock()
			return unix.EPERM
		}
		tg.rlimits[res] = nr
	}
	tg.sigMu.Unlock()
	if newAddr != 0 && res == unix.RLIMIT_NOFILE {
		t.fds.mu.Lock()
		lim := nr.Cur
		if lim > 1<<20 {
			lim = 1 << 20
		}
		t.fds.limit = int32(lim)
		t.fds.mu.Unlock()
	}
	if oldAddr != 0 {
		if _, err := t.mm.CopyOut(oldAddr, rlimitBytes(old)); err != nil {
			return err
		}
	}
	return nil
}

// sysGetrlimit implements getrlimit(2).
func sysGetrlimit(t *Task, a *sysArgs) (uint64, error) {
	return 0, t.prlimit(int(a[0]), 0, a[1])
}

// sysSetrlimit implements setrlimit(2).
func sysSetrlimit(t *Task, a *sysArgs) (uint64, error) {
	return 0, t.prlimit(int(a[0]), a[1], 0)
}

// sysPrlimit64 implements prlimit(2) for the calling process.
func sysPrlimit64(t *Task, a *sysArgs) (uint64, error) {
	pid := int32(a[0])
	if pid != 0 && pid != t.tg.pid {
		t.k.mu.Lock()
		_, ok := t.k.tgs[pid]
		t.k.mu.Unlock()
		if !ok {
			return 0, unix.ESRCH
		}
		return 0, unix.EPERM
	}
	return 0, t.prlimit(int(a[1]), a[2], a[3])
}
