package kvm

import "fmt"

// The ring-0 stub: a page of code, one copy per vCPU block, that moves the
// guest's state between the CPU and the block's data page, so that the host
// needs one ioctl (KVM_RUN) per guest event and no GET/SET_REGS or FPU
// ioctls on the hot path. Its operands are RIP-relative, so each copy
// reaches its own vCPU's data page; it keeps no state of its own.
//
// Way out (an exception via the IDT; guest syscalls leave from ring 3, see
// the package doc): save the general registers, rip/rsp/rflags (from the
// exception frame on the TSS rsp0 stack), vector, error code, CR2 for #PF and
// the FXSAVE area into the data page, then `out` to exitPort, which leaves
// KVM_RUN with KVM_EXIT_IO.
//
// Way in (the instruction after the `out`, or the trampoline's ud2 for a
// vCPU that is in ring 3, told from a guest's by rcx = trampRetAddr and
// dArmed): apply the pending page-table touches (below), load CR3
// if the address space changed or a flush is due, write FS_BASE/GS_BASE
// with wrmsr if they changed, fxrstor, build an iretq frame on the block's
// stack and iretq to ring 3 (sysretq is not emulated on kvm_pvm).
//
// Page-table touches keep KVM's shadow paging (kvm_pvm has no EPT) coherent
// with page tables that the host edits from outside the guest: KVM
// write-protects guest page-table pages it shadows and learns of changes
// only through trapped guest writes (kvm_mmu_track_write zaps the shadow
// entry) or TLB flushes (which resync unsync pages). Before running guest
// code after the host removed or changed a present entry, the stub rewrites
// that entry with `lock orq $0` (bit 0 of the list entry clear), or a whole
// page with a 2-byte `lock orw $0`, which KVM treats as a misaligned write
// and answers by zapping every shadow of the page (bit 0 set); then it
// reloads CR3.

// stubCode is the stub and the offsets of its entry points.
type stubCode struct {
	code     []byte
	syscall  int // LSTAR target
	afterOut int // rip of an exit: the instruction after the `out`
	enter    int // the way in
	// stopCheck is the way in's test of dStop, iret its iretq and stop
	// the exit it takes when dStop is set: between the first two nothing
	// but the guest's own state is loaded, so the host may move rip to stop.
	stopCheck, iret, stop int
	vectors               [nVectors]int // IDT targets
}

// vectorHasErrorCode says which exceptions push an error code (SDM vol. 3, 6.15).
func vectorHasErrorCode(v int) bool {
	switch v {
	case 8, 10, 11, 12, 13, 14, 17, 21, 29, 30:
		return true
	}
	return false
}

// gprSlots are the general registers the stub saves and restores, with
// their data-page offsets (rsp travels through the iret frame instead).
var gprSlots = []struct{ reg, off int }{
	{rAX, dRAX}, {rBX, dRBX}, {rCX, dRCX}, {rDX, dRDX}, {rSI, dRSI}, {rDI, dRDI}, {rBP, dRBP},
	{rR8, dR8}, {rR9, dR8 + 8}, {rR10, dR8 + 16}, {rR11, dR8 + 24},
	{rR12, dR8 + 32}, {rR13, dR8 + 40}, {rR14, dR8 + 48}, {rR15, dR8 + 56},
}

