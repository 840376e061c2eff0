package kvm

import (
	"golang.org/x/sys/unix"
	"kvsentry/platform"
)

// si_code values (include/uapi/asm-generic/siginfo.h).
const (
	siKernel   = 0x80
	illIllOpn  = 2
	fpeIntDiv  = 1
	fpeIntOvf  = 2
	fpeFltDiv  = 3
	fpeFltOvf  = 4
	fpeFltUnd  = 5
	fpeFltRes  = 6
	fpeFltInv  = 7
	segvMapErr = 1
	segvAccErr = 2
	busAdrAln  = 1
	trapBrkpt  = 1
	trapTrace  = 2
)

// Page-fault error code bits (SDM vol. 3, 4.7).
const (
	pfProtection = 1 << 0
	pfWrite      = 1 << 1
	pfFetch      = 1 << 4
)

// exceptionEvent turns a guest exception into the event Linux's trap
// handlers (arch/x86/kernel/traps.c, arch/x86/mm/fault.c) would turn into a
// signal. fx is the FXSAVE area saved at the exception (for #MF/#XM codes).
func exceptionEvent(vector, errCode, cr2, rip uint64, fx []byte) platform.Event {
	sig := func(signo unix.Signal, code int32, addr uint64) platform.Event {
		return platform.Event{Kind: platform.EventSignal, Signo: int32(signo), Code: code, Addr: addr}
	}
	switch vector {
	case 0: // #DE: do_error_trap(..., SIGFPE, FPE_INTDIV, ip)
		return sig(unix.SIGFPE, fpeIntDiv, rip)
	case 1: // #DB: single step or a hardware breakpoint
		return sig(unix.SIGTRAP, trapTrace, rip)
	case 3: // #BP: do_int3_user -> do_trap(SIGTRAP) with SI_KERNEL
		return sig(unix.SIGTRAP, siKernel, 0)
	case 4, 5, 10, 13: // #OF, #BR, #TS, #GP: SIGSEGV SI_KERNEL
		return sig(unix.SIGSEGV, siKernel, 0)
	case 6: // #UD
		return sig(unix.SIGILL, illIllOpn, rip)
	case 11, 12: // #NP, #SS: SIGBUS SI_KERNEL
		return sig(unix.SIGBUS, siKernel, 0)
	case 14:
		ev := platform.Event{Kind: platform.EventFault, Addr: cr2, Signo: int32(unix.SIGSEGV), Code: segvMapErr}
		if errCode&pfProtection != 0 {
			ev.Code = segvAccErr
		}
		switch {
		case errCode&pfFetch != 0:
			ev.Access = platform.Execute
		case errCode&pfWrite != 0:
			ev.Access = platform.Write
		default:
			ev.Access = platform.Read
		}
		return ev
	case 16: // #MF: x87 exception, code from the status word (fpu__exception_code)
		cwd, swd := uint32(le.Uint16(fx[0:])), uint32(le.Uint16(fx[2:]))
		return sig(unix.SIGFPE, fpCode(swd & ^cwd & 0x3f), rip)
	case 17: // #AC
		return sig(unix.SIGBUS, busAdrAln, 0)
	case 19: // #XM: SIMD exception, code from MXCSR
		mxcsr := le.Uint32(fx[24:])
		return sig(unix.SIGFPE, fpCode(mxcsr & ^(mxcsr>>7) & 0x3f), rip)
	}
	return sig(unix.SIGSEGV, siKernel, 0)
}

// fpCode maps unmasked x87/SSE exception flags to an si_code as
// fpu__exception_code does.
func fpCode(err uint32) int32 {
	switch {
	case err&0x01 != 0: // invalid operation
		return fpeFltInv
	case err&0x04 != 0: // divide by zero
		return fpeFltDiv
	case err&0x08 != 0:
		return fpeFltOvf
	case err&0x12 != 0: // underflow or denormal
		return fpeFltUnd
	case err&0x20 != 0:
		return fpeFltRes
	}
	return 0
}
