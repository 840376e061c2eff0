package syscalls

import (
	"testing"

	"kvsentry/test/internal/harness"
)

// TestRestartSyscall compares restart.c: sleeps stopped and continued
// resume with the time left (restart_syscall, ERESTARTNOHAND with the
// timeout written back), epoll_wait fails with EINTR, and with a handler
// the sleeps fail with EINTR whatever SA_RESTART says.
func TestRestartSyscall(t *testing.T) {
	harness.RequireRoot(t)
	prog := harness.BuildAndInstallC(t, "restart.c", "restart", true)
	differential(t, []string{prog}, 0,
		"restart_syscall without an interrupted call: ret=-1 EINTR\n",
		"nanosleep stopped and continued: ret=0 OK full_sleep=1 time_left_honoured=1\n",
		"clock_nanosleep stopped and continued: ret=0 OK full_sleep=1 time_left_honoured=1\n",
		"clock_nanosleep(ABSTIME) stopped and continued: ret=0 OK full_sleep=1 time_left_honoured=1\n",
		"poll stopped and continued: ret=0 OK full_sleep=1 time_left_honoured=1\n",
		"ppoll stopped and continued: ret=0 OK full_sleep=1 time_left_honoured=1 ts_left_zero=1\n",
		"select stopped and continued: ret=0 OK full_sleep=1 time_left_honoured=1 tv_left_zero=1\n",
		"futex(WAIT) stopped and continued: ret=-1 ETIMEDOUT full_sleep=1 time_left_honoured=1\n",
		"epoll_wait stopped and continued: ret=-1 EINTR\n",
		"nanosleep with a handler: ret=-1 EINTR early=1 rem_ok=1; restart_syscall after: ret=-1 EINTR\n",
		"poll (SA_RESTART) with a handler: ret=-1 EINTR early=1; restart_syscall after: ret=-1 EINTR\n",
		"futex(WAIT, timeout) (SA_RESTART) with a handler: ret=-1 EINTR early=1; restart_syscall after: ret=-1 EINTR\n")
}

// TestSignalfdThreads compares sigfdthread.c: a signalfd reads and polls
// the pending signals of the thread using it (and its process's), not the
// creating thread's, also from a forked child.
func TestSignalfdThreads(t *testing.T) {
	harness.RequireRoot(t)
	prog := harness.BuildAndInstallC(t, "sigfdthread.c", "sigfdthread", true)
	differential(t, []string{prog}, 0,
		"A, SIGUSR2 pending on A: poll=1 revents=0x1\n",
		"B, A's SIGUSR2 pending on A: poll=0 revents=0\n",
		"B, A's SIGUSR2 pending on A: epoll_wait=0 events=0\n",
		"B, A's SIGUSR2 pending on A: read ret=-1 EAGAIN\n",
		"B, SIGUSR1 to B and SIGUSR2 to the process: epoll_wait=1 events=0x1\n",
		"B, SIGUSR1 to B and SIGUSR2 to the process: read ret=256 OK\n  signo=10 code=-6 pid_ok=1\n  signo=12 code=0 pid_ok=1\n",
		"B, blocking read, SIGUSR1 to B in 50 ms: read ret=128 OK\n  signo=10 code=-6 pid_ok=1\n",
		"A, after B: read ret=128 OK\n  signo=12 code=-6 pid_ok=1\n",
		"child, parent's SIGUSR2 pending: read ret=-1 EAGAIN\n",
		"child, SIGUSR1 to itself: read ret=128 OK\n  signo=10 code=0 pid_ok=1\n",
		"A, after the child: read ret=128 OK\n  signo=12 code=0 pid_ok=1\n")
}