// buildStub assembles the stub.
func buildStub() stubCode {
	a := newAssembler()
	d := func(off int) int { return blkData + off }
	saveGPRs := func() {
		for _, s := range gprSlots {
			a.store(s.reg, d(s.off))
		}
	}

	// The #UD of the ud2 at trampVA: the way in when rcx = trampRetAddr
	// and dArmed; otherwise a guest jumped there, reported as a syscall
	// (rcx, r11 as a syscall leaves them; the frame holds the guest's rsp).
	a.label("syscall")
	a.cmpRegMem(rCX, d(dTrampRt))
	a.jcc(ccNE, "syscall.save")
	a.cmpMemImm8(d(dArmed), 0)
	a.jcc(ccE, "syscall.save")
	a.movMemImm32(d(dArmed), 0)
	a.jmp("enter")
	a.label("syscall.save")
	saveGPRs()
	a.store(rCX, d(dRIP))
	a.store(rR11, d(dRFLAGS))
	a.raw(0x48, 0x8b, 0x44, 0x24, 0x18) // mov 24(%rsp),%rax: the frame's rsp
	a.store(rAX, d(dRSP))
	a.load(rAX, d(dRAX))
	a.movMemImm32(d(dVector), kindSyscall)
	a.movMemImm32(d(dCS), selUserCS)
	a.fxsave64(d(dFX))
	a.jmp("exit")

	// Exceptions: the vector stubs pushed [error code,] vector.
	a.label("exception")
	saveGPRs()
	for _, off := range []int{dVector, dErr, dRIP, dCS, dRFLAGS, dRSP} {
		a.pop(rAX)
		a.store(rAX, d(off))
	}
	a.pop(rAX) // ss
	a.cmpMemImm8(d(dVector), 14)
	a.jcc(ccNE, "exception.fx")
	a.raw(0x0f, 0x20, 0xd0) // mov %cr2,%rax
	a.store(rAX, d(dCR2))
	a.label("exception.fx")
	a.fxsave64(d(dFX))

	a.label("exit")
	a.raw(0xe6, exitPort) // out %al,$exitPort
	a.label("afterOut")

	a.label("enter")
	a.load(rCX, d(dNTouch))
	a.lea(rSI, blkTouch)
	a.raw(0x48, 0x85, 0xc9) // test %rcx,%rcx
	a.jcc(ccE, "enter.cr3")
	a.label("touch")
	a.raw(0x48, 0x8b, 0x3e)       // mov (%rsi),%rdi
	a.raw(0x40, 0xf6, 0xc7, 0x01) // test $1,%dil
	a.jcc(ccNE, "touch.page")
	a.raw(0xf0, 0x48, 0x83, 0x0f, 0x00) // lock orq $0,(%rdi)
	a.jmp("touch.next")
	a.label("touch.page")
	a.raw(0x48, 0x83, 0xe7, 0xfe)       // and $-2,%rdi
	a.raw(0xf0, 0x66, 0x83, 0x0f, 0x00) // lock orw $0,(%rdi)
	a.label("touch.next")
	a.raw(0x48, 0x83, 0xc6, 0x08) // add $8,%rsi
	a.raw(0x48, 0xff, 0xc9)       // dec %rcx
	a.jcc(ccNE, "touch")
	a.movMemImm32(d(dNTouch), 0)
	a.movMemImm32(d(dFlush), 1)

	a.label("enter.cr3")
	a.load(rAX, d(dWantCR3))
	a.cmpRegMem(rAX, d(dCurCR3))
	a.jcc(ccNE, "enter.loadcr3")
	a.cmpMemImm8(d(dFlush), 0)
	a.jcc(ccE, "enter.fs")
	a.label("enter.loadcr3")
	a.raw(0x0f, 0x22, 0xd8) // mov %rax,%cr3
	a.store(rAX, d(dCurCR3))
	a.movMemImm32(d(dFlush), 0)

	for _, m := range []struct {
		name      string
		want, cur int
		msr       uint32
	}{{"enter.fs", dWantFS, dCurFS, msrFSBase}, {"enter.gs", dWantGS, dCurGS, msrGSBase}} {
		a.label(m.name)
		a.load(rAX, d(m.want))
		a.cmpRegMem(rAX, d(m.cur))
		a.jcc(ccE, m.name+".done")
		a.store(rAX, d(m.cur))
		a.raw(0x48, 0x89, 0xc2)                                                    // mov %rax,%rdx
		a.raw(0x48, 0xc1, 0xea, 0x20)                                              // shr $32,%rdx
		a.raw(0xb9, byte(m.msr), byte(m.msr>>8), byte(m.msr>>16), byte(m.msr>>24)) // mov $msr,%ecx
		a.raw(0x0f, 0x30)                                                          // wrmsr
		a.label(m.name + ".done")
	}

	a.label("stopCheck")
	a.cmpMemImm8(d(dStop), 0)
	a.jcc(ccNE, "stop")
	a.fxrstor64(d(dFX))
	a.lea(rSP, blkStackTop)
	a.pushImm8(selUserSS)
	a.pushMem(d(dRSP))
	a.pushMem(d(dRFLAGS))
	a.pushImm8(selUserCS)
	a.pushMem(d(dRIP))
	for _, s := range gprSlots {
		a.load(s.reg, d(s.off))
	}
	a.label("iret")
	a.raw(0x48, 0xcf) // iretq

	// The host asked to leave before the guest runs (an interrupt that
	// caught the vCPU inside the stub, or more touches than one list).
	a.label("stop")
	a.movMemImm32(d(dVector), kindStop)
	a.jmp("exit")

	var s stubCode
	for v := 0; v < nVectors; v++ {
		name := fmt.Sprintf("vector%d", v)
		a.label(name)
		if v == 6 {
			// #UD at trampVA: the trampoline (or a guest's ud2 there).
			a.raw(0x50)                         // push %rax
			a.raw(0x48, 0x8b, 0x44, 0x24, 0x08) // mov 8(%rsp),%rax: the frame's rip
			a.cmpRegMem(rAX, d(dSysRet))
			a.raw(0x58) // pop %rax
			a.jcc(ccE, "syscall")
		}
		if !vectorHasErrorCode(v) {
			a.pushImm8(0)
		}
		a.pushImm8(int8(v))
		a.jmp("exception")
	}
	s.code = a.finish()
	if len(s.code) > pageSize {
		panic("kvm: stub larger than a page")
	}
	s.syscall = a.labels["syscall"]
	s.afterOut = a.labels["afterOut"]
	s.enter = a.labels["enter"]
	s.stopCheck, s.iret, s.stop = a.labels["stopCheck"], a.labels["iret"], a.labels["stop"]
	for v := range s.vectors {
		s.vectors[v] = a.labels[fmt.Sprintf("vector%d", v)]
	}
	return s
}
