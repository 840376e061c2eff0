package sentry

import (
	"encoding/binary"
	"math"
	"time"

	"golang.org/x/sys/unix"

	"kvsentry/kernel/signal"
	"kvsentry/vfs"
)

func init() {
	register(unix.SYS_POLL, "pdi", Full, "", sysPoll)
	register(unix.SYS_PPOLL, "pdppd", Full, "", sysPpoll)
}

// pollWaitSet is the waiters one poll, select or epoll_wait call registers
// on the files it watches, all waking one channel (struct poll_wqueues).
type pollWaitSet struct {
	ch   chan struct{}
	regs []pollReg
}

// pollReg is one registration of a pollWaitSet.
type pollReg struct {
	f *vfs.File
	w *vfs.Waiter
}

// newPollWaitSet returns an empty set.
func newPollWaitSet() *pollWaitSet { return &pollWaitSet{ch: make(chan struct{}, 1)} }

// add registers for the events in mask of f (poll_wait).
func (s *pollWaitSet) add(f *vfs.File, mask uint32) {
	w := vfs.NewChanWaiter(mask, s.ch)
	f.EventRegister(w)
	s.regs = append(s.regs, pollReg{f, w})
}

// release unregisters every waiter (poll_freewait).
func (s *pollWaitSet) release() {
	for _, r := range s.regs {
		r.f.EventUnregister(r.w)
	}
	s.regs = nil
}

// waitChan returns the channel that closes when the task must stop
// waiting, or pending when a signal is deliverable, a job-control stop is
// in effect or the task is killed already (signal_pending: a stop keeps
// TIF_SIGPENDING set until the task has stopped).
func (t *Task) waitChan() (ch <-chan struct{}, pending bool) {
	k := t.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if t.killed || t.tg.stopped || t.deliverableLocked() {
		t.sigPending.Store(true)
		return nil, true
	}
	t.rearmLocked()
	return t.intr, false
}

// pollTimer turns an optional deadline into a timer channel, started on
// first use.
type pollTimer struct {
	end   *time.Time
	timer *time.Timer
}

// expired reports whether the deadline has passed.
func (p *pollTimer) expired() bool { return p.end != nil && !time.Now().Before(*p.end) }

// c returns the channel firing at the deadline (nil: never).
func (p *pollTimer) c() <-chan time.Time {
	if p.end == nil {
		return nil
	}
	if p.timer == nil {
		p.timer = time.NewTimer(time.Until(*p.end))
	}
	return p.timer.C
}

// stop releases the timer.
func (p *pollTimer) stop() {
	if p.timer != nil {
		p.timer.Stop()
	}
}

// pollLoop is the loop of do_poll and do_select: scan (registering waiters
// on its first run) until it counts ready entries, a signal is pending
// (ERESTARTNOHAND; ready entries win over signals) or the deadline passes
// (0). end nil waits forever; an end in the past polls once.
func (t *Task) pollLoop(s *pollWaitSet, end *time.Time, scan func(register bool) int) (int, error) {
	defer t.bindPoller()()
	pt := pollTimer{end: end}
	defer pt.stop()
	timedOut := pt.expired()
	for register := true; ; register = false {
		if n := scan(register); n > 0 {
			return n, nil
		}
		intr, pending := t.waitChan()
		if pending {
			return 0, errRestartNoHand
		}
		if timedOut {
			return 0, nil
		}
		select {
		case <-s.ch:
		case <-intr:
		case <-pt.c():
			timedOut = true
		}
	}
}

// deadlineAfter is now + d, or nil (wait forever) when that is beyond any
// representable time (timespec64_add_safe saturates the same way).
func deadlineAfter(sec, nsec int64) *time.Time {
	if sec > math.MaxInt64/int64(time.Second)-1 {
		return nil
	}
	end := time.Now().Add(time.Duration(sec)*time.Second + time.Duration(nsec))
	return &end
}

// timeoutFromTimespec reads a struct timespec timeout (poll_select_set_timeout):
// EINVAL unless 0 <= tv_nsec < 1e9 and tv_sec >= 0; zero means poll once.
func (t *Task) timeoutFromTimespec(addr uint64) (*time.Time, bool, error) {
	ts, err := t.copyInTimespec(addr)
	if err != nil {
		return nil, false, err
	}
	zero := ts.Sec == 0 && ts.Nsec == 0
	if zero {
		now := time.Now()
		return &now, true, nil
	}
	return deadlineAfter(ts.Sec, ts.Nsec), false, nil
}

// remaining is the time left to end, never negative.
func remaining(end *time.Time) time.Duration {
	if end == nil {
		return 0
	}
	return max(0, time.Until(*end))
}

// putTimeLeft writes the time left back to a timespec (ppoll, pselect6)
// or a timeval (select) at addr, unless the timeout was zero or absent
// (poll_select_finish). If that write faults an interrupted call cannot
// restart, so ERESTARTNOHAND becomes EINTR.
func (t *Task) putTimeLeft(addr uint64, end *time.Time, zero, timeval bool, err error) error {
	if addr == 0 || end == nil || zero {
		return err
	}
	d := remaining(end)
	b := make([]byte, 16)
	binary.LittleEndian.PutUint64(b, uint64(d/time.Second))
	frac := uint64(d % time.Second)
	if timeval {
		frac /= 1000
	}
	binary.LittleEndian.PutUint64(b[8:], frac)
	if _, cerr := t.mm.CopyOut(addr, b); cerr != nil && err == errRestartNoHand {
		return unix.EINTR
	}
	return err
}

