package sentry

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"kvsentry/vfs"
)

func init() {
	register(unix.SYS_EPOLL_CREATE, "d", Full, "", sysEpollCreate)
	register(unix.SYS_EPOLL_CREATE1, "x", Full, "", sysEpollCreate1)
	register(unix.SYS_EPOLL_CTL, "fdfp", Partial, "EPOLLEXCLUSIVE is accepted but wakes every waiter; EPOLLWAKEUP is ignored", sysEpollCtl)
	register(unix.SYS_EPOLL_WAIT, "fpdi", Full, "", sysEpollWait)
	register(unix.SYS_EPOLL_PWAIT, "fpdipd", Full, "", sysEpollPwait)
	register(unix.SYS_EPOLL_PWAIT2, "fpdppd", Full, "", sysEpollPwait2)
}

// epollEventSize is sizeof(struct epoll_event): packed on x86-64.
const epollEventSize = 12

// epMaxEvents is EP_MAX_EVENTS: INT_MAX / sizeof(struct epoll_event).
const epMaxEvents = 0x7fffffff / epollEventSize

// newFD installs a new file at the lowest free descriptor and drops the
// creation reference.
func (t *Task) newFD(f *vfs.File, cloexec bool) (uint64, error) {
	fd, err := t.fds.Add(f, cloexec, 0)
	f.DecRef()
	if err != nil {
		return 0, err
	}
	return uint64(fd), nil
}

// sysEpollCreate implements epoll_create(2): size must be positive.
func sysEpollCreate(t *Task, a *sysArgs) (uint64, error) {
	if int32(a[0]) <= 0 {
		return 0, unix.EINVAL
	}
	return t.newFD(vfs.NewEpoll(), false)
}

// sysEpollCreate1 implements epoll_create1(2): EPOLL_CLOEXEC is the only flag.
func sysEpollCreate1(t *Task, a *sysArgs) (uint64, error) {
	flags := int32(a[0])
	if flags&^unix.EPOLL_CLOEXEC != 0 {
		return 0, unix.EINVAL
	}
	return t.newFD(vfs.NewEpoll(), flags&unix.EPOLL_CLOEXEC != 0)
}

// sysEpollCtl implements epoll_ctl(2): the event is read for every op but
// EPOLL_CTL_DEL; both fds must be open and not O_PATH (EBADF).
func sysEpollCtl(t *Task, a *sysArgs) (uint64, error) {
	op, fd := int(int32(a[1])), int32(a[2])
	var ev vfs.EpollEvent
	if op != unix.EPOLL_CTL_DEL {
		b := make([]byte, epollEventSize)
		if _, err := t.mm.CopyIn(a[3], b); err != nil {
			return 0, err
		}
		ev = vfs.EpollEvent{Events: binary.LittleEndian.Uint32(b), Data: binary.LittleEndian.Uint64(b[4:])}
	}
	ep := t.fileForPoll(int32(a[0]))
	if ep == nil {
		return 0, unix.EBADF
	}
	defer ep.DecRef()
	target := t.fileForPoll(fd)
	if target == nil {
		return 0, unix.EBADF
	}
	defer target.DecRef()
	defer t.bindPoller()() // ep_insert polls the target as the caller
	return 0, ep.EpollCtl(op, target, fd, ev)
}

// epollWait is do_epoll_wait and ep_poll: it returns ready events at once,
// 0 when the deadline (end; nil: none) passes, EINTR when a signal is
// pending. An end already past makes one non-blocking attempt, which
// returns 0 even with a signal pending, as Linux's does.
func (t *Task) epollWait(epfd int32, addr uint64, maxEvents int32, end *time.Time) (uint64, error) {
	if maxEvents <= 0 || maxEvents > epMaxEvents {
		return 0, unix.EINVAL
	}
	if err := checkRange(addr, uint64(maxEvents)*epollEventSize); err != nil {
		return 0, err
	}
	f := t.fileForPoll(epfd)
	if f == nil {
		return 0, unix.EBADF
	}
	defer f.DecRef()
	if !f.IsEpoll() {
		return 0, unix.EINVAL
	}
	s := newPollWaitSet()
	defer s.release()
	s.add(f, vfs.EventIn)
	pt := pollTimer{end: end}
	defer pt.stop()
	timedOut := pt.expired()
	defer t.bindPoller()() // ep_send_events polls as the waiter
	for {
		evs, err := f.EpollHarvest(int(maxEvents))
		if err != nil {
			return 0, err
		}
		if len(evs) > 0 {
			b := make([]byte, epollEventSize*len(evs))
			for i, e := range evs {
				binary.LittleEndian.PutUint32(b[epollEventSize*i:], e.Events)
				binary.LittleEndian.PutUint64(b[epollEventSize*i+4:], e.Data)
			}
			if _, err := t.mm.CopyOut(addr, b); err != nil {
				return 0, err
			}
			return uint64(len(evs)), nil
		}
		if timedOut {
			return 0, nil
		}
		intr, pending := t.waitChan()
		if pending {
			return 0, unix.EINTR
		}
		select {
		case <-s.ch:
		case <-intr:
		case <-pt.c():
			timedOut = true
		}
	}
}

// epollDeadline converts epoll_wait's millisecond timeout (negative:
// forever) to a deadline (ep_timeout_to_timespec).
func epollDeadline(ms int32) *time.Time {
	if ms < 0 {
		return nil
	}
	return deadlineAfter(int64(ms/1000), int64(ms%1000)*int64(time.Millisecond))
}

// sysEpollWait implements epoll_wait(2).
func sysEpollWait(t *Task, a *sysArgs) (uint64, error) {
	return t.epollWait(int32(a[0]), a[1], int32(a[2]), epollDeadline(int32(a[3])))
}

// epollPwait is do_epoll_pwait: the signal mask applies during the wait
// and stays until the handler runs when a signal interrupted it.
func (t *Task) epollPwait(a *sysArgs, end *time.Time) (uint64, error) {
	if err := t.setWaitMask(a[4], a[5]); err != nil {
		return 0, err
	}
	n, err := t.epollWait(int32(a[0]), a[1], int32(a[2]), end)
	t.finishWaitMask(err == unix.EINTR)
	return n, err
}

// sysEpollPwait implements epoll_pwait(2).
func sysEpollPwait(t *Task, a *sysArgs) (uint64, error) {
	return t.epollPwait(a, epollDeadline(int32(a[3])))
}

// sysEpollPwait2 implements epoll_pwait2(2): the timeout is a timespec
// pointer (NULL: forever).
func sysEpollPwait2(t *Task, a *sysArgs) (uint64, error) {
	var end *time.Time
	if a[3] != 0 {
		var err error
		if end, _, err = t.timeoutFromTimespec(a[3]); err != nil {
			return 0, err
		}
	}
	return t.epollPwait(a, end)
}
