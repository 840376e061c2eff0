package vfs

import (
	"encoding/binary"
	"math"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// timerFD is a timerfd's timer (fs/timerfd.c struct timerfd_ctx). Times are
// nanoseconds on the timer's clock. As in Linux, an expiry wakes the
// waiters once; later periods of an interval timer are counted when the
// timer is next read (or its time asked), not by waking up every period.
type timerFD struct {
	clock int32 // host clock read for "now"
	mu    sync.Mutex
	q     waitQueue
	// next is the armed expiry (0: disarmed); interval the period.
	next, interval int64
	// ticks counts expirations not yet read; expired says the timer fired
	// and, if periodic, has not been moved to its next period yet.
	ticks   uint64
	expired bool
	timer   *time.Timer
	// gen invalidates the callbacks of replaced Go timers.
	gen uint64
}

// TimerClockValid reports whether timerfd_create accepts the clock:
// CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME and their _ALARM forms.
func TimerClockValid(clock int32) bool {
	switch clock {
	case unix.CLOCK_REALTIME, unix.CLOCK_MONOTONIC, unix.CLOCK_BOOTTIME,
		unix.CLOCK_REALTIME_ALARM, unix.CLOCK_BOOTTIME_ALARM:
		return true
	}
	return false
}

// NewTimerFD makes a disarmed timerfd on clock (timerfd_create(2)); the
// caller checks the clock with TimerClockValid.
func NewTimerFD(clock int32, nonblock bool) *File {
	switch clock {
	case unix.CLOCK_REALTIME_ALARM:
		clock = unix.CLOCK_REALTIME
	case unix.CLOCK_BOOTTIME_ALARM:
		clock = unix.CLOCK_BOOTTIME
	}
	f := anonFile(fkTimerFD, nonblock)
	f.tfd = &timerFD{clock: clock}
	return f
}

// now reads the timer's clock.
func (t *timerFD) now() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(t.clock, &ts); err != nil {
		return time.Now().UnixNano()
	}
	return ts.Nano()
}

// scheduleLocked (re)starts the Go timer for t.next, replacing any other.
func (t *timerFD) scheduleLocked(now int64) {
	t.stopLocked()
	if t.next == 0 {
		return
	}
	gen := t.gen
	t.timer = time.AfterFunc(time.Duration(t.next-now), func() { t.fire(gen) })
}

// stopLocked cancels the Go timer.
func (t *timerFD) stopLocked() {
	t.gen++
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
}

// fire is the Go timer's callback (timerfd_tmrproc).
func (t *timerFD) fire(gen uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if gen != t.gen || t.next == 0 || t.expired {
		return
	}
	now := t.now()
	if now < t.next {
		// The Go timer runs on the monotonic clock; the timer's own clock
		// has not reached the expiry yet.
		t.scheduleLocked(now)
		return
	}
	t.expireLocked()
}

// expireLocked records one expiration and wakes the readers
// (timerfd_triggered).
func (t *timerFD) expireLocked() {
	t.ticks++
	t.expired = true
	if t.interval == 0 {
		t.next = 0
	}
	t.q.notify(EventIn | EventRdNorm)
}

// catchUpLocked expires a timer whose time has come even if its Go timer
// has not run yet, so readiness follows the clock exactly.
func (t *timerFD) catchUpLocked(now int64) {
	if t.next != 0 && !t.expired && now >= t.next {
		t.expireLocked()
	}
}

// forwardLocked moves an expired periodic timer past now and returns how
// many periods that took, the one that fired included (hrtimer_forward_now).
func (t *timerFD) forwardLocked(now int64) uint64 {
	if now < t.next {
		return 0
	}
	n := (now-t.next)/t.interval + 1
	if n > (math.MaxInt64-t.next)/t.interval {
		t.next = math.MaxInt64
	} else {
		t.next += n * t.interval
	}
	return uint64(n)
}

