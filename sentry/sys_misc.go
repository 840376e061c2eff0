package sentry

import (
	"runtime"

	"golang.org/x/sys/unix"
)

func init() {
	register(unix.SYS_UNAME, "p", Full, "", sysUname)
	register(unix.SYS_GETRANDOM, "oxx", Full, "", sysGetrandom)
	register(unix.SYS_SYSINFO, "p", Partial, "memory figures are the page pool's", sysSysinfo)
	register(unix.SYS_UMASK, "m", Full, "", sysUmask)
	register(unix.SYS_ARCH_PRCTL, "xx", Partial, "ARCH_SET_FS/GET_FS/SET_GS/GET_GS", sysArchPrctl)
	register(unix.SYS_SET_TID_ADDRESS, "p", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		t.clearChildTID = a[0]
		return uint64(t.tid), nil
	})
	unsupported(unix.SYS_RSEQ, unix.ENOSYS, "restartable sequences are not offered (glibc and musl fall back)")
	register(unix.SYS_SCHED_GETAFFINITY, "ddp", Full, "", sysSchedGetaffinity)
	register(unix.SYS_SCHED_SETAFFINITY, "ddp", Partial, "the mask is kept per thread and reported back; host scheduling ignores it", sysSchedSetaffinity)
	register(unix.SYS_SCHED_YIELD, "", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		runtime.Gosched()
		return 0, nil
	})
	register(unix.SYS_GETCPU, "ppp", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		for _, p := range a[:2] {
			if p != 0 {
				if err := t.copyOutUint32(p, 0); err != nil {
					return 0, err
				}
			}
		}
		return 0, nil
	})
	register(unix.SYS_PRCTL, "dxxxx", Partial, "PR_SET_NAME/GET_NAME, PR_SET_PDEATHSIG/GET, PR_SET_CHILD_SUBREAPER/GET, PR_GET_DUMPABLE/SET, PR_SET_NO_NEW_PRIVS; others EINVAL", sysPrctl)
	register(unix.SYS_SYNC, "", Full, "", func(t *Task, a *sysArgs) (uint64, error) { return 0, nil })
	register(unix.SYS_GETPRIORITY, "dd", Partial, "always nice 0", func(t *Task, a *sysArgs) (uint64, error) { return 20, nil })
	register(unix.SYS_SETPRIORITY, "ddd", Partial, "accepted, not applied", func(t *Task, a *sysArgs) (uint64, error) { return 0, nil })
	register(unix.SYS_SCHED_GETSCHEDULER, "d", Partial, "always SCHED_OTHER", func(t *Task, a *sysArgs) (uint64, error) { return 0, nil })
	register(unix.SYS_SCHED_GETPARAM, "dp", Partial, "always priority 0", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.copyOutUint32(a[1], 0)
	})
}

// utsField encodes s into a 65-byte utsname field.
func utsField(b []byte, s string) { copy(b[:64], s) }

// sysUname implements uname(2). The sandbox reports a Linux of its own
// rather than the host's release.
func sysUname(t *Task, a *sysArgs) (uint64, error) {
	b := make([]byte, 65*6)
	var host unix.Utsname
	unix.Uname(&host)
	utsField(b[0:], "Linux")
	utsField(b[65:], t.k.hostname())
	utsField(b[130:], cString(host.Release[:]))
	utsField(b[195:], "#1 SMP kvsentry")
	utsField(b[260:], "x86_64")
	utsField(b[325:], "(none)")
	_, err := t.mm.CopyOut(a[0], b)
	return 0, err
}

// cString returns the bytes of b up to the first NUL.
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// sysGetrandom implements getrandom(2).
func sysGetrandom(t *Task, a *sysArgs) (uint64, error) {
	n, flags := a[1], a[2]
	if flags&^uint64(unix.GRND_NONBLOCK|unix.GRND_RANDOM|0x4) != 0 {
		return 0, unix.EINVAL
	}
	if n > 1<<25 {
		n = 1 << 25
	}
	buf := make([]byte, n)
	randomBytes(buf)
	c, err := t.mm.CopyOut(a[0], buf)
	if err != nil && c == 0 {
		return 0, err
	}
	return uint64(c), nil
}

// sysSysinfo implements sysinfo(2).
func sysSysinfo(t *Task, a *sysArgs) (uint64, error) {
	b := make([]byte, 112)
	putLE64(b[0:], uint64(t.k.uptime().Seconds()))
	putLE64(b[32:], t.k.pool.Size())
	putLE64(b[40:], t.k.pool.FreePages()*4096)
	t.k.mu.Lock()
	b[80], b[81] = byte(len(t.k.tasks)), byte(len(t.k.tasks)>>8)
	t.k.mu.Unlock()
	putLE32(b[104:], 1) // mem_unit
	_, err := t.mm.CopyOut(a[0], b)
	return 0, err
}

// sysUmask implements umask(2).
func sysUmask(t *Task, a *sysArgs) (uint64, error) {
	t.fs.mu.Lock()
	defer t.fs.mu.Unlock()
	old := t.fs.umask
	t.fs.umask = uint32(a[0]) & 0o777
	return uint64(old), nil
}

// arch_prctl codes (arch/x86/include/uapi/asm/prctl.h).
const (
	archSetGS = 0x1001
	archSetFS = 0x1002
	archGetFS = 0x1003
	archGetGS = 0x1004
)

