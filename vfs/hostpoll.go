package vfs

import (
	"sync"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// hostPoller turns readiness changes of host fds (the inherited stdio, the
// sentry's host sockets) into notifications: one host epoll instance,
// edge-triggered, and one goroutine blocked in epoll_wait on it. Edge
// triggering means a host fd that stays writable costs nothing after its
// first event.
type hostPoller struct {
	once    sync.Once
	epfd    int
	mu      sync.Mutex
	watches map[int32]func(events uint32)
}

// hostPoll is the sentry's single host poller, started on first use.
var hostPoll hostPoller

// start creates the host epoll instance and its goroutine.
func (hp *hostPoller) start() {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		logrus.Errorf("vfs: host epoll_create1: %v; host files will not notify", err)
		hp.epfd = -1
		return
	}
	hp.epfd = fd
	hp.watches = map[int32]func(uint32){}
	go hp.run()
}

// run forwards host events to the watches' queues.
func (hp *hostPoller) run() {
	evs := make([]unix.EpollEvent, 16)
	for {
		n, err := unix.EpollWait(hp.epfd, evs, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			logrus.Errorf("vfs: host epoll_wait: %v", err)
			return
		}
		for _, ev := range evs[:n] {
			hp.mu.Lock()
			fn := hp.watches[ev.Fd]
			hp.mu.Unlock()
			if fn != nil {
				fn(ev.Events)
			}
		}
	}
}

// WatchHostFD registers a host fd with the sentry's host poller: notify
// runs, on the poller's goroutine, with the host's events at every readiness
// change of fd (edge-triggered). It fails with EPERM for fds the host cannot
// poll (regular files, /dev/null: always ready). Call UnwatchHostFD before
// closing fd.
func WatchHostFD(fd int, notify func(events uint32)) error {
	hp := &hostPoll
	hp.once.Do(hp.start)
	if hp.epfd < 0 {
		return unix.ENOMEM
	}
	hp.mu.Lock()
	defer hp.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLPRI | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(fd)}
	if err := unix.EpollCtl(hp.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return err
	}
	hp.watches[int32(fd)] = notify
	return nil
}

// UnwatchHostFD stops watching fd.
func UnwatchHostFD(fd int) {
	hp := &hostPoll
	hp.mu.Lock()
	defer hp.mu.Unlock()
	if hp.epfd > 0 {
		unix.EpollCtl(hp.epfd, unix.EPOLL_CTL_DEL, fd, nil)
	}
	delete(hp.watches, int32(fd))
}

// add registers w's fd; it reports false when the host cannot poll it.
func (hp *hostPoller) add(w *hostWatch) bool {
	if err := WatchHostFD(w.fd, w.q.notify); err != nil {
		if err != unix.EPERM {
			logrus.Warnf("vfs: host epoll_ctl(ADD, %d): %v", w.fd, err)
		}
		return false
	}
	return true
}

// remove unregisters w's fd before it is closed.
func (hp *hostPoller) remove(w *hostWatch) { UnwatchHostFD(w.fd) }

// Host watch registration states.
const (
	hwUnknown  = iota // not asked yet
	hwWatched         // in the host epoll set
	hwNoNotify        // the host cannot poll it: always ready
)

// hostWatch is the readiness side of one host file.
type hostWatch struct {
	fd    int
	mu    sync.Mutex
	state int
	q     waitQueue
}

// queue registers the fd with the host poller on first use and returns the
// queue its events go to, or nil if the host cannot poll the fd.
func (w *hostWatch) queue() *waitQueue {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state == hwUnknown {
		w.state = hwNoNotify
		if hostPoll.add(w) {
			w.state = hwWatched
		}
	}
	if w.state == hwWatched {
		return &w.q
	}
	return nil
}

// hostPollEvents are the events asked of the host's poll(2).
const hostPollEvents = EventIn | EventPri | EventOut | EventRdNorm | EventRdBand | EventWrNorm | EventWrBand | EventRdHup

// poll asks the host for the fd's current readiness.
func (w *hostWatch) poll() uint32 {
	pfd := []unix.PollFd{{Fd: int32(w.fd), Events: int16(hostPollEvents)}}
	for {
		n, err := unix.Poll(pfd, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return 0
		}
		return uint32(uint16(pfd[0].Revents)) &^ EventNval
	}
}

// waitFor blocks until the host reports one of want, returning EAGAIN for a
// non-blocking file and EINTR when cancel closes. Files the host cannot
// poll are always ready.
func (w *hostWatch) waitFor(want uint32, nonblock bool, cancel <-chan struct{}) error {
	q := w.queue()
	if q == nil {
		return nil
	}
	ch := make(chan struct{}, 1)
	wt := NewChanWaiter(want|EventErr|EventHup, ch)
	q.add(wt)
	defer q.remove(wt)
	for w.poll()&(want|EventErr|EventHup) == 0 {
		if nonblock {
			return unix.EAGAIN
		}
		if err := wait(ch, cancel); err != nil {
			return err
		}
	}
	return nil
}

// release unregisters the fd before the file closes it.
func (w *hostWatch) release() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state == hwWatched {
		hostPoll.remove(w)
	}
	w.state = hwNoNotify
}

// hostRead reads a host file; the wait for data ends with EINTR when cancel
// closes, and with EAGAIN for an O_NONBLOCK file.
func (f *File) hostRead(dst []byte, cancel <-chan struct{}) (int, error) {
	if len(dst) > 0 && (cancel != nil || f.nonblock()) {
		if err := f.hw.waitFor(EventIn|EventRdNorm, f.nonblock(), cancel); err != nil {
			return 0, err
		}
	}
	return retryEINTR(func() (int, error) { return unix.Read(f.hfd, dst) })
}

// hostWrite writes a host file; the wait for room behaves as hostRead's.
func (f *File) hostWrite(src []byte, cancel <-chan struct{}) (int, error) {
	if len(src) > 0 && (cancel != nil || f.nonblock()) {
		if err := f.hw.waitFor(EventOut|EventWrNorm, f.nonblock(), cancel); err != nil {
			return 0, err
		}
	}
	return retryEINTR(func() (int, error) { return unix.Write(f.hfd, src) })
}
