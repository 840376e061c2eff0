package sentry

import (
	"math"
	"time"

	"golang.org/x/sys/unix"

	"kvsentry/platform"
)

func init() {
	register(unix.SYS_CLOCK_GETTIME, "dp", Full, "", sysClockGettime)
	register(unix.SYS_CLOCK_GETRES, "dp", Full, "", sysClockGetres)
	register(unix.SYS_GETTIMEOFDAY, "pp", Full, "", sysGettimeofday)
	register(unix.SYS_TIME, "p", Full, "", sysTime)
	register(unix.SYS_NANOSLEEP, "pp", Full, "", sysNanosleep)
	register(unix.SYS_CLOCK_NANOSLEEP, "dxpp", Partial, "CPU-time clocks sleep in wall time", sysClockNanosleep)
	register(unix.SYS_TIMES, "p", Partial, "CPU time is the address space's (threads and vfork children sharing it count together)", sysTimes)
	register(unix.SYS_GETRUSAGE, "dp", Partial, "as times; ru_maxrss is the current RSS; other fields zero", sysGetrusage)
}

// clockNow reads clock id as the guest sees it (the host's clocks; the
// process and thread CPU clocks are the sentry's own use of the host).
func clockNow(id int32) (unix.Timespec, error) {
	var ts unix.Timespec
	switch id {
	case unix.CLOCK_REALTIME, unix.CLOCK_MONOTONIC, unix.CLOCK_MONOTONIC_RAW,
		unix.CLOCK_REALTIME_COARSE, unix.CLOCK_MONOTONIC_COARSE, unix.CLOCK_BOOTTIME,
		unix.CLOCK_TAI, unix.CLOCK_REALTIME_ALARM, unix.CLOCK_BOOTTIME_ALARM:
		err := unix.ClockGettime(id, &ts)
		return ts, err
	case unix.CLOCK_PROCESS_CPUTIME_ID, unix.CLOCK_THREAD_CPUTIME_ID:
		err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
		return ts, err
	}
	if id < 0 {
		// Per-process/thread CPU clocks encoded by clock_getcpuclockid.
		err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
		return ts, err
	}
	return ts, unix.EINVAL
}

// threadCPUTime is the calling host thread's CPU time.
func threadCPUTime() time.Duration {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
	return time.Duration(ts.Nano())
}

// clockNow is clockNow as task t sees it: the process CPU clock is the
// guest's CPU time (selfUsage); the thread CPU clocks count from the
// moment t began on its worker thread, which earlier tasks may have used
// (task_worker.go).
func (t *Task) clockNow(id int32) (unix.Timespec, error) {
	if id == unix.CLOCK_PROCESS_CPUTIME_ID {
		// The guest's own CPU time, the same for every thread.
		if t.mm != nil {
			if ct, ok := t.mm.AddressSpace().(platform.CPUTimer); ok {
				return unix.NsecToTimespec(int64(ct.CPUClock())), nil
			}
		}
		u := t.selfUsage()
		return unix.NsecToTimespec(u.utimeNS + u.stimeNS), nil
	}
	ts, err := clockNow(id)
	if err == nil && (id < 0 || id == unix.CLOCK_THREAD_CPUTIME_ID) {
		ts = unix.NsecToTimespec(max(ts.Nano()-int64(t.cpuBase), 0))
	}
	return ts, err
}

// timespecBytes encodes a struct timespec.
func timespecBytes(ts unix.Timespec) []byte {
	b := make([]byte, 16)
	putLE64(b, uint64(ts.Sec))
	putLE64(b[8:], uint64(ts.Nsec))
	return b
}

// sysClockGettime implements clock_gettime(2).
func sysClockGettime(t *Task, a *sysArgs) (uint64, error) {
	ts, err := t.clockNow(int32(a[0]))
	if err != nil {
		return 0, err
	}
	_, err = t.mm.CopyOut(a[1], timespecBytes(ts))
	return 0, err
}

// sysClockGetres implements clock_getres(2).
func sysClockGetres(t *Task, a *sysArgs) (uint64, error) {
	id := int32(a[0])
	if _, err := clockNow(id); err != nil {
		return 0, err
	}
	if a[1] == 0 {
		return 0, nil
	}
	var ts unix.Timespec
	if err := unix.ClockGetres(id, &ts); err != nil {
		ts = unix.Timespec{Nsec: 1}
	}
	_, err := t.mm.CopyOut(a[1], timespecBytes(ts))
	return 0, err
}

