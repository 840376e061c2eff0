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
// Threading: ptrace requests are only accepted from the tracer thread. In
// this version the thread that calls NewAddressSpace is the only tracer of
// that address space and must do every MapFile/Unmap/Switch on it (callers
// lock their goroutine with runtime.LockOSThread); other threads get an
// error, never a wrong-thread ptrace request. An address space keeps its stub
// threads keyed by tracer tid so that more stub threads (one per tracer
// thread, cloned inside the stub) can be added later. Release and Interrupt
// may be called from any thread.
//
// Lock order: AddressSpace.mu is a leaf (held only to look up or update the
// stub thread table); Context uses atomics only.
package ptrace

import "kvsentry/platform"

func init() {
	platform.Register("ptrace", func(o platform.Options) (platform.Platform, error) {
		return New(o)
	})
}
