package mm

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// FaultError is an unresolvable guest fault: the signal Linux would deliver
// (do_user_addr_fault / do_sigbus in arch/x86/mm/fault.c).
type FaultError struct {
	Signo, Code int32
	// Mapped is set when the page was already mapped as its area allows:
	// either a real protection violation, or (on a platform that cannot
	// tell accesses apart, with several threads) a fault another thread
	// resolved meanwhile. The caller retries once before believing it.
	Mapped bool
}

// Error implements error.
func (e *FaultError) Error() string {
	return fmt.Sprintf("mm: fault: signal %d code %d", e.Signo, e.Code)
}

// si_code values (include/uapi/asm-generic/siginfo.h).
const (
	segvMapErr = 1 // SEGV_MAPERR
	segvAccErr = 2 // SEGV_ACCERR
	busAdrErr  = 2 // BUS_ADRERR
)

func errMapErr() *FaultError { return &FaultError{Signo: int32(unix.SIGSEGV), Code: segvMapErr} }
func errAccErr() *FaultError { return &FaultError{Signo: int32(unix.SIGSEGV), Code: segvAccErr} }
func errBus() *FaultError    { return &FaultError{Signo: int32(unix.SIGBUS), Code: busAdrErr} }