// sysGettimeofday implements gettimeofday(2).
func sysGettimeofday(t *Task, a *sysArgs) (uint64, error) {
	if a[0] != 0 {
		now := time.Now()
		b := make([]byte, 16)
		putLE64(b, uint64(now.Unix()))
		putLE64(b[8:], uint64(now.Nanosecond()/1000))
		if _, err := t.mm.CopyOut(a[0], b); err != nil {
			return 0, err
		}
	}
	if a[1] != 0 {
		if _, err := t.mm.CopyOut(a[1], make([]byte, 8)); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// sysTime implements time(2).
func sysTime(t *Task, a *sysArgs) (uint64, error) {
	now := time.Now().Unix()
	if a[0] != 0 {
		if err := t.copyOutUint64(a[0], uint64(now)); err != nil {
			return 0, err
		}
	}
	return uint64(now), nil
}

// copyInTimespec reads and validates a struct timespec.
func (t *Task) copyInTimespec(addr uint64) (unix.Timespec, error) {
	b := make([]byte, 16)
	if _, err := t.mm.CopyIn(addr, b); err != nil {
		return unix.Timespec{}, err
	}
	ts := unix.Timespec{Sec: int64(leUint64(b)), Nsec: int64(leUint64(b[8:]))}
	if ts.Sec < 0 || ts.Nsec < 0 || ts.Nsec >= 1e9 {
		return ts, unix.EINVAL
	}
	return ts, nil
}

// sysNanosleep implements nanosleep(2) (hrtimer_nanosleep, relative on
// CLOCK_MONOTONIC).
func sysNanosleep(t *Task, a *sysArgs) (uint64, error) {
	t.clearRestart()
	ts, err := t.copyInTimespec(a[0])
	if err != nil {
		return 0, err
	}
	return 0, t.nanosleepUntil(time.Now().Add(timespecDuration(ts)), a[1])
}

// timespecDuration converts a validated timespec, saturating.
func timespecDuration(ts unix.Timespec) time.Duration {
	if ts.Sec >= int64(math.MaxInt64/time.Second) {
		return math.MaxInt64
	}
	return time.Duration(ts.Sec)*time.Second + time.Duration(ts.Nsec)
}

// sleepUntil waits until end; it reports false when a signal, a
// job-control stop or a kill interrupted it first.
func (t *Task) sleepUntil(end time.Time) bool {
	d := time.Until(end)
	if d <= 0 {
		return true
	}
	intr, pending := t.waitChan()
	if pending {
		return false
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-intr:
		return false
	}
}

// nanosleepUntil is do_nanosleep for a relative sleep that ends at end:
// interrupted, it writes the time left to rmtp (unless 0; nothing left
// means the sleep is over) and returns ERESTART_RESTARTBLOCK with a restart
// that sleeps to the same end (hrtimer_nanosleep_restart), so a stop and
// continue, or a signal without a handler, costs no extra time.
func (t *Task) nanosleepUntil(end time.Time, rmtp uint64) error {
	if t.sleepUntil(end) {
		return nil
	}
	if rmtp != 0 {
		left := time.Until(end)
		if left <= 0 {
			return nil
		}
		if _, err := t.mm.CopyOut(rmtp, timespecBytes(unix.NsecToTimespec(left.Nanoseconds()))); err != nil {
			return unix.EFAULT
		}
	}
	return t.setRestart(func(t *Task) (uint64, error) {
		return 0, t.nanosleepUntil(end, rmtp)
	})
}

// sysClockNanosleep implements clock_nanosleep(2) (common_nsleep): a
// relative sleep restarts like nanosleep's; an interrupted TIMER_ABSTIME
// sleep returns ERESTARTNOHAND and restarts the call itself, to the same
// absolute time, with rmtp untouched.
func sysClockNanosleep(t *Task, a *sysArgs) (uint64, error) {
	t.clearRestart()
	id, flags := int32(a[0]), a[1]
	if _, err := clockNow(id); err != nil {
		return 0, err
	}
	if id == unix.CLOCK_THREAD_CPUTIME_ID {
		return 0, unix.EINVAL
	}
	ts, err := t.copyInTimespec(a[2])
	if err != nil {
		return 0, err
	}
	if flags&unix.TIMER_ABSTIME == 0 {
		return 0, t.nanosleepUntil(time.Now().Add(timespecDuration(ts)), a[3])
	}
	now, _ := t.clockNow(id)
	d := timespecDuration(ts) - timespecDuration(now)
	if !t.sleepUntil(time.Now().Add(d)) {
		return 0, errRestartNoHand
	}
	return 0, nil
}

// selfUsage is the CPU time the task's process has used: what its address
// space reports (guest code runs there), as rusage.
func (t *Task) selfUsage() rusage {
	if t.mm != nil {
		if ct, ok := t.mm.AddressSpace().(platform.CPUTimer); ok {
			u, s := ct.CPUTime()
			return rusage{utimeNS: u.Nanoseconds(), stimeNS: s.Nanoseconds()}
		}
	}
	return t.tg.usage
}

// sysTimes implements times(2): the result is clock ticks since boot.
func sysTimes(t *Task, a *sysArgs) (uint64, error) {
	if a[0] != 0 {
		self := t.selfUsage()
		t.k.mu.Lock()
		ch := t.tg.childUsage
		t.k.mu.Unlock()
		b := make([]byte, 32)
		for i, ns := range []int64{self.utimeNS, self.stimeNS, ch.utimeNS, ch.stimeNS} {
			putLE64(b[8*i:], uint64(ns/1e7))
		}
		if _, err := t.mm.CopyOut(a[0], b); err != nil {
			return 0, err
		}
	}
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return uint64(ts.Sec*100 + ts.Nsec/1e7), nil
}

// sysGetrusage implements getrusage(2).
func sysGetrusage(t *Task, a *sysArgs) (uint64, error) {
	who := int32(a[0])
	var ru rusage
	switch who {
	case unix.RUSAGE_SELF, unix.RUSAGE_THREAD:
		ru = t.selfUsage()
	case unix.RUSAGE_CHILDREN:
		t.k.mu.Lock()
		ru = t.tg.childUsage
		t.k.mu.Unlock()
	default:
		return 0, unix.EINVAL
	}
	lr := ru.toLinux()
	if who != unix.RUSAGE_CHILDREN && t.mm != nil {
		lr.MaxRSS = int64(t.mm.RSS() / 1024)
	}
	return 0, t.copyOutStruct(a[1], lr)
}
