package kvm

import (
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// vcpu is one virtual CPU of the VM and its block of private memory (stub
// code, data page, GDT/TSS/IDT, touch list, ring-0 stack). Only the thread
// that holds it (busy) runs it or touches its block.
type vcpu struct {
	vm  *vm
	id  int
	fd  int
	run runArea
	blk uint64 // private offset of the block

	// ring0 says the vCPU stopped at the stub's `out`, so the next KVM_RUN
	// continues on the stub's way in; otherwise it is in ring 3 (fresh, or
	// interrupted in guest code) and enters through the trampoline.
	ring0   bool
	lastGen uint64
	// cursor is how far u has applied the VM's touch log (vm.mu).
	cursor    uint64
	mxcsrMask uint32

	busy    atomic.Bool
	preempt atomic.Bool
	tid     atomic.Int32 // the thread in KVM_RUN, 0 when none
	// as is the address space u runs guest code of, nil between Switches;
	// loaded is the log index below which every touch is applied before
	// u runs guest code again. A shootdown waits on both (vm.cond).
	as     atomic.Pointer[AddressSpace]
	loaded atomic.Uint64
	// xsave receives KVM_GET_XSAVE.
	xsave [kvmXsaveSize]byte
	// r3ctx is the context whose syscall left u stopped at the LSTAR
	// exit in ring 3 (nil otherwise): its next Switch may resume the
	// guest with the synced registers alone (fastEnter). fxLive is the FP
	// state that context was handed, still live in the vCPU.
	r3ctx  *Context
	fxLive [swXCR0]byte
}

// newVCPU creates vCPU id with the long-mode state of a ring-3 guest.
func newVCPU(v *vm, id int) (*vcpu, error) {
	fd, err := ioctl(v.vmfd, kvmCreateVCPU, uintptr(id))
	if err != nil {
		return nil, errorf("KVM_CREATE_VCPU %d: %w", id, err)
	}
	u := &vcpu{vm: v, id: id, fd: int(fd), blk: privBlocks + uint64(id)*blockSize, mxcsrMask: v.mxcsrMask}
	rb, err := unix.Mmap(u.fd, 0, v.runSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		unix.Close(u.fd)
		return nil, errorf("mmap kvm_run: %w", err)
	}
	u.run = runArea{rb}
	if err := u.setup(); err != nil {
		u.close()
		return nil, err
	}
	return u, nil
}

// kva is the kernel virtual address of a block offset.
func (u *vcpu) kva(off uint64) uint64 { return kernBase + u.blk + off }

// data returns the data-page word at off.
func (u *vcpu) data(off uint64) uint64 { return u.vm.priv.load64(u.blk + blkData + off) }

// setData stores the data-page word at off.
func (u *vcpu) setData(off, val uint64) { u.vm.priv.store64(u.blk+blkData+off, val) }

// fxArea is the data page's FXSAVE area.
func (u *vcpu) fxArea() []byte { return u.vm.priv.bytesAt(u.blk+blkData+dFX, 512) }

func (u *vcpu) setup() error {
	v := u.vm
	if err := setCPUID(u.fd, v.cpuid); err != nil {
		return errorf("KVM_SET_CPUID2: %w", err)
	}
	blk := v.priv.bytesAt(u.blk, blockSize)
	clear(blk)
	copy(blk[blkCode:], v.stub.code)
	buildGDT(blk[blkGDT:], u.kva(blkTSS))
	buildTSS(blk[blkTSS:], u.kva(blkStackTop))
	var handlers []uint64
	for _, off := range v.stub.vectors {
		handlers = append(handlers, u.kva(blkCode+uint64(off)))
	}
	buildIDT(blk[blkIDT:], handlers)
	idle := v.gpa(privIdlePML4)
	u.setData(dTrampRt, trampRetAddr)
	u.setData(dSysRet, trampVA)
	u.setData(dWantCR3, idle)
	u.setData(dCurCR3, idle)

	var s kvmSregs
	if err := getSregs(u.fd, &s); err != nil {
		return errorf("KVM_GET_SREGS: %w", err)
	}
	code := kvmSegment{Base: 0, Limit: 0xffffffff, Selector: selUserCS, Type: 11, Present: 1, DPL: 3, S: 1, L: 1, G: 1}
	data := kvmSegment{Base: 0, Limit: 0xffffffff, Selector: selUserSS, Type: 3, Present: 1, DPL: 3, DB: 1, S: 1, G: 1}
	null := kvmSegment{Type: 3, Unusable: 1, S: 1, DPL: 3}
	s.CS, s.SS = code, data
	s.DS, s.ES, s.FS, s.GS = null, null, null, null
	s.TR = kvmSegment{Base: u.kva(blkTSS), Limit: tssLimit, Selector: selTSS, Type: 11, Present: 1}
	s.LDT = kvmSegment{Type: 2, Unusable: 1}
	s.GDT = kvmDTable{Base: u.kva(blkGDT), Limit: gdtLimit}
	s.IDT = kvmDTable{Base: u.kva(blkIDT), Limit: idtLimit}
	s.CR0 = cr0PE | cr0MP | cr0ET | cr0NE | cr0WP | cr0AM | cr0PG
	s.CR3 = idle
	s.CR4 = cr4PAE | cr4OSFXSR | cr4OSXMMEXCPT
	s.EFER = eferSCE | eferLME | eferLMA | eferNXE
	if err := setSregs(u.fd, &s); err != nil {
		return errorf("KVM_SET_SREGS: %w", err)
	}
	// STAR: syscall loads CS 0x10/SS 0x18 (sysret would use 0x33/0x2b);
	// SFMASK clears TF, IF, DF, IOPL, NT, RF, AC and ID as Linux's
	// syscall_init does.
	star := uint64(0x23)<<48 | uint64(selKernCS)<<32
	if err := setMSRs(u.fd, [][2]uint64{
		{msrSTAR, star},
		{msrLSTAR, lstarVA},
		{msrCSTAR, 0},
		{msrSFMASK, 0x257fd5},
		{msrFSBase, 0},
		{msrGSBase, 0},
		{msrKernelGSBase, 0},
	}); err != nil {
		return errorf("KVM_SET_MSRS: %w", err)
	}
	u.run.setValidRegs(syncRegsGPR)
	return nil
}

// kick makes KVM_RUN on u return (or the next one return at once):
// immediate_exit, then a signal to the thread in KVM_RUN. SIGURG is Go's
// own preemption signal, always handled and harmless to any thread.
func (u *vcpu) kick() {
	u.run.setImmediateExit(1)
	if tid := u.tid.Load(); tid != 0 {
		unix.Tgkill(unix.Getpid(), int(tid), unix.SIGURG)
	}
}

// leave records that u no longer runs guest code and wakes shootdowns
// waiting for it.
func (u *vcpu) leave() {
	v := u.vm
	v.mu.Lock()
	u.as.Store(nil)
	v.cond.Broadcast()
	v.mu.Unlock()
}

// close frees the vCPU's fd and kvm_run mapping.
func (u *vcpu) close() {
	if u.run.b != nil {
		unix.Munmap(u.run.b)
	}
	unix.Close(u.fd)
}
