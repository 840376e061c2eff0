package kvm

import (
	"runtime"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ioctl issues ioctl(2) with a plain integer argument. It may block (KVM_RUN),
// so it goes through the scheduler-aware unix.Syscall. A call other than
// KVM_RUN that a signal interrupted (KVM_CREATE_VM can be, by the Go
// runtime's own SIGURG) is retried; KVM_RUN's EINTR is the caller's event.
func ioctl(fd int, req uintptr, arg uintptr) (uintptr, error) {
	for {
		r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, arg)
		if e == unix.EINTR && req != kvmRun {
			continue
		}
		if e != 0 {
			return r, e
		}
		return r, nil
	}
}

// ioctlPtr issues ioctl(2) with a pointer argument, retried on EINTR.
func ioctlPtr(fd int, req uintptr, p unsafe.Pointer) error {
	for {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(p))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		return nil
	}
}

func setUserMemoryRegion(vmfd int, r *kvmUserspaceMemoryRegion) error {
	return ioctlPtr(vmfd, kvmSetUserMemoryRegion, unsafe.Pointer(r))
}

func getSregs(fd int, s *kvmSregs) error { return ioctlPtr(fd, kvmGetSregs, unsafe.Pointer(s)) }
func setSregs(fd int, s *kvmSregs) error { return ioctlPtr(fd, kvmSetSregs, unsafe.Pointer(s)) }

// getXsave reads the vCPU's FP state with KVM_GET_XSAVE. Unlike
// KVM_GET_FPU, which copies the raw FXSAVE area of a buffer the host saved
// with XSAVES (stale for components in their init state: MXCSR reads 0),
// it fills components in the init state with their init values.
func getXsave(fd int, b *[kvmXsaveSize]byte) error {
	return ioctlPtr(fd, kvmGetXsave, unsafe.Pointer(&b[0]))
}

// setMSRs loads MSRs with KVM_SET_MSRS (struct kvm_msrs: nmsrs, pad, then
// {index, reserved, data} entries).
func setMSRs(fd int, msrs [][2]uint64) error {
	buf := make([]uint64, 1+2*len(msrs))
	buf[0] = uint64(len(msrs))
	for i, m := range msrs {
		buf[1+2*i] = m[0]
		buf[2+2*i] = m[1]
	}
	r, err := ioctl(fd, kvmSetMSRs, uintptr(unsafe.Pointer(&buf[0])))
	runtime.KeepAlive(buf)
	if err != nil {
		return err
	}
	if int(r) != len(msrs) {
		return unix.EINVAL
	}
	return nil
}

// supportedCPUID reads KVM_GET_SUPPORTED_CPUID from the /dev/kvm fd.
func supportedCPUID(kvmfd int) ([]kvmCPUIDEntry2, error) {
	const max = 256
	type cpuid2 struct {
		Nent, _ uint32
		Entries [max]kvmCPUIDEntry2
	}
	c := &cpuid2{Nent: max}
	if err := ioctlPtr(kvmfd, kvmGetSupportedCPUID, unsafe.Pointer(c)); err != nil {
		return nil, err
	}
	return append([]kvmCPUIDEntry2(nil), c.Entries[:c.Nent]...), nil
}

// setCPUID loads a vCPU's CPUID table with KVM_SET_CPUID2.
func setCPUID(fd int, entries []kvmCPUIDEntry2) error {
	buf := make([]byte, 8+len(entries)*int(unsafe.Sizeof(kvmCPUIDEntry2{})))
	*(*uint32)(unsafe.Pointer(&buf[0])) = uint32(len(entries))
	for i := range entries {
		*(*kvmCPUIDEntry2)(unsafe.Pointer(&buf[8+i*int(unsafe.Sizeof(kvmCPUIDEntry2{}))])) = entries[i]
	}
	return ioctlPtr(fd, kvmSetCPUID2, unsafe.Pointer(&buf[0]))
}

// runArea is a vCPU's mmap'ed struct kvm_run.
type runArea struct{ b []byte }

func (r runArea) exitReason() uint32 { return *(*uint32)(unsafe.Pointer(&r.b[runExitReason])) }
func (r runArea) ioPort() uint16     { return *(*uint16)(unsafe.Pointer(&r.b[runIOPort])) }
func (r runArea) ioDirection() uint8 { return r.b[runIODirection] }
func (r runArea) hwReason() uint64   { return *(*uint64)(unsafe.Pointer(&r.b[runHWReason])) }

// setImmediateExit sets kvm_run.immediate_exit; Interrupt writes it from
// another thread while KVM_RUN may be reading it.
func (r runArea) setImmediateExit(v uint8) {
	p := (*uint32)(unsafe.Pointer(&r.b[0])) // bytes 0..3: request_interrupt_window, immediate_exit, padding
	for {
		old := atomic.LoadUint32(p)
		nw := old&^0xff00 | uint32(v)<<8
		if atomic.CompareAndSwapUint32(p, old, nw) {
			return
		}
	}
}

func (r runArea) setValidRegs(v uint64) { *(*uint64)(unsafe.Pointer(&r.b[runValidRegs])) = v }
func (r runArea) setDirtyRegs(v uint64) { *(*uint64)(unsafe.Pointer(&r.b[runDirtyRegs])) = v }

// regs is kvm_run.s.regs.regs (KVM_CAP_SYNC_REGS).
func (r runArea) regs() *[nRegs]uint64 {
	return (*[nRegs]uint64)(unsafe.Pointer(&r.b[runSyncRegs]))
}

// mem is host memory that is also guest-physical memory (a memslot).
type mem struct{ b []byte }

// u64 returns a pointer to the aligned 64-bit word at off.
func (m mem) u64(off uint64) *uint64 { return (*uint64)(unsafe.Pointer(&m.b[off])) }

// load64 and store64 access page-table entries that other host threads may
// edit concurrently (the guest only reads them).
func (m mem) load64(off uint64) uint64     { return atomic.LoadUint64(m.u64(off)) }
func (m mem) store64(off uint64, v uint64) { atomic.StoreUint64(m.u64(off), v) }

// bytesAt returns the host view of [off, off+n).
func (m mem) bytesAt(off, n uint64) []byte { return m.b[off : off+n : off+n] }

// sliceAddr is the host address of b's first byte.
func sliceAddr(b []byte) uint64 { return uint64(uintptr(unsafe.Pointer(&b[0]))) }
