// Package ptrace is the ptrace platform: every guest address space is a
// host "stub" process that runs nothing of its own, and every guest thread
// runs on a stub thread driven with PTRACE_SYSEMU (ptrace(2)), so each guest
// system call stops the stub at syscall entry and is carried out by the
// sentry instead of the host kernel.
//
// The stub is a tiny static ELF built in Go (stub_elf.go), exec'ed from a
// memfd with PTRACE_TRACEME by the calling thread, which thereby becomes its
// tracer. Setup moves the stub's code page to stubBase (just under Linux's
// TASK_SIZE, 0x7ffffffff000) and unmaps everything else, so the guest sees
// an empty address space below MaxUserAddress (0x7fffffffd000). Guest
// memory is the sentry's page pool memfd, passed to the stub as fd 0 and
// mapped with injected mmap(MAP_SHARED|MAP_FIXED) calls.
//
// Threads: a stub process has a master thread, traced by the stub server
// (one goroutine locked to an OS thread of its own for the sentry's life,
// stub_server.go), which never runs guest code, plus one stub thread per
// sentry thread that uses the address space. ptrace requests are only
// accepted from a stub thread's tracer, so the first MapFile, MapFiles,
// Unmap or Switch of a locked OS thread on an address space gives that
// thread a stub thread of its own: the server injects clone(CLONE_THREAD...)
// into the master, points the new thread at a pause(2) loop in the stub page
// and detaches it; the caller then PTRACE_SEIZEs and PTRACE_INTERRUPTs it
// (stub_clone.go). One such parked thread is kept spare per address space,
// so the caller rarely waits for the server. Each tracer thread and its stub
// threads are pinned to one CPU, tracers spread round-robin over the CPUs,
// so guest threads run in parallel while each ptrace stop stays on one CPU.
//
// Stub threads are traced with PTRACE_O_EXITKILL: a tracer thread that ends
// while it still traces a stub thread kills that whole stub rather than let
// guest code run untraced. Context.Release, called on the tracer thread,
// ends its stub threads with an injected exit(2) first, so the other threads
// of the address space go on. Release (any thread) kills every thread of the
// stub and reaps them all. Interrupt may be called from any thread.
//
// A tracer thread that runs guest threads one after another (the sentry's
// task workers) ends each one's Context with Keep instead: its stub threads
// stay parked in their ptrace stops, still traced by it (a tracee is tied to
// the one thread that seized it), and the next guest thread of the same
// address space on that thread runs on its stub thread at once, without a
// clone, PTRACE_SEIZE, CPU placement or exit(2). Parked stub threads die with
// their address space's Release, or with the Release of a later Context of
// their tracer thread before it ends.
//
// NewAddressSpace takes a stub from a small per-platform pool, pre-started
// by a background goroutine through the server (stub_pool.go); the caller
// only adopts a parked thread (~40 us instead of ~300 us for fork+exec and
// setup). Pooled stubs are fresh, never reused, so none holds a mapping of a
// previous owner.
//
// Lock order: no lock of the package is taken while another is held
// (AddressSpace.batchMu, AddressSpace.mu, the tracees registry); mu is never
// held across a ptrace request or a server round trip; Context uses atomics.
package ptrace

import "kvsentry/platform"

func init() {
	platform.Register("ptrace", func(o platform.Options) (platform.Platform, error) {
		return New(o)
	})
}
