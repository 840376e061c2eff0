package signal

import "encoding/binary"

// InfoSize is sizeof(siginfo_t) on Linux x86-64.
const InfoSize = 128

// si_code values (include/uapi/asm-generic/siginfo.h).
const (
	// SIUser is SI_USER: sent by kill(2).
	SIUser = 0
	// SIKernel is SI_KERNEL.
	SIKernel = 0x80
	// SIQueue is SI_QUEUE: sent by sigqueue(3).
	SIQueue = -1
	// SITimer is SI_TIMER.
	SITimer = -2
	// SITkill is SI_TKILL: sent by tkill/tgkill.
	SITkill = -6
	// CLDExited .. CLDContinued are SIGCHLD's codes.
	CLDExited    = 1
	CLDKilled    = 2
	CLDDumped    = 3
	CLDTrapped   = 4
	CLDStopped   = 5
	CLDContinued = 6
)

// siginfo_t field offsets (include/uapi/asm-generic/siginfo.h on x86-64):
// the union _sifields starts at 16.
const (
	siSignoOff   = 0
	siErrnoOff   = 4
	siCodeOff    = 8
	siPidOff     = 16 // kill, rt, SIGCHLD
	siUIDOff     = 20
	siTimerIDOff = 16 // POSIX timers
	siOverrunOff = 20
	siValueOff   = 24 // rt and timers: sigval
	siStatusOff  = 24 // SIGCHLD
	siUtimeOff   = 32
	siStimeOff   = 40
	siAddrOff    = 16 // faults
)

// Info is a siginfo_t: the fields the sentry produces, laid out by Marshal
// as Linux's siginfo_layout() places them for the signal and code.
type Info struct {
	Signo, Errno, Code int32
	// Pid and UID: the sender (kill, sigqueue, SIGCHLD).
	Pid int32
	UID uint32
	// Status is SIGCHLD's exit code or signal.
	Status int32
	// Utime and Stime are SIGCHLD's child CPU times in clock ticks.
	Utime, Stime int64
	// Addr is the faulting address (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP).
	Addr uint64
	// Value is sigqueue's or a timer's sigval.
	Value uint64
	// TimerID and Overrun are POSIX timer fields.
	TimerID, Overrun int32
}

// isFaultSignal reports whether sig carries si_addr when sent by the kernel.
func isFaultSignal(sig int32) bool {
	switch sig {
	case 4, 5, 7, 8, 11: // SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGSEGV
		return true
	}
	return false
}

// Marshal writes the 128-byte siginfo_t into b.
func (i *Info) Marshal(b []byte) {
	_ = b[InfoSize-1]
	clear(b[:InfoSize])
	le := binary.LittleEndian
	le.PutUint32(b[siSignoOff:], uint32(i.Signo))
	le.PutUint32(b[siErrnoOff:], uint32(i.Errno))
	le.PutUint32(b[siCodeOff:], uint32(i.Code))
	switch {
	case i.Code == SITimer:
		le.PutUint32(b[siTimerIDOff:], uint32(i.TimerID))
		le.PutUint32(b[siOverrunOff:], uint32(i.Overrun))
		le.PutUint64(b[siValueOff:], i.Value)
	case i.Code <= 0 || i.Code == SIKernel:
		// kill/tkill/sigqueue layout: pid, uid, value.
		le.PutUint32(b[siPidOff:], uint32(i.Pid))
		le.PutUint32(b[siUIDOff:], i.UID)
		le.PutUint64(b[siValueOff:], i.Value)
	case i.Signo == 17: // SIGCHLD
		le.PutUint32(b[siPidOff:], uint32(i.Pid))
		le.PutUint32(b[siUIDOff:], i.UID)
		le.PutUint32(b[siStatusOff:], uint32(i.Status))
		le.PutUint64(b[siUtimeOff:], uint64(i.Utime))
		le.PutUint64(b[siStimeOff:], uint64(i.Stime))
	case isFaultSignal(i.Signo):
		le.PutUint64(b[siAddrOff:], i.Addr)
	default:
		le.PutUint32(b[siPidOff:], uint32(i.Pid))
		le.PutUint32(b[siUIDOff:], i.UID)
	}
}

// Unmarshal reads a siginfo_t as rt_sigqueueinfo passes it (sender fields).
func (i *Info) Unmarshal(b []byte) {
	le := binary.LittleEndian
	i.Signo = int32(le.Uint32(b[siSignoOff:]))
	i.Errno = int32(le.Uint32(b[siErrnoOff:]))
	i.Code = int32(le.Uint32(b[siCodeOff:]))
	i.Pid = int32(le.Uint32(b[siPidOff:]))
	i.UID = le.Uint32(b[siUIDOff:])
	i.Value = le.Uint64(b[siValueOff:])
}
