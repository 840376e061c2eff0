package ptrace

import "sync"

// tracees records, per tracer thread, the stub threads it traces and their
// address spaces, so that Context.Release can end them on that thread: a
// tracer thread that exits with a stub thread still traced kills the whole
// stub (PTRACE_O_EXITKILL).
var tracees struct {
	mu sync.Mutex
	m  map[int]map[*stubThread]*AddressSpace
}

// remember records that t (of as) is traced by t.tracer.
func remember(t *stubThread, as *AddressSpace) {
	tracees.mu.Lock()
	defer tracees.mu.Unlock()
	if tracees.m == nil {
		tracees.m = map[int]map[*stubThread]*AddressSpace{}
	}
	ts := tracees.m[t.tracer]
	if ts == nil {
		ts = map[*stubThread]*AddressSpace{}
		tracees.m[t.tracer] = ts
	}
	ts[t] = as
}

// forget removes t from the record.
func forget(t *stubThread) {
	tracees.mu.Lock()
	defer tracees.mu.Unlock()
	if ts := tracees.m[t.tracer]; ts != nil {
		delete(ts, t)
		if len(ts) == 0 {
			delete(tracees.m, t.tracer)
		}
	}
}

// takeTracees removes and returns everything traced by tracer.
func takeTracees(tracer int) map[*stubThread]*AddressSpace {
	tracees.mu.Lock()
	defer tracees.mu.Unlock()
	ts := tracees.m[tracer]
	delete(tracees.m, tracer)
	return ts
}
