package sentry

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"kvsentry/kernel/signal"
)

// intervalTimer is a timer that sends a signal when it expires: the
// process's ITIMER_REAL (alarm, setitimer) or a POSIX timer (timer_create).
// Expirations missed while the previous signal is still pending are counted
// as overruns (kernel/time/posix-timers.c).
type intervalTimer struct {
	k *Kernel
	// tg receives process-directed signals; thread (SIGEV_THREAD_ID) gets
	// thread-directed ones.
	tg     *ThreadGroup
	thread *Task
	// notify is false for SIGEV_NONE.
	notify bool
	info   signal.Info
	// clock is the POSIX timer's clock (timer_create's clockid).
	clock int32

	mu       sync.Mutex
	t        *time.Timer
	deadline time.Time // zero when disarmed
	interval time.Duration
	overrun  int32
	// lastOverrun is what timer_getoverrun reports (the overrun count of
	// the last delivered expiry).
	lastOverrun int32
	// pending is set while the timer's signal is queued and undelivered.
	pending bool
	gen     uint64
}

// set arms the timer to fire at deadline (zero: disarm) and then every
// interval; it returns the previous remaining time and interval.
func (it *intervalTimer) set(deadline time.Time, interval time.Duration) (time.Duration, time.Duration) {
	it.mu.Lock()
	defer it.mu.Unlock()
	oldLeft, oldInt := it.remainingLocked(), it.interval
	if it.t != nil {
		it.t.Stop()
		it.t = nil
	}
	it.gen++
	it.deadline, it.interval, it.overrun = deadline, interval, 0
	if !deadline.IsZero() {
		gen := it.gen
		it.t = time.AfterFunc(time.Until(deadline), func() { it.fire(gen) })
	}
	return oldLeft, oldInt
}

// remainingLocked is the time until the next expiry (0 when disarmed).
func (it *intervalTimer) remainingLocked() time.Duration {
	if it.deadline.IsZero() {
		return 0
	}
	left := time.Until(it.deadline)
	if left <= 0 {
		left = time.Nanosecond
	}
	return left
}

// get returns the remaining time and the interval (timer_gettime, getitimer).
func (it *intervalTimer) get() (time.Duration, time.Duration) {
	it.mu.Lock()
	defer it.mu.Unlock()
	return it.remainingLocked(), it.interval
}

// fire runs when the timer expires: it queues the signal (or counts an
// overrun) and re-arms an interval timer.
func (it *intervalTimer) fire(gen uint64) {
	it.mu.Lock()
	if gen != it.gen {
		it.mu.Unlock()
		return
	}
	send := false
	posix := it.info.Code == signal.SITimer
	if it.notify {
		if posix && it.pending {
			it.overrun++
		} else {
			it.pending = posix
			send = true
		}
	}
	if it.interval > 0 {
		next := it.deadline.Add(it.interval)
		now := time.Now()
		for !next.After(now) {
			next = next.Add(it.interval)
			if it.notify && it.pending && !send {
				it.overrun++
			}
		}
		it.deadline = next
		it.t = time.AfterFunc(time.Until(next), func() { it.fire(gen) })
	} else {
		it.deadline = time.Time{}
	}
	info := it.info
	it.mu.Unlock()
	if !send {
		return
	}
	k := it.k
	k.mu.Lock()
	defer k.mu.Unlock()
	info.Overrun = 0
	if it.thread != nil {
		if _, live := k.tasks[it.thread.tid]; live {
			k.sendThreadSignalLocked(it.thread, info)
		}
	} else {
		k.sendSignalLocked(it.tg, info)
	}
	if posix {
		// A signal discarded on the way (ignored, process gone) is not
		// pending: the next expiry sends again.
		it.tg.sigMu.Lock()
		queued := it.tg.pending.Has(int(info.Signo))
		if it.thread != nil {
			queued = queued || it.thread.pending.Has(int(info.Signo))
		}
		it.tg.sigMu.Unlock()
		if !queued {
			it.mu.Lock()
			it.pending = false
			it.mu.Unlock()
		}
	}
}

// delivered is called when the timer's signal is dequeued: it reports the
// overrun count to the siginfo and lets the next expiry queue a signal.
func (it *intervalTimer) delivered() int32 {
	it.mu.Lock()
	defer it.mu.Unlock()
	it.pending = false
	it.lastOverrun, it.overrun = it.overrun, 0
	return it.lastOverrun
}

// stop disarms the timer for good.
func (it *intervalTimer) stop() {
	it.mu.Lock()
	defer it.mu.Unlock()
	it.gen++
	if it.t != nil {
		it.t.Stop()
		it.t = nil
	}
	it.deadline = time.Time{}
}

// durationOf converts a Timespec to a Duration.
func durationOf(ts unix.Timespec) time.Duration {
	return time.Duration(ts.Sec)*time.Second + time.Duration(ts.Nsec)
}

// clockID is the clock an absolute expiry time is read against.
func (it *intervalTimer) clockID() int32 {
	switch it.clock {
	case unix.CLOCK_REALTIME, unix.CLOCK_REALTIME_ALARM, unix.CLOCK_TAI:
		return unix.CLOCK_REALTIME
	}
	return unix.CLOCK_MONOTONIC
}
