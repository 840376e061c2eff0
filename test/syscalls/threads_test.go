package syscalls

import (
	"testing"

	"kvsentry/test/internal/harness"
)

// TestThreads compares threads.c: 8 pthreads on a mutex, a condition-variable
// ping-pong, thread-local storage, pthread_join values, per-thread names and
// /proc/self/task.
func TestThreads(t *testing.T) {
	harness.RequireRoot(t)
	prog := harness.BuildAndInstallC(t, "threads.c", "threads", true)
	differential(t, []string{prog}, 0,
		"join 7: OK value=107\n", "mutex: counter=160000 want=160000\n",
		"threads: getpid same as main=1 gettid distinct=1 gettid!=pid=1\n",
		"tls: each thread saw its own fresh copy=1 distinct addresses=1 main tls=42 main buf=initial\n",
		"condvar ping-pong: pings=2000 pongs=2000 turn=0\n", "pthread_cond_timedwait(20ms): ETIMEDOUT waited>=15ms=1\n",
		"pthread_exit value: OK 7\n", "/proc/self/task: entries=5 lists exactly the 5 thread ids=1\n",
		"thread 3: PR_GET_NAME=worker-3 matches=1 task comm=worker-3\n", "main task comm=threads\n",
		"after joins: /proc/self/task entries=1\n", "errorcheck relock: EDEADLK\n", "all joins ok=1\n")
}

// TestFutex compares futex.c: FUTEX_WAIT timeouts (relative, absolute, both
// clocks), FUTEX_WAKE counts, FUTEX_REQUEUE/FUTEX_CMP_REQUEUE, FUTEX_WAKE_OP, a
// futex shared between processes, and the errno of bad arguments.
func TestFutex(t *testing.T) {
	harness.RequireRoot(t)
	prog := harness.BuildAndInstallC(t, "futex.c", "futex", true)
	differential(t, []string{prog}, 0,
		"FUTEX_WAIT value mismatch: ret=-1 EAGAIN\n", "FUTEX_WAIT unaligned: ret=-1 EINVAL\n",
		"FUTEX_WAIT address 0x10: ret=-1 EFAULT\n", "unknown op 99: ret=-1 ENOSYS\n",
		"FUTEX_WAIT relative 30ms: ret=-1 ETIMEDOUT\n  waited>=30ms=1\n",
		"FUTEX_WAIT_BITSET|FUTEX_CLOCK_REALTIME absolute +30ms: ret=-1 ETIMEDOUT\n  waited>=29ms=1\n",
		"FUTEX_WAIT tv_nsec=1e9: ret=-1 EINVAL\n", "  waiter: ret=0 OK before its timeout=1\n",
		"thread FUTEX_WAIT 40ms: ret=-1 ETIMEDOUT waited>=40ms=1\n",
		"FUTEX_CMP_REQUEUE(f1, wake 1, requeue 2, f2): ret=3 OK\n  woken=1 queued on f1=1 queued on f2=2\n",
		"FUTEX_REQUEUE(f1, wake 0, requeue all, f2): ret=1 OK\n  queued on f1=0 queued on f2=3\n",
		"  joined: woken=4 every FUTEX_WAIT returned 0=1\n", "  f2=5 woken=2\n",
		"shared: child queued=1\n", "  FUTEX_WAKE shared: ret=1 OK\n  child exited 0\n")
}

// TestRobustMutex compares robust.c: a thread or a process dying while holding
// a robust mutex, and the next locker (or a blocked waiter) getting EOWNERDEAD.
func TestRobustMutex(t *testing.T) {
	harness.RequireRoot(t)
	prog := harness.BuildAndInstallC(t, "robust.c", "robust", true)
	differential(t, []string{prog}, 0,
		"get_robust_list(0): ret=0 OK\n  head set=1 len=24\n", "set_robust_list(head, 23): ret=-1 EINVAL\n",
		"thread died holding a robust mutex: lock: EOWNERDEAD\n  consistent: OK\n",
		"thread died again: lock: EOWNERDEAD\n  threads left=1\n  unlock without consistent: OK\n  lock: ENOTRECOVERABLE\n",
		"  owner exited 3\n  next locker: lock: EOWNERDEAD\n",
		"  owner killed by signal 9\n  next locker: lock: EOWNERDEAD\n",
		"  blocked waiter: lock: EOWNERDEAD\n")
}

// TestExecFromThread compares execthread.c: execve from a secondary thread takes
// over the leader's pid and leaves one thread.
func TestExecFromThread(t *testing.T) {
	harness.RequireRoot(t)
	prog := harness.BuildAndInstallC(t, "execthread.c", "execthread", true)
	differential(t, []string{prog}, 0,
		"thread before exec: getpid==leader=1 gettid==leader=0 tasks=4\n",
		"after exec: argv[4]=0 getpid==old leader=1 gettid==getpid=1 getppid unchanged=1 tasks=1 env=thread\n",
		"after exec: pthread_create OK tasks=2\n", "parent: waitpid returned the child's pid=1 exited 7\n",
		"parent: nothing more to reap: ret=-1 ECHILD\n")
}

// TestSchedAffinity compares sched.c: sched_getaffinity/sched_setaffinity per
// process and per thread, getcpu and sched_yield.
func TestSchedAffinity(t *testing.T) {
	harness.RequireRoot(t)
	prog := harness.BuildAndInstallC(t, "sched.c", "sched", true)
	differential(t, []string{prog}, 0,
		"sched_getaffinity(0): ret=0 OK\n", "raw sched_getaffinity(len 1): ret=-1 EINVAL\n",
		"sched_getaffinity(no such pid): ret=-1 ESRCH\n", "getcpu: cpu in the affinity mask=1\n",
		"sched_yield: ret=0 OK\n", "  mask now: count=1 cpu0=1 getcpu=0\n",
		"sched_setaffinity(empty): ret=-1 EINVAL\n", "  mask restored=1\n",
		"thread pinned to cpu0: set ok=1 its count=1 its getcpu=0; main's count unchanged=1\n",
		"child of a pinned parent: count=1 cpu0=1\n", "sched_yield x1000 all 0=1\n")
}
