// Package kvm is the KVM platform: guest address spaces are page tables in
// one KVM virtual machine per sandbox, and guest threads run in ring 3 of
// its vCPUs (Documentation/virt/kvm/api.rst).
//
// Memory: the page pool memfd is memslot 0 at guest-physical 0, so a pool
// offset is a guest-physical address and MapFile/Unmap write page-table
// entries. The platform's own memory (page-table pages, per-vCPU blocks with
// the ring-0 stub, GDT/TSS/IDT and stacks, the trampoline) is memslot 1,
// mapped supervisor-only in the kernel half of every address space; guests
// get the whole user half up to Linux's TASK_SIZE. The page tables live in
// memslot 1 rather than in pool pages because the pool's allocator belongs
// to mm.
//
// Running: vCPUs are in 64-bit long mode with a ring-3 code segment set
// once with KVM_SET_SREGS (supervisor mode set that way is emulated
// instruction by instruction on kvm_pvm). Every exception (IDT) enters a
// small ring-0 stub (stub.go), which saves the guest state into the vCPU's
// data page and leaves KVM_RUN with an `out`; the way back is an iretq
// (sysretq is not emulated on kvm_pvm). `syscall` does not: kvm_pvm runs
// the LSTAR target in ring 3 for a guest that is not PVM-aware, so LSTAR
// points at a user-mode `out` to exitPort (the TSS I/O bitmap allows that
// port alone) and a syscall leaves KVM_RUN from ring 3; the registers come
// from KVM_CAP_SYNC_REGS and the FP state from KVM_GET_XSAVE, and while
// nothing else changed the next Switch resumes the guest by writing the
// synced registers back (fastEnter): one exit and ~38 µs per getpid, where
// the stub's #UD and iretq cost ~105 µs. KVM_CAP_SYNC_REGS also reports rip
// on each exit, to tell these exits from a guest's own `out` (SIGSEGV).
// An Interrupt that lands in the trampoline or the stub lets the vCPU
// reach the stub and stop there, so only the guest's own registers come
// back. Page-table edits that remove rights are shot down: vCPUs running
// the address space are kicked and load the touches before they run guest
// code again, and the edit returns only then (vm.shootdown).
// TLB and shadow-page coherence: see stub.go. fs_base/gs_base are written
// by the stub with wrmsr when they change; CPUID is KVM_GET_SUPPORTED_CPUID
// with XSAVE/AVX/FSGSBASE masked; rdtsc runs natively.
//
// vCPUs are a pool (at most one per host CPU) shared by all Contexts: a
// Switch borrows one, preferring its last, from the calling thread; a
// thread that waits longer than a timeslice preempts the running ones, so
// any number of guest threads share them. Interrupt sets a flag, sets
// kvm_run.immediate_exit and sends SIGURG to the thread in KVM_RUN.
//
// Lock order: vm.mu is taken inside AddressSpace.mu (page-table edits
// allocate pages and queue touches), never the other way round; a vCPU is
// owned by the Switch that holds it (vcpu.busy) and needs no lock.
package kvm

import "kvsentry/platform"

func init() {
	platform.Register("kvm", func(o platform.Options) (platform.Platform, error) {
		return New(o)
	})
}
