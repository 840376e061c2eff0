package sentry

import (
	"time"

	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"kvsentry/kernel/signal"
	"kvsentry/mm"
	"kvsentry/platform"
	"kvsentry/vfs"
)

// ThreadGroup is a process: what Linux keeps in signal_struct and the
// thread-group leader (pid, parent, children, exit state, sigactions).
type ThreadGroup struct {
	k   *Kernel
	pid int32

	// Fields below are protected by Kernel.mu.
	parent   *ThreadGroup
	children map[*ThreadGroup]struct{}
	leader   *Task
	// tasks holds the live threads of the process.
	tasks map[*Task]struct{}
	// threadCond is signalled when a thread exits (Kernel.mu); execve
	// from a multi-threaded process waits on it (de_thread).
	threadCond *sync.Cond
	// execing is the thread running execve's de_thread, if any.
	execing *Task
	// stopped is set while a job-control stop holds the process; stopSig
	// is the signal that stopped it. stopReported and continued are what
	// wait has yet to report (WUNTRACED, WCONTINUED). stopCond wakes the
	// stopped threads (Kernel.mu).
	stopped      bool
	stopSig      int
	stopReported bool
	continued    bool
	stopCond     *sync.Cond
	// subreaper is PR_SET_CHILD_SUBREAPER.
	subreaper bool
	// parentThread is the thread that created the process; pdeathSig
	// (PR_SET_PDEATHSIG) is sent when that thread exits.
	parentThread *Task
	pdeathSig    int
	pgid         int32
	sid          int32
	// exiting is set once exit_group (or a fatal signal) has begun.
	exiting bool
	// zombie is set when the process has exited and awaits its parent's wait.
	zombie bool
	// status is the wait status (as wait4 reports it) once zombie.
	status uint32
	// childCond is signalled when a child changes state (Kernel.mu).
	childCond *sync.Cond
	// exitSignal is sent to the parent when the process ends (SIGCHLD).
	exitSignal int
	// exePathChanged is set once the process has called execve (setpgid
	// on such a child fails with EACCES).
	exePathChanged bool
	// vforkDone, when non-nil, is closed when a vfork child execs or exits.
	vforkDone chan struct{}
	// usage accumulates the rusage of reaped children.
	childUsage rusage
	usage      rusage

	sigMu   sync.Mutex
	actions signal.Table
	pending signal.Set
	// queue holds the siginfo of each pending signal (several for
	// real-time signals).
	queue   map[int][]signal.Info
	rlimits rlimits
	// itimers are setitimer's ITIMER_REAL, _VIRTUAL and _PROF; timers are
	// the POSIX timers by id (Kernel.mu).
	itimers  [3]*intervalTimer
	timers   map[int32]*intervalTimer
	execArgv []string
	environ  []byte
	exePath  string
}

// newThreadGroup returns an empty process with pid 0 (the caller assigns it).
func newThreadGroup(k *Kernel, exitSignal int) *ThreadGroup {
	tg := &ThreadGroup{k: k, children: map[*ThreadGroup]struct{}{}, tasks: map[*Task]struct{}{}, exitSignal: exitSignal, timers: map[int32]*intervalTimer{}}
	tg.childCond = sync.NewCond(&k.mu)
	tg.threadCond = sync.NewCond(&k.mu)
	tg.stopCond = sync.NewCond(&k.mu)
	return tg
}

// Task is one guest thread: its registers, address space, file table and
// file-system context. Only the goroutine running it touches the unlocked fields.
type Task struct {
	k   *Kernel
	tid int32
	tg  *ThreadGroup

	regs platform.Registers
	ctx  platform.Context
	mm   *mm.MM

	fds   *FDTable
	fs    *fsContext
	creds vfs.Creds
	ids   ids

	sigMask       signal.Set
	clearChildTID uint64
	// alt is the sigaltstack setting.
	alt signal.AltStack
	// savedMask is the mask sigsuspend replaced, restored after the
	// signal it waited for is handled (Linux's saved_sigmask).
	savedMask    signal.Set
	hasSavedMask bool
	// restartErr is the ERESTART* code of a syscall a signal interrupted.
	restartErr unix.Errno
	restart    restartBlock // restart_syscall's function (restart.go)
	// cpuBase is the worker thread's CPU time when the task began on it:
	// the CPU-time clocks count from there (sys_time.go).
	cpuBase time.Duration
	// pending and queue are the signals sent to this thread alone
	// (tkill, tgkill, faults), under ThreadGroup.sigMu.
	pending signal.Set
	queue   map[int][]signal.Info
	// comm is the thread's name (PR_SET_NAME), under ThreadGroup.sigMu.
	comm string
	// affinity is the CPU mask set by sched_setaffinity (nil: every CPU),
	// under Kernel.mu.
	affinity []byte
	// spuriousFault is the address of the last fault found already
	// resolved (see mm.FaultError.Mapped).
	spuriousFault uint64
	// robustList and robustLen are set_robust_list's arguments.
	robustList, robustLen uint64
	// dying mirrors killed for the task's own lock-free check on every
	// return from the guest (killed never goes back to false).
	dying atomic.Bool
	// sigPending hints that a signal may be deliverable (set by senders
	// under Kernel.mu, cleared by the task when it finds none).
	sigPending atomic.Bool
	// scratch is a reusable I/O buffer (see scratchBuf).
	scratch []byte
	// killed is set (under Kernel.mu) when the task must stop at its next
	// return to the sentry.
	killed bool
	// exitStatus is the wait status the task dies with.
	exitStatus uint32
	// intr is closed (under Kernel.mu) when the task is killed or a signal
	// becomes deliverable, ending any blocking wait it is in; it is re-armed
	// once the signal has been handled.
	intr       chan struct{}
	intrClosed bool
}

// killLocked marks the task to exit with wait status ws (unless already
// marked), interrupts guest code and wakes any blocking wait. Kernel.mu
// must be held.
func (t *Task) killLocked(ws uint32) {
	if !t.killed {
		t.killed = true
		t.exitStatus = ws
		t.dying.Store(true)
	}
	t.interruptLocked()
}

// interruptLocked ends the task's blocking wait and makes running guest
// code return to the sentry. Kernel.mu must be held.
func (t *Task) interruptLocked() {
	if !t.intrClosed {
		t.intrClosed = true
		close(t.intr)
	}
	if t.ctx != nil {
		t.ctx.Interrupt()
	}
	if t.tg != nil && t.tg.childCond != nil {
		t.tg.childCond.Broadcast()
		t.tg.stopCond.Broadcast()
	}
}

// rearmLocked gives the task a fresh interrupt channel once nothing is left
// to interrupt it for. Kernel.mu must be held.
func (t *Task) rearmLocked() {
	if t.intrClosed && !t.killed && !t.deliverableLocked() {
		t.intr = make(chan struct{})
		t.intrClosed = false
	}
}

// fsContext is what CLONE_FS shares: root, cwd and umask.
type fsContext struct {
	mu    sync.Mutex
	root  vfs.Path
	cwd   vfs.Path
	umask uint32
}

// vctx returns the path-resolution context of the task.
func (t *Task) vctx() *vfs.Ctx {
	t.fs.mu.Lock()
	defer t.fs.mu.Unlock()
	return &vfs.Ctx{Root: t.fs.root, Cwd: t.fs.cwd, Creds: t.creds, PID: int(t.tg.pid)}
}

// rusage is the part of struct rusage the sentry tracks.
type rusage struct {
	utimeNS, stimeNS int64
}
