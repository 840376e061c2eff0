package sentry

import (
	"testing"
	"time"

	"kvsentry/mm"
)

// newIdleWorker makes a worker as workerLoop does, without its goroutine.
func newIdleWorker() *taskWorker {
	w := &taskWorker{jobs: make(chan taskJob, 1), timer: time.NewTimer(time.Hour)}
	w.timer.Stop()
	return w
}

func TestWorkerPoolPrefersSameAddressSpace(t *testing.T) {
	var p workerPool
	done := make(chan struct{})
	m1, m2 := &mm.MM{}, &mm.MM{}
	a, b, c := newIdleWorker(), newIdleWorker(), newIdleWorker()
	for _, x := range []struct {
		w *taskWorker
		m *mm.MM
	}{{a, m1}, {b, m2}, {c, nil}} {
		if !p.park(x.w, x.m, done) {
			t.Fatal("park refused with room in the pool")
		}
	}
	if w := p.take(m1); w != a {
		t.Errorf("take(m1) did not return the worker that ran m1")
	}
	if w := p.take(&mm.MM{}); w != c {
		t.Errorf("take of a new address space did not return the most recently idle worker")
	}
	if w := p.take(nil); w != b {
		t.Errorf("take did not return the last idle worker")
	}
	if w := p.take(m2); w != nil {
		t.Errorf("take from an empty pool returned a worker")
	}
}

func TestWorkerPoolBounds(t *testing.T) {
	var p workerPool
	done := make(chan struct{})
	for i := 0; i < maxIdleWorkers; i++ {
		if !p.park(newIdleWorker(), nil, done) {
			t.Fatalf("park %d refused", i)
		}
	}
	if p.park(newIdleWorker(), nil, done) {
		t.Errorf("park accepted a worker beyond maxIdleWorkers")
	}
	close(done)
	var q workerPool
	if q.park(newIdleWorker(), nil, done) {
		t.Errorf("park accepted a worker of a finished sandbox")
	}
}

func TestWorkerWaitEndsOrRuns(t *testing.T) {
	// A job handed to an idle worker is what its wait returns.
	var p workerPool
	done := make(chan struct{})
	w := newIdleWorker()
	p.park(w, nil, done)
	task := &Task{}
	if got := p.take(nil); got != w {
		t.Fatal("take did not return the idle worker")
	}
	w.jobs <- taskJob{t: task}
	if j, ok := p.wait(w, done); !ok || j.t != task {
		t.Errorf("wait = %v, %v; want the job handed over", j.t, ok)
	}
	// The sandbox ends: an idle worker leaves the pool and ends.
	p.park(w, nil, done)
	close(done)
	if _, ok := p.wait(w, done); ok {
		t.Errorf("wait of an idle worker of a finished sandbox did not end it")
	}
	if got := p.take(nil); got != nil {
		t.Errorf("an ended worker is still idle in the pool")
	}
	// Taken by a starter just as the sandbox ends: the job still runs.
	done2 := make(chan struct{})
	p.park(w, nil, done2)
	p.take(nil)
	close(done2)
	go func() { w.jobs <- taskJob{t: task} }()
	if j, ok := p.wait(w, done2); !ok || j.t != task {
		t.Errorf("wait of a taken worker = %v, %v; want its job", j.t, ok)
	}
}
