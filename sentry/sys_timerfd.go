package sentry

import (
	"encoding/binary"
	"math"

	"golang.org/x/sys/unix"

	"kvsentry/vfs"
)

func init() {
	register(unix.SYS_TIMERFD_CREATE, "dx", Partial, "the _ALARM clocks behave as their plain clocks (no wake from suspend)", sysTimerfdCreate)
	register(unix.SYS_TIMERFD_SETTIME, "fxpp", Partial, "TFD_TIMER_CANCEL_ON_SET is accepted; the sandbox's clock is never set, so reads never fail with ECANCELED", sysTimerfdSettime)
	register(unix.SYS_TIMERFD_GETTIME, "fp", Full, "", sysTimerfdGettime)
}

// timerfd flags (include/uapi/linux/timerfd.h).
const (
	tfdCloexec       = unix.O_CLOEXEC
	tfdNonblock      = unix.O_NONBLOCK
	tfdTimerAbstime  = 1
	tfdTimerCancelOn = 2
)

// sysTimerfdCreate implements timerfd_create(2).
func sysTimerfdCreate(t *Task, a *sysArgs) (uint64, error) {
	clock, flags := int32(a[0]), int32(a[1])
	if flags&^(tfdCloexec|tfdNonblock) != 0 || !vfs.TimerClockValid(clock) {
		return 0, unix.EINVAL
	}
	return t.newFD(vfs.NewTimerFD(clock, flags&tfdNonblock != 0), flags&tfdCloexec != 0)
}

// timerFile returns the timerfd open at fd (timerfd_fget): EBADF if fd is
// not open, EINVAL if it is not a timerfd.
func (t *Task) timerFile(fd int32) (*vfs.File, error) {
	f := t.fileForPoll(fd)
	if f == nil {
		return nil, unix.EBADF
	}
	if !f.IsTimerFD() {
		f.DecRef()
		return nil, unix.EINVAL
	}
	return f, nil
}

// tsNanos converts a valid timespec to nanoseconds, saturating as
// timespec64_to_ktime does.
func tsNanos(sec, nsec int64) int64 {
	if sec >= math.MaxInt64/int64(1e9) {
		return math.MaxInt64
	}
	return sec*1e9 + nsec
}

// copyOutItimerspec writes a struct itimerspec (interval, then value).
func (t *Task) copyOutItimerspec(addr uint64, value, interval int64) error {
	b := make([]byte, 32)
	binary.LittleEndian.PutUint64(b, uint64(interval/1e9))
	binary.LittleEndian.PutUint64(b[8:], uint64(interval%1e9))
	binary.LittleEndian.PutUint64(b[16:], uint64(value/1e9))
	binary.LittleEndian.PutUint64(b[24:], uint64(value%1e9))
	_, err := t.mm.CopyOut(addr, b)
	return err
}

// sysTimerfdSettime implements timerfd_settime(2).
func sysTimerfdSettime(t *Task, a *sysArgs) (uint64, error) {
	fd, flags := int32(a[0]), int32(a[1])
	b := make([]byte, 32)
	if _, err := t.mm.CopyIn(a[2], b); err != nil {
		return 0, err
	}
	var v [4]int64
	for i := range v {
		v[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
	}
	for i := 0; i < 4; i += 2 {
		if v[i] < 0 || v[i+1] < 0 || v[i+1] >= 1e9 {
			return 0, unix.EINVAL
		}
	}
	if flags&^(tfdTimerAbstime|tfdTimerCancelOn) != 0 {
		return 0, unix.EINVAL
	}
	f, err := t.timerFile(fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	oldValue, oldInterval, err := f.TimerSetTime(tsNanos(v[2], v[3]), tsNanos(v[0], v[1]), flags&tfdTimerAbstime != 0)
	if err != nil {
		return 0, err
	}
	if a[3] != 0 {
		return 0, t.copyOutItimerspec(a[3], oldValue, oldInterval)
	}
	return 0, nil
}

// sysTimerfdGettime implements timerfd_gettime(2).
func sysTimerfdGettime(t *Task, a *sysArgs) (uint64, error) {
	f, err := t.timerFile(int32(a[0]))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	value, interval, err := f.TimerGetTime()
	if err != nil {
		return 0, err
	}
	return 0, t.copyOutItimerspec(a[1], value, interval)
}
