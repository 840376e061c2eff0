package ptrace

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// This file holds every raw host call of the package that passes a pointer:
// ptrace(2) requests on register sets and siginfo, wait4(2), and the copy of
// a batch into the stub's scratch page. Callers pass pointers into
// long-lived (heap) structures so that no call allocates.

// iovec is struct iovec of readv(2), used by PTRACE_GETREGSET/SETREGSET.
type iovec struct {
	base uintptr
	len  uint64
}

// ptraceOp issues a ptrace(2) request without a pointer argument.
func ptraceOp(req, tid int, addr, data uintptr) error {
	_, _, e := unix.RawSyscall6(unix.SYS_PTRACE, uintptr(req), uintptr(tid), addr, data, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// getRegs is PTRACE_GETREGS (struct user_regs_struct, fs_base/gs_base included).
func getRegs(tid int, r *unix.PtraceRegs) error {
	_, _, e := unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_GETREGS, uintptr(tid), 0, uintptr(unsafe.Pointer(r)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// setRegs is PTRACE_SETREGS.
func setRegs(tid int, r *unix.PtraceRegs) error {
	_, _, e := unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_SETREGS, uintptr(tid), 0, uintptr(unsafe.Pointer(r)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// getXState is PTRACE_GETREGSET NT_X86_XSTATE into buf; it returns the
// number of bytes the kernel wrote (it shortens iov_len to the XSAVE size).
func getXState(tid int, iov *iovec, buf []byte) (int, error) {
	if len(buf) == 0 {
		return 0, unix.EINVAL
	}
	iov.base = uintptr(unsafe.Pointer(&buf[0]))
	iov.len = uint64(len(buf))
	_, _, e := unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_GETREGSET, uintptr(tid), unix.NT_X86_XSTATE, uintptr(unsafe.Pointer(iov)), 0, 0)
	iov.base = 0
	if e != 0 {
		return 0, e
	}
	return int(iov.len), nil
}

// setXState is PTRACE_SETREGSET NT_X86_XSTATE from buf.
func setXState(tid int, iov *iovec, buf []byte) error {
	if len(buf) == 0 {
		return unix.EINVAL
	}
	iov.base = uintptr(unsafe.Pointer(&buf[0]))
	iov.len = uint64(len(buf))
	_, _, e := unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_SETREGSET, uintptr(tid), unix.NT_X86_XSTATE, uintptr(unsafe.Pointer(iov)), 0, 0)
	iov.base = 0
	if e != 0 {
		return e
	}
	return nil
}

// getSiginfo is PTRACE_GETSIGINFO into a raw 128-byte siginfo_t.
func getSiginfo(tid int, si *[128]byte) error {
	_, _, e := unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_GETSIGINFO, uintptr(tid), 0, uintptr(unsafe.Pointer(si)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// wait4 is wait4(2) for one thread with __WALL, retried on EINTR. It blocks
// for as long as the guest runs, so it goes through Syscall6: the P is handed
// off and a stop-the-world GC never waits for a spinning guest. (RawSyscall6
// was not measurably faster here: both ~12-20 us per getpid, noisy.)
func wait4(tid int, status *unix.WaitStatus) error {
	for {
		_, _, e := unix.Syscall6(unix.SYS_WAIT4, uintptr(tid), uintptr(unsafe.Pointer(status)), unix.WALL, 0, 0, 0)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		return nil
	}
}

// writeStubMemory copies b to addr in process pid (process_vm_writev(2)).
func writeStubMemory(pid int, addr uintptr, b []byte) error {
	local := []unix.Iovec{{Base: &b[0]}}
	local[0].SetLen(len(b))
	remote := []unix.RemoteIovec{{Base: addr, Len: len(b)}}
	n, err := unix.ProcessVMWritev(pid, local, remote, 0)
	if err != nil {
		return err
	}
	if n != len(b) {
		return unix.EFAULT
	}
	return nil
}
