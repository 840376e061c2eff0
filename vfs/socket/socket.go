// Package socket implements the guest's sockets as vfs.FileImpl values:
// AF_UNIX stream, datagram and seqpacket sockets in memory (unix*.go), and
// AF_INET, AF_INET6 and AF_NETLINK (route) sockets backed by host sockets
// the sentry holds (host*.go), created in the sandbox's network namespace
// (netns.go). The guest only ever sees its own descriptors.
//
// Lock order: unixMu (every AF_UNIX socket's state) -> vfs wait-queue locks.
// hostSocket.mu -> vfs wait-queue locks. hostPoller.mu is taken alone.
// No lock is held while a caller blocks.
package socket

import (
	"errors"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"kvsentry/vfs"
)

// ErrRestart is Linux's kernel-internal ERESTARTSYS (512): a blocking socket
// call was interrupted by a signal and may be restarted (sock_intr_errno
// without a timeout). With SO_RCVTIMEO/SO_SNDTIMEO set, calls give EINTR.
var ErrRestart error = unix.Errno(512)

// Cred is a process's credentials as struct ucred carries them.
type Cred struct {
	PID      int32
	UID, GID uint32
}

// Env is the calling task's context for one socket operation.
type Env struct {
	// VFS and Ctx resolve AF_UNIX path names.
	VFS *vfs.VFS
	Ctx *vfs.Ctx
	// Umask applies to the socket files bind creates.
	Umask uint32
	// Cred is the caller's (tgid, euid, egid).
	Cred Cred
	// Root reports whether the caller may forge SCM_CREDENTIALS.
	Root bool
	// Cancel closes when the caller is interrupted.
	Cancel <-chan struct{}
}

// Control is the ancillary data of one sendmsg, decoded by the sentry.
type Control struct {
	// Rights are the files of SCM_RIGHTS; the socket takes the references.
	Rights []*vfs.File
	// Cred is the SCM_CREDENTIALS value, if given.
	Cred *Cred
	// Raw is the guest's whole control buffer (host sockets pass it on).
	Raw []byte
}

// Release drops the references Control holds.
func (c *Control) Release() {
	if c == nil {
		return
	}
	for _, f := range c.Rights {
		f.DecRef()
	}
	c.Rights = nil
}

// Received is what one recvmsg produced besides the data itself.
type Received struct {
	// N bytes were copied into the buffer; Len is the message's real length
	// (what MSG_TRUNC returns for datagrams).
	N, Len int
	// From is the sender's address (nil: none).
	From []byte
	// Rights are SCM_RIGHTS files, each with a reference for the caller.
	Rights []*vfs.File
	// Cred is set when the receiver asked for SCM_CREDENTIALS.
	Cred *Cred
	// RawCtl is a host socket's control data, passed on as it is.
	RawCtl []byte
	// Flags are the msg_flags bits (MSG_TRUNC, MSG_CTRUNC, MSG_EOR ...).
	Flags int
}

// Socket is what the sentry's socket syscalls need of a socket file
// (struct proto_ops).
type Socket interface {
	vfs.FileImpl
	// Info returns the domain, type and protocol given to socket(2).
	Info() (family, typ, protocol int)
	// Bind binds the socket to the raw sockaddr addr.
	Bind(e *Env, addr []byte) error
	// Listen makes a stream socket passive.
	Listen(e *Env, backlog int) error
	// Accept takes one pending connection.
	Accept(e *Env, nonblock bool) (Socket, error)
	// Connect connects to, or for datagrams sets the default peer, addr.
	Connect(e *Env, addr []byte, nonblock bool) error
	// Shutdown shuts down reception (SHUT_RD), sending (SHUT_WR) or both.
	Shutdown(how int) error
	// SockName returns the local address.
	SockName() ([]byte, error)
	// PeerName returns the peer's address (ENOTCONN if none).
	PeerName() ([]byte, error)
	// GetSockOpt returns an option's value; size is the guest's optlen.
	GetSockOpt(e *Env, level, name, size int) ([]byte, error)
	// SetSockOpt sets an option from the guest's bytes.
	SetSockOpt(e *Env, level, name int, val []byte) error
	// SendMsg sends data to to (nil: the peer) with control data ctl.
	SendMsg(e *Env, data, to []byte, ctl *Control, flags int, nonblock bool) (int, error)
	// RecvMsg receives into dst; ctlLen is the guest's control buffer size.
	RecvMsg(e *Env, dst []byte, flags int, nonblock bool, ctlLen int) (Received, error)
}

// nextIno numbers socket inodes (sockfs's get_next_ino).
var nextIno atomic.Uint64

// sockfsDev is the device number fstat reports for sockets.
const sockfsDev = 8

// newIno returns a fresh socket inode number.
func newIno() uint64 { return nextIno.Add(1) + 1000 }

// sockStat is fstat of a socket (sockfs inode: S_IFSOCK|0777).
func sockStat(ino uint64, uid, gid uint32) vfs.Stat {
	return vfs.Stat{Dev: sockfsDev, Ino: ino, Mode: unix.S_IFSOCK | 0o777, UID: uid, GID: gid, Blksize: 4096}
}

