package ptrace

import (
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// readyStubs is how many ready stubs a platform keeps. fork+exec of a guest
// costs one new address space; a burst of forks larger than the pool falls
// back to starting stubs on demand.
const readyStubs = 2

// parkedPerStub is how many parked threads a ready stub has: one for the
// thread that creates the address space, one spare for the next.
const parkedPerStub = 2

// readyStub is a set-up stub process: its master thread traced by the
// server, and parked threads (see cloneParked) waiting for tracers.
type readyStub struct {
	pid, pidfd int
	master     *stubThread
	parked     []int
}

// kill kills and reaps the stub; any thread may call it.
func (r *readyStub) kill() {
	r.master.dead.Store(true)
	killStub(r.pid, r.pidfd)
}

// startReady starts one stub on the server thread: spawnStub, then the
// clones of its parked threads.
func startReady(poolFD int) (*readyStub, error) {
	var r *readyStub
	var err error
	theServer().do(func() {
		m, pidfd, e := spawnStub(poolFD)
		if e != nil {
			err = e
			return
		}
		r = &readyStub{pid: m.pid, pidfd: pidfd, master: m}
		for range parkedPerStub {
			tid, e := m.cloneParked()
			if e != nil {
				killStub(m.pid, pidfd)
				r, err = nil, e
				return
			}
			r.parked = append(r.parked, tid)
		}
	})
	return r, err
}

// stubPool keeps up to readyStubs ready stubs of one platform, started in
// the background once the platform creates its first address space. The
// stubs are fresh from exec and setupStub: no stub is ever used twice, so
// none holds a mapping of a previous owner.
type stubPool struct {
	poolFD    int
	ready     chan *readyStub
	startOnce sync.Once
	done      chan struct{}
	closeOnce sync.Once
}

func newStubPool(poolFD int) *stubPool {
	return &stubPool{poolFD: poolFD, ready: make(chan *readyStub, readyStubs), done: make(chan struct{})}
}

// get returns a ready stub: from the pool when one is waiting, else one
// started now.
func (p *stubPool) get() (*readyStub, error) {
	p.startOnce.Do(func() { go p.refill() })
	select {
	case r := <-p.ready:
		return r, nil
	default:
	}
	return startReady(p.poolFD)
}

// closed reports whether close was called.
func (p *stubPool) closed() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// refill keeps the pool full until close; it then kills what is left.
func (p *stubPool) refill() {
	defer p.drain()
	backoff := time.Millisecond
	for !p.closed() {
		r, err := startReady(p.poolFD)
		if err != nil {
			if p.closed() {
				return
			}
			logrus.Warnf("ptrace: pre-starting a stub: %v", err)
			select {
			case <-time.After(backoff):
			case <-p.done:
				return
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = time.Millisecond
		select {
		case p.ready <- r:
		case <-p.done:
			r.kill()
			return
		}
	}
}

// drain kills the stubs waiting in the pool.
func (p *stubPool) drain() {
	for {
		select {
		case r := <-p.ready:
			r.kill()
		default:
			return
		}
	}
}

// close stops the refill and kills the waiting stubs (also done by the
// refill goroutine when it ends, for a stub it added meanwhile).
func (p *stubPool) close() {
	p.closeOnce.Do(func() { close(p.done) })
	p.drain()
}
