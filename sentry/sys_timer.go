package sentry

import (
	"time"

	"golang.org/x/sys/unix"

	"kvsentry/kernel/signal"
)

func init() {
	register(unix.SYS_ALARM, "d", Full, "", sysAlarm)
	register(unix.SYS_SETITIMER, "dpp", Partial, "ITIMER_REAL exact; ITIMER_VIRTUAL and ITIMER_PROF count wall time, not CPU time", sysSetitimer)
	register(unix.SYS_GETITIMER, "dp", Partial, "as setitimer", sysGetitimer)
	register(unix.SYS_TIMER_CREATE, "dpp", Partial, "CPU-time clocks count wall time", sysTimerCreate)
	register(unix.SYS_TIMER_SETTIME, "dxpp", Full, "", sysTimerSettime)
	register(unix.SYS_TIMER_GETTIME, "dp", Full, "", sysTimerGettime)
	register(unix.SYS_TIMER_GETOVERRUN, "d", Full, "", sysTimerGetoverrun)
	register(unix.SYS_TIMER_DELETE, "d", Full, "", sysTimerDelete)
}

// itimerFor returns the process's setitimer timer of kind which (ITIMER_REAL
// sends SIGALRM, ITIMER_VIRTUAL SIGVTALRM, ITIMER_PROF SIGPROF).
func (t *Task) itimerFor(which int) (*intervalTimer, error) {
	sig := map[int]unix.Signal{unix.ITIMER_REAL: unix.SIGALRM, unix.ITIMER_VIRTUAL: unix.SIGVTALRM, unix.ITIMER_PROF: unix.SIGPROF}[which]
	if sig == 0 {
		return nil, unix.EINVAL
	}
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	tg := t.tg
	if tg.itimers[which] == nil {
		tg.itimers[which] = &intervalTimer{k: k, tg: tg, notify: true, info: signal.Info{Signo: int32(sig), Code: signal.SIKernel}}
	}
	return tg.itimers[which], nil
}

// timevalBytes encodes a struct timeval.
func timevalBytes(d time.Duration) []byte {
	b := make([]byte, 16)
	putLE64(b, uint64(d/time.Second))
	putLE64(b[8:], uint64(d%time.Second/time.Microsecond))
	return b
}

// sysAlarm implements alarm(2): ITIMER_REAL in whole seconds.
func sysAlarm(t *Task, a *sysArgs) (uint64, error) {
	it, _ := t.itimerFor(unix.ITIMER_REAL)
	var deadline time.Time
	if a[0] != 0 {
		deadline = time.Now().Add(time.Duration(uint32(a[0])) * time.Second)
	}
	left, _ := it.set(deadline, 0)
	// alarm returns the seconds left, rounded, and at least 1 if armed.
	secs := uint64((left + time.Second/2) / time.Second)
	if left > 0 && secs == 0 {
		secs = 1
	}
	return secs, nil
}