// sockName is /proc/PID/fd's link text.
func sockName(ino uint64) string { return "socket:[" + itoa(ino) + "]" }

func itoa(n uint64) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// timeouts are SO_RCVTIMEO and SO_SNDTIMEO (0: none).
type timeouts struct {
	rcv, snd atomic.Int64 // nanoseconds
}

// errTimeout marks a wait that ran out of its SO_*TIMEO.
var errTimeout = errors.New("socket timeout")

// waitEvent blocks until ch fires, cancel closes (ErrRestart, or EINTR
// when a timeout is set) or the deadline passes (EAGAIN).
func waitEvent(ch <-chan struct{}, cancel <-chan struct{}, deadline time.Time) error {
	if deadline.IsZero() {
		select {
		case <-ch:
			return nil
		case <-cancel:
			return ErrRestart
		}
	}
	d := time.Until(deadline)
	if d <= 0 {
		return unix.EAGAIN
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ch:
		return nil
	case <-cancel:
		return unix.EINTR
	case <-tm.C:
		return unix.EAGAIN
	}
}

// deadlineFor turns a timeout in ns into a deadline (zero: none).
func deadlineFor(ns int64) time.Time {
	if ns <= 0 {
		return time.Time{}
	}
	return time.Now().Add(time.Duration(ns))
}

// fileErr maps ErrRestart to EINTR for read(2)/write(2) on a socket: vfs
// callers turn EINTR into a restart themselves.
func fileErr(err error) error {
	if err == ErrRestart {
		return unix.EINTR
	}
	return err
}

// timevalBytes encodes a duration in ns as struct timeval.
func timevalBytes(ns int64) []byte {
	b := make([]byte, 16)
	putU64(b, uint64(ns/1e9))
	putU64(b[8:], uint64(ns%1e9/1e3))
	return b
}

// parseTimeval decodes SO_RCVTIMEO's struct timeval (sock_set_timeout):
// EINVAL for a short buffer or bad microseconds; negative seconds mean 0.
func parseTimeval(b []byte) (int64, error) {
	if len(b) < 16 {
		return 0, unix.EINVAL
	}
	sec, usec := int64(getU64(b)), int64(getU64(b[8:]))
	if usec < 0 || usec >= 1e6 {
		return 0, unix.EDOM
	}
	if sec < 0 {
		return 0, nil
	}
	if sec == 0 && usec == 0 {
		return 0, nil
	}
	if sec > 1<<32 {
		return 0, nil // effectively infinite (MAX_SCHEDULE_TIMEOUT)
	}
	return sec*1e9 + usec*1e3, nil
}

func putU64(b []byte, v uint64) {
	for i := 0; i < 8; i++ {
		b[i] = byte(v >> (8 * i))
	}
}

func getU64(b []byte) uint64 {
	var v uint64
	for i := 0; i < 8; i++ {
		v |= uint64(b[i]) << (8 * i)
	}
	return v
}

func putU32(b []byte, v uint32) {
	for i := 0; i < 4; i++ {
		b[i] = byte(v >> (8 * i))
	}
}

func getU32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// intOpt encodes an int socket option value.
func intOpt(v int32) []byte {
	b := make([]byte, 4)
	putU32(b, uint32(v))
	return b
}

// intArg decodes an int option value (sockptr: at least 4 bytes, EINVAL
// otherwise).
func intArg(val []byte) (int32, error) {
	if len(val) < 4 {
		return 0, unix.EINVAL
	}
	return int32(getU32(val)), nil
}

// credBytes encodes struct ucred.
func credBytes(c Cred) []byte {
	b := make([]byte, 12)
	putU32(b, uint32(c.PID))
	putU32(b[4:], c.UID)
	putU32(b[8:], c.GID)
	return b
}

// commonSockOpt answers the SOL_SOCKET options every socket shares; ok is
// false when name is not one of them.
func commonGetOpt(t *timeouts, family, typ, proto, name int) ([]byte, bool) {
	switch name {
	case unix.SO_TYPE:
		return intOpt(int32(typ)), true
	case unix.SO_DOMAIN:
		return intOpt(int32(family)), true
	case unix.SO_PROTOCOL:
		return intOpt(int32(proto)), true
	case unix.SO_RCVTIMEO:
		return timevalBytes(t.rcv.Load()), true
	case unix.SO_SNDTIMEO:
		return timevalBytes(t.snd.Load()), true
	}
	return nil, false
}

// setTimeoutOpt handles SO_RCVTIMEO/SO_SNDTIMEO; ok is false for others.
func setTimeoutOpt(t *timeouts, name int, val []byte) (bool, error) {
	var dst *atomic.Int64
	switch name {
	case unix.SO_RCVTIMEO:
		dst = &t.rcv
	case unix.SO_SNDTIMEO:
		dst = &t.snd
	default:
		return false, nil
	}
	ns, err := parseTimeval(val)
	if err != nil {
		return true, err
	}
	dst.Store(ns)
	return true, nil
}