// rearmLocked moves an expired periodic timer to its next period, counting
// the periods it missed, and restarts it.
func (t *timerFD) rearmLocked(now int64) {
	if t.expired && t.interval > 0 {
		t.ticks += t.forwardLocked(now) - 1
		t.expired = false
		t.scheduleLocked(now)
	}
}

// poll is timerfd_poll: readable once an expiration is unread.
func (t *timerFD) poll() uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.catchUpLocked(t.now())
	if t.ticks > 0 {
		return EventIn | EventRdNorm
	}
	return 0
}

// read is timerfd_read: EINVAL below 8 bytes, else the number of
// expirations as a u64; EAGAIN or a wait when there is none.
func (t *timerFD) read(dst []byte, nonblock bool, cancel <-chan struct{}) (int, error) {
	if len(dst) < 8 {
		return 0, unix.EINVAL
	}
	var ch chan struct{}
	for {
		t.mu.Lock()
		now := t.now()
		t.catchUpLocked(now)
		if t.ticks > 0 {
			t.rearmLocked(now)
			binary.NativeEndian.PutUint64(dst, t.ticks)
			t.ticks = 0
			t.expired = false
			t.mu.Unlock()
			return 8, nil
		}
		if nonblock {
			t.mu.Unlock()
			return 0, unix.EAGAIN
		}
		if ch == nil {
			ch = make(chan struct{}, 1)
			w := NewChanWaiter(EventIn, ch)
			t.q.add(w)
			defer t.q.remove(w)
			t.mu.Unlock()
			continue
		}
		t.mu.Unlock()
		if err := wait(ch, cancel); err != nil {
			return 0, err
		}
	}
}

// remainingLocked is the time left to the next expiry (0 if disarmed or
// due) and the period (timerfd_get_remaining).
func (t *timerFD) remainingLocked(now int64) (value, interval int64) {
	if t.next != 0 && t.next > now {
		value = t.next - now
	}
	return value, t.interval
}

// release stops the timer when the file goes away.
func (t *timerFD) release() {
	t.mu.Lock()
	t.stopLocked()
	t.next = 0
	t.mu.Unlock()
}

// IsTimerFD reports whether f is a timerfd.
func (f *File) IsTimerFD() bool { return f.kind == fkTimerFD }

// TimerGetTime returns the time to the next expiry and the period, in
// nanoseconds (timerfd_gettime(2)); EINVAL if f is not a timerfd.
func (f *File) TimerGetTime() (value, interval int64, err error) {
	if f.kind != fkTimerFD {
		return 0, 0, unix.EINVAL
	}
	t := f.tfd
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.catchUpLocked(now)
	t.rearmLocked(now)
	value, interval = t.remainingLocked(now)
	return value, interval, nil
}

// TimerSetTime arms the timer to expire after value nanoseconds (at value
// on its clock when abs, TFD_TIMER_ABSTIME) and then every interval, or
// disarms it when value is 0; unread expirations are dropped. It returns the
// previous setting as TimerGetTime would (timerfd_settime(2)).
func (f *File) TimerSetTime(value, interval int64, abs bool) (oldValue, oldInterval int64, err error) {
	if f.kind != fkTimerFD {
		return 0, 0, unix.EINVAL
	}
	t := f.tfd
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.catchUpLocked(now)
	if t.expired && t.interval > 0 {
		t.forwardLocked(now)
	}
	oldValue, oldInterval = t.remainingLocked(now)
	t.stopLocked()
	t.ticks, t.expired, t.interval, t.next = 0, false, interval, 0
	if value == 0 {
		return oldValue, oldInterval, nil
	}
	switch {
	case abs:
		t.next = value
	case value > math.MaxInt64-now:
		t.next = math.MaxInt64
	default:
		t.next = now + value
	}
	if t.next <= now {
		t.expireLocked()
	} else {
		t.scheduleLocked(now)
	}
	return oldValue, oldInterval, nil
}