// sysSetitimer implements setitimer(2).
func sysSetitimer(t *Task, a *sysArgs) (uint64, error) {
	it, err := t.itimerFor(int(a[0]))
	if err != nil {
		return 0, err
	}
	var deadline time.Time
	var interval time.Duration
	if a[1] != 0 {
		b := make([]byte, 32)
		if _, err := t.mm.CopyIn(a[1], b); err != nil {
			return 0, err
		}
		vals := [4]int64{int64(leUint64(b)), int64(leUint64(b[8:])), int64(leUint64(b[16:])), int64(leUint64(b[24:]))}
		for i := 1; i < 4; i += 2 {
			if vals[i-1] < 0 || vals[i] < 0 || vals[i] >= 1e6 {
				return 0, unix.EINVAL
			}
		}
		interval = time.Duration(vals[0])*time.Second + time.Duration(vals[1])*time.Microsecond
		value := time.Duration(vals[2])*time.Second + time.Duration(vals[3])*time.Microsecond
		if value > 0 {
			deadline = time.Now().Add(value)
		} else {
			interval = 0
		}
	}
	left, oldInt := it.set(deadline, interval)
	if a[2] != 0 {
		b := append(timevalBytes(oldInt), timevalBytes(left)...)
		if _, err := t.mm.CopyOut(a[2], b); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// sysGetitimer implements getitimer(2).
func sysGetitimer(t *Task, a *sysArgs) (uint64, error) {
	it, err := t.itimerFor(int(a[0]))
	if err != nil {
		return 0, err
	}
	left, interval := it.get()
	_, err = t.mm.CopyOut(a[1], append(timevalBytes(interval), timevalBytes(left)...))
	return 0, err
}

// sigevent notify kinds (include/uapi/asm-generic/siginfo.h).
const (
	sigevSignal   = 0
	sigevNone     = 1
	sigevThread   = 2
	sigevThreadID = 4
)

// sysTimerCreate implements timer_create(2).
func sysTimerCreate(t *Task, a *sysArgs) (uint64, error) {
	clock := int32(a[0])
	if _, err := clockNow(clock); err != nil {
		return 0, err
	}
	k := t.k
	it := &intervalTimer{k: k, tg: t.tg, notify: true, clock: clock, info: signal.Info{Signo: int32(unix.SIGALRM), Code: signal.SITimer}}
	if a[1] != 0 {
		b := make([]byte, 64)
		if _, err := t.mm.CopyIn(a[1], b); err != nil {
			return 0, err
		}
		value, signo, notify, tid := leUint64(b), int32(leUint32(b[8:])), int32(leUint32(b[12:])), int32(leUint32(b[16:]))
		it.info.Value = value
		switch notify {
		case sigevNone:
			it.notify = false
		case sigevSignal, sigevThread:
		case sigevThreadID:
			k.mu.Lock()
			target, ok := k.tasks[tid]
			k.mu.Unlock()
			if !ok || target.tg != t.tg {
				return 0, unix.EINVAL
			}
			it.thread = target
		default:
			return 0, unix.EINVAL
		}
		if it.notify {
			if !signal.Valid(int(signo)) {
				return 0, unix.EINVAL
			}
			it.info.Signo = signo
		}
	}
	k.mu.Lock()
	tg := t.tg
	id := int32(0)
	for tg.timers[id] != nil {
		id++
	}
	it.info.TimerID = id
	if it.info.Value == 0 && a[1] == 0 {
		it.info.Value = uint64(id) // SIGEV_SIGNAL default: sigev_value = timer id
	}
	tg.timers[id] = it
	k.mu.Unlock()
	if err := t.copyOutUint32(a[2], uint32(id)); err != nil {
		k.mu.Lock()
		delete(tg.timers, id)
		k.mu.Unlock()
		return 0, err
	}
	return 0, nil
}

// posixTimer returns the process's timer id.
func (t *Task) posixTimer(id int32) (*intervalTimer, error) {
	t.k.mu.Lock()
	defer t.k.mu.Unlock()
	it := t.tg.timers[id]
	if it == nil {
		return nil, unix.EINVAL
	}
	return it, nil
}

// itimerspecBytes encodes a struct itimerspec.
func itimerspecBytes(interval, value time.Duration) []byte {
	return append(timespecBytes(unix.NsecToTimespec(interval.Nanoseconds())), timespecBytes(unix.NsecToTimespec(value.Nanoseconds()))...)
}

// sysTimerSettime implements timer_settime(2).
func sysTimerSettime(t *Task, a *sysArgs) (uint64, error) {
	it, err := t.posixTimer(int32(a[0]))
	if err != nil {
		return 0, err
	}
	if a[1]&^uint64(unix.TIMER_ABSTIME) != 0 {
		return 0, unix.EINVAL
	}
	b := make([]byte, 32)
	if _, err := t.mm.CopyIn(a[2], b); err != nil {
		return 0, err
	}
	interval := unix.Timespec{Sec: int64(leUint64(b)), Nsec: int64(leUint64(b[8:]))}
	value := unix.Timespec{Sec: int64(leUint64(b[16:])), Nsec: int64(leUint64(b[24:]))}
	for _, ts := range []unix.Timespec{interval, value} {
		if ts.Sec < 0 || ts.Nsec < 0 || ts.Nsec >= 1e9 {
			return 0, unix.EINVAL
		}
	}
	var deadline time.Time
	if value.Sec != 0 || value.Nsec != 0 {
		if a[1]&unix.TIMER_ABSTIME != 0 {
			// Absolute on the timer's clock: convert through "now".
			now, _ := clockNow(it.clockID())
			deadline = time.Now().Add(durationOf(value) - durationOf(now))
		} else {
			deadline = time.Now().Add(durationOf(value))
		}
	}
	if deadline.IsZero() {
		interval = unix.Timespec{}
	}
	left, oldInt := it.set(deadline, durationOf(interval))
	if a[3] != 0 {
		if _, err := t.mm.CopyOut(a[3], itimerspecBytes(oldInt, left)); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// sysTimerGettime implements timer_gettime(2).
func sysTimerGettime(t *Task, a *sysArgs) (uint64, error) {
	it, err := t.posixTimer(int32(a[0]))
	if err != nil {
		return 0, err
	}
	left, interval := it.get()
	_, err = t.mm.CopyOut(a[1], itimerspecBytes(interval, left))
	return 0, err
}

// sysTimerGetoverrun implements timer_getoverrun(2).
func sysTimerGetoverrun(t *Task, a *sysArgs) (uint64, error) {
	it, err := t.posixTimer(int32(a[0]))
	if err != nil {
		return 0, err
	}
	it.mu.Lock()
	defer it.mu.Unlock()
	return uint64(it.lastOverrun), nil
}

// sysTimerDelete implements timer_delete(2).
func sysTimerDelete(t *Task, a *sysArgs) (uint64, error) {
	it, err := t.posixTimer(int32(a[0]))
	if err != nil {
		return 0, err
	}
	it.stop()
	t.k.mu.Lock()
	delete(t.tg.timers, int32(a[0]))
	t.k.mu.Unlock()
	return 0, nil
}

// stopTimersLocked disarms POSIX timers (exec, exit) and, with itimers, the
// setitimer ones too (exit). Kernel.mu must be held.
func (tg *ThreadGroup) stopTimersLocked(itimers bool) {
	for id, it := range tg.timers {
		it.stop()
		delete(tg.timers, id)
	}
	if itimers {
		for _, it := range tg.itimers {
			if it != nil {
				it.stop()
			}
		}
	}
}
