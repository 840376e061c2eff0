package syscalls

import (
	"testing"

	"kvsentry/test/internal/harness"
)

// TestPoll compares poll.c: poll, ppoll, select and pselect6 on pipes, files
// and devices, timeouts, wake-ups and signal masks.
func TestPoll(t *testing.T) {
	harness.RequireRoot(t)
	prog := harness.BuildAndInstallC(t, "poll.c", "poll", true)
	differential(t, []string{prog}, 0,
		"poll(write end, POLLOUT|POLLWRNORM): ret=1 OK revents=0x104\n", "  revents: 0x1 0 0x20 0x4\n",
		"poll(pipe, -1) woken by a child's write: ret=1 OK revents=0x1\n",
		"poll(read end drained, writer closed): ret=1 OK revents=0x10\n",
		"poll(write end, reader closed): ret=1 OK revents=0xc\n", "poll(O_PATH fd): ret=1 OK revents=0x20\n",
		"poll(nfds > RLIMIT_NOFILE): ret=-1 EINVAL\n",
		"  waited>=30ms=1 timeval left=0.000000 in set=0\n", "select(closed fd 60): ret=-1 EBADF\n",
		"child: FDSize:\t64\nchild: select(101, {100}) with a 64-slot table: ret=0 OK\n",
		"child, fd 130 used: FDSize:\t256\n",
		"grandchild: FDSize:\t64\n",
		"child: select(101, {100}) after fd 100 was used: ret=-1 EBADF\n",
		"child: select(200, {150}) with a 128-slot table: ret=0 OK\n",
		"child: select(200, {150}) after fd 130 was used: ret=-1 EBADF\n",
		"grandchild: select(300, {257}) with fd 130 open: ret=0 OK\n",
		"grandchild: select(101, {100}) with fds < 64 open: ret=0 OK\n",
		"  time left: sec=1 usec<1e6=1\n",
		"ppoll(forever, mask lets USR1 in): ret=-1 EINTR\n  handled=10 blocked after=1\n",
		"pselect(forever, mask lets USR1 in): ret=-1 EINTR\n  handled=10 blocked after=1\n",
		"ppoll(ready fd, mask lets USR1 in): ret=1 OK\n  handled=0 blocked after=1\n",
		"ppoll(forever) until a child's signal: ret=-1 EINTR\n  handled=10\n")
}

// TestEpoll compares epoll.c: epoll_ctl's errno rules, level/edge/one-shot
// triggering, hang-ups, nesting, closing, and epoll_pwait's signal mask.
func TestEpoll(t *testing.T) {
	harness.RequireRoot(t)
	prog := harness.BuildAndInstallC(t, "epoll.c", "epoll", true)
	differential(t, []string{prog}, 0,
		"  link: anon_inode:[eventpoll]\n", "ctl(ADD, regular file): ret=-1 EPERM\n",
		"ET wait after a burst of 3 writes: ret=1 OK [0x1/0xe7]\nET wait again: ret=0 OK\nET wait after a partial read: ret=0 OK\n",
		"ONESHOT wait, disarmed: ret=0 OK\nctl(MOD, rearm): ret=0 OK\nONESHOT wait, rearmed: ret=1 OK [0x1/0x6]\n",
		"wait, data and writer closed: ret=1 OK [0x11/0x66]\n", "wait, reader closed: ret=1 OK [0xc/0x78]\n",
		"wait max 2 again: ret=2 OK [0x1/0x3] [0x1/0x1]\n", "wait, e1 closed but dup'd: ret=3 OK",
		"ctl(b ADD a): ret=-1 ELOOP\n", "nesting chain: 4 links\n",
		"b, wait forever, woken by a child's write: ret=1 OK [0x1/0x99]\n",
		"epoll_pwait(forever, mask lets USR1 in): ret=-1 EINTR\n  handled=10 blocked after=1\n")
}

// TestEventfd compares eventfd.c: counter and semaphore semantics.
func TestEventfd(t *testing.T) {
	harness.RequireRoot(t)
	prog := harness.BuildAndInstallC(t, "eventfd.c", "eventfd", true)
	differential(t, []string{prog}, 0,
		"  link: anon_inode:[eventfd]\n  fstat mode=600 size=0\n", "read(4 bytes): ret=-1 EINVAL\n",
		"write(1) past the ceiling: ret=-1 EAGAIN\n", "semaphore read 3: ret=8 OK value=1\nsemaphore read 4: ret=-1 EAGAIN",
		"blocking read woken by a child: ret=8 OK value=42\n")
}

// TestTimerfd compares timerfd.c: one-shot and interval timers, clocks,
// absolute times and the time left.
func TestTimerfd(t *testing.T) {
	harness.RequireRoot(t)
	prog := harness.BuildAndInstallC(t, "timerfd.c", "timerfd", true)
	differential(t, []string{prog}, 0,
		"  link: anon_inode:[timerfd]\n", "read(expired one-shot): ret=8 OK value=1\n",
		"interval 20ms after >=65ms: count>=1=1 count<=expected=1\n", "  gettime: value<=20ms=1 interval=0.020000000\n",
		"BOOTTIME: settime(ABSTIME in the past) ret=0 OK\n  blocking read: ret=8 OK value=1\n")
}
