package sentry

import (
	"time"

	"golang.org/x/sys/unix"
)

func init() {
	register(unix.SYS_POLL, "pdd", Partial, "pipes, files and inherited host files; sockets come later", sysPoll)
	register(unix.SYS_PPOLL, "pdppd", Partial, "as poll; the signal mask argument is applied for the call's duration only in bookkeeping", sysPpoll)
}

// pollfd is one struct pollfd.
type pollfd struct {
	fd      int32
	events  int16
	revents int16
}

// pollOnce fills revents for every entry and returns how many are ready,
// plus the channels that signal the next change of a not-ready entry.
func (t *Task) pollOnce(pfds []pollfd) (int, []<-chan struct{}) {
	ready := 0
	var chans []<-chan struct{}
	for i := range pfds {
		p := &pfds[i]
		p.revents = 0
		if p.fd < 0 {
			continue
		}
		f, _, err := t.fds.Get(p.fd)
		if err != nil {
			p.revents = unix.POLLNVAL
			ready++
			continue
		}
		r, w := f.Readiness()
		ch := f.ReadyChan()
		hostfd, isHost := f.HostFD()
		f.DecRef()
		if isHost {
			// Ask the host about an inherited descriptor without blocking.
			hp := []unix.PollFd{{Fd: int32(hostfd), Events: p.events}}
			if n, _ := unix.Poll(hp, 0); n > 0 {
				p.revents = hp[0].Revents
				ready++
			}
			continue
		}
		if r && p.events&(unix.POLLIN|pollRdnorm) != 0 {
			p.revents |= p.events & (unix.POLLIN | pollRdnorm)
		}
		if w && p.events&(unix.POLLOUT|pollWrnorm) != 0 {
			p.revents |= p.events & (unix.POLLOUT | pollWrnorm)
		}
		if p.revents != 0 {
			ready++
		} else if ch != nil {
			chans = append(chans, ch)
		}
	}
	return ready, chans
}

// poll waits until an entry is ready, the timeout passes (nil: forever) or
// the task is killed.
func (t *Task) poll(addr uint64, nfds uint64, timeout *time.Duration) (uint64, error) {
	if nfds > 1<<20 {
		return 0, unix.EINVAL
	}
	b := make([]byte, 8*nfds)
	if _, err := t.mm.CopyIn(addr, b); err != nil {
		return 0, err
	}
	pfds := make([]pollfd, nfds)
	for i := range pfds {
		pfds[i] = pollfd{fd: int32(leUint32(b[8*i:])), events: int16(uint16(b[8*i+4]) | uint16(b[8*i+5])<<8)}
	}
	var deadline <-chan time.Time
	if timeout != nil {
		tm := time.NewTimer(*timeout)
		defer tm.Stop()
		deadline = tm.C
	}
	for {
		n, chans := t.pollOnce(pfds)
		if n > 0 || (timeout != nil && *timeout <= 0) {
			for i, p := range pfds {
				b[8*i+6], b[8*i+7] = byte(p.revents), byte(uint16(p.revents)>>8)
			}
			if _, err := t.mm.CopyOut(addr, b); err != nil {
				return 0, err
			}
			return uint64(n), nil
		}
		// Wait for a change on any entry; host descriptors are re-polled
		// every few milliseconds.
		tick := time.NewTimer(10 * time.Millisecond)
		wake := make(chan struct{}, 1)
		stop := make(chan struct{})
		for _, ch := range chans {
			go func(c <-chan struct{}) {
				select {
				case <-c:
					select {
					case wake <- struct{}{}:
					default:
					}
				case <-stop:
				}
			}(ch)
		}
		select {
		case <-wake:
		case <-tick.C:
		case <-deadline:
			zero := time.Duration(0)
			timeout = &zero
		case <-t.intr:
			close(stop)
			tick.Stop()
			return 0, errRestartNoHand
		}
		close(stop)
		tick.Stop()
	}
}

// sysPoll implements poll(2).
func sysPoll(t *Task, a *sysArgs) (uint64, error) {
	ms := int32(a[2])
	var to *time.Duration
	if ms >= 0 {
		d := time.Duration(ms) * time.Millisecond
		to = &d
	}
	return t.poll(a[0], a[1], to)
}

// sysPpoll implements ppoll(2).
func sysPpoll(t *Task, a *sysArgs) (uint64, error) {
	var to *time.Duration
	if a[2] != 0 {
		ts, err := t.copyInTimespec(a[2])
		if err != nil {
			return 0, err
		}
		d := time.Duration(ts.Sec)*time.Second + time.Duration(ts.Nsec)
		to = &d
	}
	return t.poll(a[0], a[1], to)
}

// Poll bits missing from x/sys/unix (include/uapi/asm-generic/poll.h).
const (
	pollRdnorm = 0x40
	pollWrnorm = 0x100
)