// sysArchPrctl implements arch_prctl(2) for the fs/gs bases.
func sysArchPrctl(t *Task, a *sysArgs) (uint64, error) {
	switch a[0] {
	case archSetFS:
		if a[1] >= 1<<47 {
			return 0, unix.EPERM
		}
		t.regs.Fs_base = a[1]
	case archSetGS:
		if a[1] >= 1<<47 {
			return 0, unix.EPERM
		}
		t.regs.Gs_base = a[1]
	case archGetFS:
		return 0, t.copyOutUint64(a[1], t.regs.Fs_base)
	case archGetGS:
		return 0, t.copyOutUint64(a[1], t.regs.Gs_base)
	default:
		return 0, unix.EINVAL
	}
	return 0, nil
}

// affinityTarget returns the task pid names for the affinity calls (0: the
// caller), or ESRCH.
func (t *Task) affinityTarget(pid int32) (*Task, error) {
	if pid == 0 {
		return t, nil
	}
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	o, ok := t.k.tasks[pid]
	if !ok || pid < 0 {
		return nil, unix.ESRCH
	}
	return o, nil
}

// affinityOf returns a task's CPU mask (all host CPUs unless set).
func (t *Task) affinityOf() []byte {
	n := runtime.NumCPU()
	b := make([]byte, (n+63)/64*8)
	t.k.mu.Lock()
	set := t.affinity
	t.k.mu.Unlock()
	for i := 0; i < n; i++ {
		if set == nil || i/8 < len(set) && set[i/8]&(1<<(i%8)) != 0 {
			b[i/8] |= 1 << (i % 8)
		}
	}
	return b
}

// sysSchedGetaffinity implements sched_getaffinity(2): the result is the
// size of the kernel's mask in bytes.
func sysSchedGetaffinity(t *Task, a *sysArgs) (uint64, error) {
	size := a[1]
	need := uint64((runtime.NumCPU() + 63) / 64 * 8)
	if size < need || size&7 != 0 {
		return 0, unix.EINVAL
	}
	target, err := t.affinityTarget(int32(a[0]))
	if err != nil {
		return 0, err
	}
	if _, err := t.mm.CopyOut(a[2], target.affinityOf()); err != nil {
		return 0, err
	}
	return need, nil
}

// sysSchedSetaffinity implements sched_setaffinity(2): the mask, cut to the
// CPUs that exist, must not be empty.
func sysSchedSetaffinity(t *Task, a *sysArgs) (uint64, error) {
	target, err := t.affinityTarget(int32(a[0]))
	if err != nil {
		return 0, err
	}
	n := runtime.NumCPU()
	size := min(a[1], uint64((n+7)/8))
	b := make([]byte, size)
	if _, err := t.mm.CopyIn(a[2], b); err != nil {
		return 0, err
	}
	set := make([]byte, (n+7)/8)
	any := false
	for i := 0; i < n && i/8 < len(b); i++ {
		if b[i/8]&(1<<(i%8)) != 0 {
			set[i/8] |= 1 << (i % 8)
			any = true
		}
	}
	if !any {
		return 0, unix.EINVAL
	}
	t.k.mu.Lock()
	target.affinity = set
	t.k.mu.Unlock()
	return 0, nil
}

// sysPrctl implements the prctl(2) options programs commonly use.
func sysPrctl(t *Task, a *sysArgs) (uint64, error) {
	switch a[0] {
	case unix.PR_SET_NAME:
		s, err := t.mm.CopyInString(a[1], 16)
		if err == unix.ENAMETOOLONG {
			b := make([]byte, 15)
			if _, err := t.mm.CopyIn(a[1], b); err != nil {
				return 0, err
			}
			s, err = string(b), nil
		}
		if err != nil {
			return 0, err
		}
		t.tg.sigMu.Lock()
		t.comm = s
		t.tg.sigMu.Unlock()
		return 0, nil
	case unix.PR_GET_NAME:
		b := make([]byte, 16)
		t.tg.sigMu.Lock()
		copy(b[:15], t.comm)
		t.tg.sigMu.Unlock()
		_, err := t.mm.CopyOut(a[1], b)
		return 0, err
	case unix.PR_SET_PDEATHSIG:
		if a[1] > 64 {
			return 0, unix.EINVAL
		}
		t.k.mu.Lock()
		t.tg.pdeathSig = int(a[1])
		t.k.mu.Unlock()
		return 0, nil
	case unix.PR_GET_PDEATHSIG:
		t.k.mu.Lock()
		sig := t.tg.pdeathSig
		t.k.mu.Unlock()
		return 0, t.copyOutUint32(a[1], uint32(sig))
	case unix.PR_SET_CHILD_SUBREAPER:
		t.k.mu.Lock()
		t.tg.subreaper = a[1] != 0
		t.k.mu.Unlock()
		return 0, nil
	case unix.PR_GET_CHILD_SUBREAPER:
		t.k.mu.Lock()
		v := t.tg.subreaper
		t.k.mu.Unlock()
		var x uint32
		if v {
			x = 1
		}
		return 0, t.copyOutUint32(a[1], x)
	case unix.PR_GET_DUMPABLE:
		return 1, nil
	case unix.PR_SET_DUMPABLE:
		if a[1] > 1 {
			return 0, unix.EINVAL
		}
		return 0, nil
	case unix.PR_SET_NO_NEW_PRIVS:
		return 0, nil
	case unix.PR_GET_NO_NEW_PRIVS:
		return 0, nil
	}
	return 0, unix.EINVAL
}
