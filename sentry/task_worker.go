package sentry

import (
	"runtime"
	"slices"
	"sync"
	"time"
	"weak"

	"github.com/sirupsen/logrus"

	"kvsentry/mm"
	"kvsentry/platform"
)

// Task workers. Every guest thread runs on a goroutine locked to an OS
// thread (the ptrace platform traces its stub thread from there). Starting
// and ending such a thread for each guest thread is dear: a new OS thread,
// its CPU placement, and on ptrace a stub thread cloned, seized and ended.
// So a task's run loop is handed to a worker: a goroutine locked to its OS
// thread for good, which runs tasks one after another. Between tasks the
// worker ends each one's platform context with platform.ThreadKeeper.Keep,
// so its stub threads stay parked and traced by this thread (ptrace ties a
// tracee to one tracer thread) and the next task of the same address space
// on this worker runs on one of them at once. A new task goes to the idle
// worker that last ran a task of its address space, else to the one idle
// the shortest time, else to a new worker. Idle workers beyond
// maxIdleWorkers, idle longer than workerIdleTimeout, or of a finished
// sandbox end; before that they Release a context so that the platform
// frees what the thread still holds.

// maxIdleWorkers bounds the idle workers of a sandbox.
const maxIdleWorkers = 16

// workerIdleTimeout is how long a worker waits for a task before it ends.
const workerIdleTimeout = 10 * time.Second

// taskJob is one task's run: Task.run's arguments.
type taskJob struct {
	t       *Task
	first   func() error
	started chan<- error
}

// taskWorker is one worker goroutine and its OS thread.
type taskWorker struct {
	jobs  chan taskJob
	timer *time.Timer
	// lastMM is the address space of the worker's last task (workerPool.mu).
	lastMM weak.Pointer[mm.MM]
}

// workerPool holds a sandbox's idle workers, the most recently idle last.
type workerPool struct {
	mu   sync.Mutex
	idle []*taskWorker
}

// start runs the task on a worker: first, when non-nil, runs there before
// the guest does (the initial exec) and its result is sent on started; on
// error the task ends without running guest code.
func (t *Task) start(first func() error, started chan<- error) {
	j := taskJob{t: t, first: first, started: started}
	if w := t.k.workers.take(t.mm); w != nil {
		w.jobs <- j
		return
	}
	go t.k.workerLoop(j)
}

// take removes and returns the idle worker that last ran a task of m, else
// the most recently idle one; nil if none is idle.
func (p *workerPool) take(m *mm.MM) *taskWorker {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.idle)
	if n == 0 {
		return nil
	}
	i := n - 1
	if m != nil {
		wm := weak.Make(m)
		for j := n - 1; j >= 0; j-- {
			if p.idle[j].lastMM == wm {
				i = j
				break
			}
		}
	}
	w := p.idle[i]
	p.idle = slices.Delete(p.idle, i, i+1)
	return w
}

// park makes w idle after a task of m; false when w should end instead.
func (p *workerPool) park(w *taskWorker, m *mm.MM, done <-chan struct{}) bool {
	select {
	case <-done:
		return false
	default:
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle) >= maxIdleWorkers {
		return false
	}
	w.lastMM = weak.Pointer[mm.MM]{}
	if m != nil {
		w.lastMM = weak.Make(m)
	}
	p.idle = append(p.idle, w)
	return true
}

// wait blocks idle worker w until it gets a task (ok) or should end: it
// timed out or the sandbox ended, and no starter took it meanwhile.
func (p *workerPool) wait(w *taskWorker, done <-chan struct{}) (j taskJob, ok bool) {
	w.timer.Reset(workerIdleTimeout)
	select {
	case j = <-w.jobs:
		w.timer.Stop()
		return j, true
	case <-w.timer.C:
	case <-done:
		w.timer.Stop()
	}
	p.mu.Lock()
	i := slices.Index(p.idle, w)
	if i >= 0 {
		p.idle = slices.Delete(p.idle, i, i+1)
	}
	p.mu.Unlock()
	if i >= 0 {
		return taskJob{}, false
	}
	// A starter took w before it could leave: its task is on the way.
	return <-w.jobs, true
}

// workerLoop is a worker's goroutine: it locks itself to its OS thread for
// good, runs j and then every task handed to it, and ends the thread when
// it is no longer needed.
func (k *Kernel) workerLoop(j taskJob) {
	// Never unlocked: the thread ends with the goroutine, after the
	// platform state it holds is released below.
	runtime.LockOSThread()
	w := &taskWorker{jobs: make(chan taskJob, 1), timer: time.NewTimer(workerIdleTimeout)}
	w.timer.Stop()
	for {
		j.t.run(j.first, j.started)
		if !k.workers.park(w, j.t.mm, k.done) {
			break
		}
		var ok bool
		if j, ok = k.workers.wait(w, k.done); !ok {
			break
		}
	}
	// Release on a context of this thread frees what the thread kept from
	// the contexts of its tasks (platform.ThreadKeeper).
	ctx, err := k.plat.NewContext()
	if err != nil {
		logrus.Errorf("task worker: platform context: %v", err)
		return
	}
	ctx.Release()
}

// endContext frees a finished task's context: Keep when the platform can
// leave its per-thread state to the worker's next task, else Release.
func endContext(ctx platform.Context) {
	if tk, ok := ctx.(platform.ThreadKeeper); ok {
		tk.Keep()
		return
	}
	ctx.Release()
}
