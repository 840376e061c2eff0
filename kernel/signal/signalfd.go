package signal

import "encoding/binary"

// SignalfdInfoSize is sizeof(struct signalfd_siginfo), the record a read of
// a signalfd returns for each signal (include/uapi/linux/signalfd.h).
const SignalfdInfoSize = 128

// struct signalfd_siginfo field offsets (include/uapi/linux/signalfd.h).
const (
	SsiSignoOff   = 0
	SsiErrnoOff   = 4
	SsiCodeOff    = 8
	SsiPidOff     = 12
	SsiUIDOff     = 16
	SsiFdOff      = 20
	SsiTidOff     = 24
	SsiBandOff    = 28
	SsiOverrunOff = 32
	SsiTrapnoOff  = 36
	SsiStatusOff  = 40
	SsiIntOff     = 44
	SsiPtrOff     = 48
	SsiUtimeOff   = 56
	SsiStimeOff   = 64
	SsiAddrOff    = 72
)

// MarshalSignalfd writes info as a struct signalfd_siginfo into b, filling
// the fields siginfo_layout() gives the signal and code, as
// signalfd_copyinfo (fs/signalfd.c) does.
func (i *Info) MarshalSignalfd(b []byte) {
	_ = b[SignalfdInfoSize-1]
	clear(b[:SignalfdInfoSize])
	le := binary.LittleEndian
	le.PutUint32(b[SsiSignoOff:], uint32(i.Signo))
	le.PutUint32(b[SsiErrnoOff:], uint32(i.Errno))
	le.PutUint32(b[SsiCodeOff:], uint32(i.Code))
	switch {
	case i.Code == SITimer:
		le.PutUint32(b[SsiTidOff:], uint32(i.TimerID))
		le.PutUint32(b[SsiOverrunOff:], uint32(i.Overrun))
		le.PutUint64(b[SsiPtrOff:], i.Value)
		le.PutUint32(b[SsiIntOff:], uint32(i.Value))
	case i.Code < 0:
		// SIL_RT: sigqueue, tkill, message queues.
		le.PutUint32(b[SsiPidOff:], uint32(i.Pid))
		le.PutUint32(b[SsiUIDOff:], i.UID)
		le.PutUint64(b[SsiPtrOff:], i.Value)
		le.PutUint32(b[SsiIntOff:], uint32(i.Value))
	case i.Code > 0 && i.Code != SIKernel && i.Signo == 17: // SIGCHLD
		le.PutUint32(b[SsiPidOff:], uint32(i.Pid))
		le.PutUint32(b[SsiUIDOff:], i.UID)
		le.PutUint32(b[SsiStatusOff:], uint32(i.Status))
		le.PutUint64(b[SsiUtimeOff:], uint64(i.Utime))
		le.PutUint64(b[SsiStimeOff:], uint64(i.Stime))
	case i.Code > 0 && i.Code != SIKernel && isFaultSignal(i.Signo):
		le.PutUint64(b[SsiAddrOff:], i.Addr)
	default:
		// SIL_KILL: kill(2), SI_KERNEL.
		le.PutUint32(b[SsiPidOff:], uint32(i.Pid))
		le.PutUint32(b[SsiUIDOff:], i.UID)
	}
}
