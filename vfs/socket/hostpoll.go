package socket

import (
	"sync"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// hostPoller turns readiness changes of the sentry's host sockets into
// wait-queue notifications: one edge-triggered host epoll instance and one
// goroutine blocked in epoll_wait on it (as vfs does for inherited stdio).
type hostPoller struct {
	once sync.Once
	epfd int
	mu   sync.Mutex
	qs   map[int32]*queue
}

// poller is the package's single host poller, started on first use.
var poller hostPoller

// start creates the epoll instance and its goroutine.
func (hp *hostPoller) start() {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		logrus.Errorf("socket: host epoll_create1: %v; host sockets will not notify", err)
		hp.epfd = -1
		return
	}
	hp.epfd = fd
	hp.qs = map[int32]*queue{}
	go hp.run()
}

// run forwards host events to the sockets' queues.
func (hp *hostPoller) run() {
	evs := make([]unix.EpollEvent, 64)
	for {
		n, err := unix.EpollWait(hp.epfd, evs, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			logrus.Errorf("socket: host epoll_wait: %v", err)
			return
		}
		for _, ev := range evs[:n] {
			hp.mu.Lock()
			q := hp.qs[ev.Fd]
			hp.mu.Unlock()
			if q != nil {
				q.notify(ev.Events)
			}
		}
	}
}

// add watches fd for q.
func (hp *hostPoller) add(fd int, q *queue) error {
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
	hp.qs[int32(fd)] = q
	return nil
}

// remove stops watching fd before it is closed.
func (hp *hostPoller) remove(fd int) {
	hp.mu.Lock()
	defer hp.mu.Unlock()
	if hp.epfd >= 0 {
		unix.EpollCtl(hp.epfd, unix.EPOLL_CTL_DEL, fd, nil)
	}
	delete(hp.qs, int32(fd))
}
