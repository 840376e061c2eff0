package ptrace

import (
	"runtime"
	"sync"
)

// stubServer is one goroutine, locked to an OS thread of its own for the
// life of the sentry, that starts every stub process and stays the tracer of
// each stub's first ("master") thread. The master thread never runs guest
// code: the server injects into it the clone(2) calls that give every other
// tracer thread a stub thread of its own (stub_clone.go). Because the server
// thread never exits, no stub dies with the thread that happened to ask for
// it (PR_SET_PDEATHSIG and PTRACE_O_EXITKILL both follow the forking and
// tracing thread), while the whole stub still dies with the sentry.
type stubServer struct {
	reqs chan func()
}

var (
	serverOnce sync.Once
	server     *stubServer
)

// theServer returns the stub server, starting it on first use.
func theServer() *stubServer {
	serverOnce.Do(func() {
		s := &stubServer{reqs: make(chan func())}
		go s.loop()
		server = s
	})
	return server
}

// loop runs requests on the server thread, one at a time, forever.
func (s *stubServer) loop() {
	// Never unlocked and never returns: the thread is the tracer of every
	// master stub thread (see stubServer).
	runtime.LockOSThread()
	for f := range s.reqs {
		f()
	}
}

// do runs f on the server thread and waits until it returns.
func (s *stubServer) do(f func()) {
	done := make(chan struct{})
	s.reqs <- func() {
		defer close(done)
		f()
	}
	<-done
}