// setWaitMask installs the signal mask a ppoll, pselect6 or epoll_pwait
// caller passed for the duration of its wait (set_user_sigmask): EINVAL
// unless size is 8, EFAULT for a bad pointer, nothing when addr is 0.
func (t *Task) setWaitMask(addr, size uint64) error {
	if addr == 0 {
		return nil
	}
	if size != 8 {
		return unix.EINVAL
	}
	v, err := t.copyInUint64(addr)
	if err != nil {
		return err
	}
	t.savedMask, t.hasSavedMask = t.sigMask, true
	t.setMask(signal.Set(v))
	return nil
}

// finishWaitMask puts the old mask back unless the wait was interrupted;
// then it stays until the signal's handler frame is built, which records
// the old one (restore_saved_sigmask_unless).
func (t *Task) finishWaitMask(interrupted bool) {
	if !t.hasSavedMask || interrupted {
		return
	}
	m := t.savedMask
	t.hasSavedMask = false
	t.setMask(m)
}

// pollfd is one struct pollfd.
type pollfd struct {
	fd      int32
	events  int16
	revents int16
}

// fileForPoll returns the file open at fd with a reference, or nil when fd
// names nothing poll can use (closed, or O_PATH: fdget refuses it).
func (t *Task) fileForPoll(fd int32) *vfs.File {
	f, _, err := t.fds.Get(fd)
	if err != nil {
		return nil
	}
	if f.Flags()&unix.O_PATH != 0 {
		f.DecRef()
		return nil
	}
	return f
}

// nofileLimit is RLIMIT_NOFILE's soft value.
func (t *Task) nofileLimit() uint64 {
	t.tg.sigMu.Lock()
	defer t.tg.sigMu.Unlock()
	return t.tg.rlimits[unix.RLIMIT_NOFILE].Cur
}

// poll is do_sys_poll: EINVAL when nfds passes RLIMIT_NOFILE; each entry's
// revents is its file's readiness masked by events|POLLERR|POLLHUP,
// POLLNVAL for a bad fd, 0 for a negative one.
func (t *Task) poll(addr, nfds uint64, end *time.Time) (uint64, error) {
	if nfds > t.nofileLimit() {
		return 0, unix.EINVAL
	}
	b := make([]byte, 8*nfds)
	if _, err := t.mm.CopyIn(addr, b); err != nil {
		return 0, err
	}
	pfds := make([]pollfd, nfds)
	files := make([]*vfs.File, nfds)
	for i := range pfds {
		pfds[i] = pollfd{fd: int32(leUint32(b[8*i:])), events: int16(binary.LittleEndian.Uint16(b[8*i+4:]))}
		if pfds[i].fd >= 0 {
			files[i] = t.fileForPoll(pfds[i].fd)
		}
	}
	defer func() {
		for _, f := range files {
			if f != nil {
				f.DecRef()
			}
		}
	}()
	s := newPollWaitSet()
	defer s.release()
	n, err := t.pollLoop(s, end, func(register bool) int {
		ready := 0
		for i := range pfds {
			p := &pfds[i]
			p.revents = 0
			if p.fd < 0 {
				continue
			}
			f := files[i]
			if f == nil {
				p.revents = int16(vfs.EventNval)
				ready++
				continue
			}
			mask := uint32(uint16(p.events)) | vfs.EventErr | vfs.EventHup
			if register {
				s.add(f, mask)
			}
			if r := f.Poll() & mask; r != 0 {
				p.revents = int16(uint16(r))
				ready++
			}
		}
		return ready
	})
	if err != nil {
		return 0, err
	}
	for i, p := range pfds {
		binary.LittleEndian.PutUint16(b[8*i+6:], uint16(p.revents))
	}
	if _, err := t.mm.CopyOut(addr, b); err != nil {
		return 0, err
	}
	return uint64(n), nil
}

// sysPoll implements poll(2); a negative timeout waits forever.
func sysPoll(t *Task, a *sysArgs) (uint64, error) {
	ms := int64(int32(a[2]))
	var end *time.Time
	if ms >= 0 {
		end = deadlineAfter(ms/1000, ms%1000*int64(time.Millisecond))
	}
	return t.pollRestartable(a[0], a[1], end)
}

// pollRestartable is poll(2)'s wait: interrupted, it returns
// ERESTART_RESTARTBLOCK with a restart that polls the same entries to the
// same deadline (do_restart_poll), so a restart waits only for the time
// left; with a handler the call fails with EINTR.
func (t *Task) pollRestartable(ufds, nfds uint64, end *time.Time) (uint64, error) {
	n, err := t.poll(ufds, nfds, end)
	if err == errRestartNoHand {
		return 0, t.setRestart(func(t *Task) (uint64, error) {
			return t.pollRestartable(ufds, nfds, end)
		})
	}
	return n, err
}

// sysPpoll implements ppoll(2): the timeout is a timespec (written back
// with the time left) and the signal mask applies during the wait.
func sysPpoll(t *Task, a *sysArgs) (uint64, error) {
	var end *time.Time
	var zero bool
	if a[2] != 0 {
		var err error
		if end, zero, err = t.timeoutFromTimespec(a[2]); err != nil {
			return 0, err
		}
	}
	if err := t.setWaitMask(a[3], a[4]); err != nil {
		return 0, err
	}
	n, err := t.poll(a[0], a[1], end)
	t.finishWaitMask(err == errRestartNoHand)
	return n, t.putTimeLeft(a[2], end, zero, false, err)
}
