package sentry

// Lock order:
//   Kernel.mu (process tree, pid table, wait/exit state, affinity)
//     -> ThreadGroup.sigMu (signal actions and pending sets)
//     -> sigWatch.mu (signalfds and sigtimedwait waiters; notifications
//        under it take only wait-queue locks)
//     -> ttyTable.mu -> a tty.PTY's lock
//   intervalTimer.mu is taken without Kernel.mu (fire releases it first).
//   futexTable.mu -> mm.MM.mu (the futex word is read under the table lock).
//   mm.MM -> VFS.mu (page faults read file content) -> FileCache.mu.
//   Kernel.mmMu, lockTable.mu, FDTable.mu, workerPool.mu and straceMu are
//   leaves.

import (
	"io"
	"sync"
	"sync/atomic"
	"time"

	"kvsentry/mm"
	"kvsentry/platform"
	"kvsentry/vfs"
)

// Kernel is one sandbox: its processes, memory pool, file system and platform.
type Kernel struct {
	pool *mm.Pool
	plat platform.Platform
	vfs  *vfs.VFS

	// strace, when non-nil, receives one line per guest syscall.
	strace io.Writer
	// straceMu serialises strace lines.
	straceMu sync.Mutex

	hwcap, hwcap2 uint64
	boot          time.Time

	mu sync.Mutex
	// tasks maps thread ids to live tasks; tgs maps pids to thread groups
	// (live or zombie).
	tasks   map[int32]*Task
	tgs     map[int32]*ThreadGroup
	nextPID int32
	// initTG is the sandbox's pid 1; when it exits the sandbox ends.
	initTG *ThreadGroup
	// done is closed when initTG has exited.
	done chan struct{}

	// mmMu guards mmUsers, the number of tasks using each address space.
	mmMu    sync.Mutex
	mmUsers map[*mm.MM]int

	// futexes holds the tasks waiting in futex(2).
	futexes futexTable
	// locks holds flock(2) and fcntl(2) record locks.
	locks lockTable
	// ttys holds the pseudo-terminals and the console (tty.go).
	ttys ttyTable
	// workers holds the idle task workers (task_worker.go).
	workers workerPool

	// stats counts platform events, logged at debug level when the sandbox ends.
	stats struct {
		syscalls, faults, signals, interrupts atomic.Uint64
	}
}

// allocPIDLocked returns the next free pid, as Linux's alloc_pid does
// (sequential, wrapping below pid_max). Kernel.mu must be held.
func (k *Kernel) allocPIDLocked() int32 {
	const pidMax = 4194304
	for {
		k.nextPID++
		if k.nextPID >= pidMax {
			k.nextPID = 2
		}
		if _, used := k.tgs[k.nextPID]; used {
			continue
		}
		if _, used := k.tasks[k.nextPID]; used {
			continue
		}
		return k.nextPID
	}
}

// uptime is the time since the sandbox booted.
func (k *Kernel) uptime() time.Duration { return time.Since(k.boot) }
