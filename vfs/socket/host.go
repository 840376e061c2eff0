package socket

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"kvsentry/vfs"
)

// hostSocket is an AF_INET, AF_INET6 or AF_NETLINK socket carried out by a
// non-blocking host socket the sentry holds; the guest's blocking
// semantics, timeouts and interruption are the sentry's (host epoll tells
// when to retry).
type hostSocket struct {
	fd                 int
	family, typ, proto int
	ino                uint64
	owner              Cred
	wq                 queue
	tmo                timeouts
	mu                 sync.Mutex
	closed             bool
}

// newHostSocket wraps host fd (already non-blocking and close-on-exec).
func newHostSocket(fd, family, typ, proto int, owner Cred) (*hostSocket, error) {
	s := &hostSocket{fd: fd, family: family, typ: typ, proto: proto, ino: newIno(), owner: owner}
	if err := vfs.WatchHostFD(fd, s.wq.notify); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return s, nil
}

// Info implements Socket.
func (s *hostSocket) Info() (int, int, int) { return s.family, s.typ, s.proto }

// Stat implements vfs.FileImpl.
func (s *hostSocket) Stat() vfs.Stat { return sockStat(s.ino, s.owner.UID, s.owner.GID) }

// Name implements vfs.FileImpl.
func (s *hostSocket) Name() string { return sockName(s.ino) }

// Queue implements vfs.FileImpl.
func (s *hostSocket) Queue() *vfs.WaitQueue { return &s.wq.WaitQueue }

// HostFD returns the host socket (for the interface ioctls).
func (s *hostSocket) HostFD() int { return s.fd }

// Release implements vfs.FileImpl.
func (s *hostSocket) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	vfs.UnwatchHostFD(s.fd)
	unix.Close(s.fd)
	s.wq.notify(^uint32(0))
}

// Poll implements vfs.FileImpl: the host's readiness now.
func (s *hostSocket) Poll() uint32 {
	pfd := []unix.PollFd{{Fd: int32(s.fd), Events: int16(vfs.EventIn | vfs.EventOut | vfs.EventPri | vfs.EventRdHup | vfs.EventRdNorm | vfs.EventWrNorm | vfs.EventRdBand | vfs.EventWrBand)}}
	for {
		n, err := unix.Poll(pfd, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n == 0 {
			return 0
		}
		return uint32(uint16(pfd[0].Revents)) &^ vfs.EventNval
	}
}

// Ioctl implements vfs.FileImpl: FIONREAD (SIOCINQ); the sentry handles
// the interface ioctls.
func (s *hostSocket) Ioctl(cmd uint32, arg uint64) (uint64, error) {
	switch cmd {
	case vfs.FIONREAD, unix.SIOCOUTQ, unix.SIOCATMARK:
		v, err := unix.IoctlGetInt(s.fd, uint(cmd))
		return uint64(v), err
	}
	return 0, unix.ENOTTY
}

// retry runs op until it does not give EAGAIN, waiting for want between
// tries unless nonblock; the waiter is registered before the retry that
// follows a failure, so no edge is lost.
func (s *hostSocket) retry(cancel <-chan struct{}, want uint32, nonblock bool, deadline time.Time, op func() error) error {
	var w *waiter
	for {
		err := op()
		if err != unix.EAGAIN || nonblock {
			return err
		}
		if w == nil {
			w = s.wq.add(want | vfs.EventErr | vfs.EventHup)
			defer s.wq.remove(w)
			continue
		}
		if err := waitEvent(w.ch, cancel, deadline); err != nil {
			return err
		}
	}
}

// Read implements vfs.FileImpl.
func (s *hostSocket) Read(dst []byte, nonblock bool, cancel <-chan struct{}) (int, error) {
	var n int
	err := s.retry(cancel, vfs.EventIn, nonblock, deadlineFor(s.tmo.rcv.Load()), func() error {
		var err error
		n, err = retryEINTR(func() (int, error) { return unix.Read(s.fd, dst) })
		return err
	})
	if err != nil {
		return 0, fileErr(err)
	}
	return n, nil
}

// Write implements vfs.FileImpl: a blocking write sends everything.
func (s *hostSocket) Write(src []byte, nonblock bool, cancel <-chan struct{}) (int, error) {
	n, err := s.SendMsg(&Env{Cancel: cancel}, src, nil, nil, 0, nonblock)
	return n, fileErr(err)
}

// retryEINTR repeats a host call interrupted by a signal of the sentry's.
func retryEINTR(fn func() (int, error)) (int, error) {
	for {
		n, err := fn()
		if err != unix.EINTR {
			return n, err
		}
	}
}

// Bind implements Socket.
func (s *hostSocket) Bind(e *Env, addr []byte) error {
	if len(addr) < 2 {
		return unix.EINVAL
	}
	return hostBind(s.fd, addr)
}

// Listen implements Socket.
func (s *hostSocket) Listen(e *Env, backlog int) error {
	return unix.Listen(s.fd, backlog)
}

// Accept implements Socket: the new host socket is non-blocking too.
func (s *hostSocket) Accept(e *Env, nonblock bool) (Socket, error) {
	var nfd int
	err := s.retry(e.Cancel, vfs.EventIn, nonblock, deadlineFor(s.tmo.rcv.Load()), func() error {
		var err error
		for {
			nfd, _, err = hostAccept4(s.fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
			if err != unix.EINTR && err != unix.ECONNABORTED {
				return err
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return newHostSocket(nfd, s.family, s.typ, s.proto, e.Cred)
}

// Connect implements Socket (__inet_stream_connect): a blocking connect
// waits for the handshake, also when restarted after a signal (EALREADY
// from the host then means "still connecting").
func (s *hostSocket) Connect(e *Env, addr []byte, nonblock bool) error {
	err := hostConnect(s.fd, addr)
	if err == unix.EINTR {
		err = unix.EINPROGRESS
	}
	if (err != unix.EINPROGRESS && err != unix.EALREADY) || nonblock {
		return err
	}
	err = s.retry(e.Cancel, vfs.EventOut, false, deadlineFor(s.tmo.snd.Load()), func() error {
		if s.Poll()&(vfs.EventOut|vfs.EventErr|vfs.EventHup) == 0 {
			return unix.EAGAIN
		}
		return nil
	})
	if err == unix.EAGAIN {
		return unix.EINPROGRESS // SO_SNDTIMEO ran out
	}
	if err != nil {
		return err
	}
	soerr, gerr := unix.GetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if gerr != nil {
		return gerr
	}
	if soerr != 0 {
		return unix.Errno(soerr)
	}
	return nil
}

// Shutdown implements Socket.
func (s *hostSocket) Shutdown(how int) error { return unix.Shutdown(s.fd, how) }

// SockName implements Socket.
func (s *hostSocket) SockName() ([]byte, error) { return hostName(s.fd, false) }

// PeerName implements Socket.
func (s *hostSocket) PeerName() ([]byte, error) { return hostName(s.fd, true) }

// sendFlags are the MSG_ flags passed on to the host's sendmsg.
const sendFlags = unix.MSG_OOB | unix.MSG_DONTROUTE | unix.MSG_EOR | unix.MSG_MORE | unix.MSG_CONFIRM | unix.MSG_FASTOPEN | unix.MSG_ZEROCOPY

// SendMsg implements Socket; a blocking send of a stream socket sends all
// of data unless interrupted (tcp_sendmsg).
func (s *hostSocket) SendMsg(e *Env, data, to []byte, ctl *Control, flags int, nonblock bool) (int, error) {
	if ctl != nil && (len(ctl.Rights) > 0 || ctl.Cred != nil) {
		return 0, unix.EINVAL
	}
	nonblock = nonblock || flags&unix.MSG_DONTWAIT != 0
	var raw []byte
	if ctl != nil {
		raw = ctl.Raw
	}
	hf := flags&sendFlags | unix.MSG_NOSIGNAL | unix.MSG_DONTWAIT
	deadline := deadlineFor(s.tmo.snd.Load())
	sent := 0
	for {
		var n int
		err := s.retry(e.Cancel, vfs.EventOut, nonblock, deadline, func() error {
			var err error
			n, err = retryEINTR(func() (int, error) { return hostSendmsg(s.fd, data[sent:], to, raw, hf) })
			return err
		})
		if err != nil {
			if sent > 0 {
				return sent, nil
			}
			return 0, err
		}
		sent += n
		raw = nil
		if sent >= len(data) || nonblock || s.typ != unix.SOCK_STREAM {
			return sent, nil
		}
	}
}

// recvFlags are the MSG_ flags passed on to the host's recvmsg.
const recvFlags = unix.MSG_OOB | unix.MSG_PEEK | unix.MSG_TRUNC | unix.MSG_ERRQUEUE | unix.MSG_CMSG_CLOEXEC

// RecvMsg implements Socket; MSG_WAITALL on a blocking stream socket waits
// for the whole buffer (tcp_recvmsg).
func (s *hostSocket) RecvMsg(e *Env, dst []byte, flags int, nonblock bool, ctlLen int) (Received, error) {
	nonblock = nonblock || flags&unix.MSG_DONTWAIT != 0 || flags&unix.MSG_ERRQUEUE != 0
	hf := flags&recvFlags | unix.MSG_DONTWAIT
	deadline := deadlineFor(s.tmo.rcv.Load())
	var r Received
	for {
		var n, mf int
		var from, ctl []byte
		err := s.retry(e.Cancel, vfs.EventIn, nonblock, deadline, func() error {
			var err error
			for {
				n, from, ctl, mf, err = hostRecvmsg(s.fd, dst[r.N:], ctlLen, hf)
				if err != unix.EINTR {
					return err
				}
			}
		})
		if err != nil {
			if r.N > 0 {
				return r, nil
			}
			return r, err
		}
		if r.N == 0 {
			r.From, r.RawCtl, r.Flags = from, ctl, mf
		}
		r.Len = n
		if s.typ == unix.SOCK_STREAM {
			n = min(n, len(dst)-r.N)
			r.N += n
			r.Len = r.N
			if flags&unix.MSG_WAITALL != 0 && !nonblock && n > 0 && r.N < len(dst) && flags&unix.MSG_PEEK == 0 {
				continue
			}
			return r, nil
		}
		r.N = min(n, len(dst))
		return r, nil
	}
}

// Options a guest may not reach on the host: they need host privileges
// (the sentry runs as root) or carry pointers into guest memory.
var deniedOpts = map[[2]int]unix.Errno{
	{unix.SOL_SOCKET, unix.SO_ATTACH_FILTER}:         unix.ENOPROTOOPT,
	{unix.SOL_SOCKET, unix.SO_ATTACH_BPF}:            unix.ENOPROTOOPT,
	{unix.SOL_SOCKET, unix.SO_ATTACH_REUSEPORT_CBPF}: unix.ENOPROTOOPT,
	{unix.SOL_SOCKET, unix.SO_ATTACH_REUSEPORT_EBPF}: unix.ENOPROTOOPT,
	{unix.SOL_SOCKET, unix.SO_MARK}:                  unix.EPERM,
	{unix.SOL_SOCKET, unix.SO_RCVBUFFORCE}:           unix.EPERM,
	{unix.SOL_SOCKET, unix.SO_SNDBUFFORCE}:           unix.EPERM,
	{unix.SOL_SOCKET, unix.SO_BINDTODEVICE}:          unix.EPERM,
	{unix.IPPROTO_TCP, unix.TCP_REPAIR}:              unix.EPERM,
	{unix.IPPROTO_TCP, unix.TCP_REPAIR_QUEUE}:        unix.EPERM,
	{unix.IPPROTO_TCP, unix.TCP_QUEUE_SEQ}:           unix.EPERM,
	{unix.IPPROTO_TCP, unix.TCP_REPAIR_OPTIONS}:      unix.EPERM,
	{unix.IPPROTO_TCP, unix.TCP_REPAIR_WINDOW}:       unix.EPERM,
	{unix.IPPROTO_TCP, unix.TCP_ZEROCOPY_RECEIVE}:    unix.ENOPROTOOPT,
	{unix.IPPROTO_TCP, unix.TCP_ULP}:                 unix.ENOPROTOOPT,
	{unix.IPPROTO_IP, unix.IP_TRANSPARENT}:           unix.EPERM,
	{unix.IPPROTO_IPV6, unix.IPV6_TRANSPARENT}:       unix.EPERM,
	{unix.SOL_SOCKET, unix.SO_ZEROCOPY}:              unix.ENOPROTOOPT,
	{unix.IPPROTO_IP, unix.IP_IPSEC_POLICY}:          unix.EPERM,
	{unix.IPPROTO_IPV6, unix.IPV6_IPSEC_POLICY}:      unix.EPERM,
	{unix.IPPROTO_IP, unix.IP_XFRM_POLICY}:           unix.EPERM,
	{unix.SOL_SOCKET, unix.SO_RESERVE_MEM}:           unix.EPERM,
	{unix.SOL_SOCKET, unix.SO_BINDTOIFINDEX}:         unix.EPERM,
	{unix.SOL_SOCKET, unix.SO_GET_FILTER}:            unix.ENOPROTOOPT,
	{unix.IPPROTO_IP, unix.IP_HDRINCL}:               unix.EPERM,
	{unix.IPPROTO_IPV6, unix.IPV6_HDRINCL}:           unix.EPERM,
	{unix.IPPROTO_IP, unix.IP_ROUTER_ALERT}:          unix.EPERM,
}

// optAllowed checks an option against deniedOpts (0 entries are allowed).
func optAllowed(level, name int) error {
	if e, ok := deniedOpts[[2]int{level, name}]; ok && e != 0 {
		return e
	}
	return nil
}

// GetSockOpt implements Socket: the host answers, in a buffer of the
// guest's size, so truncation and EINVAL are the host's.
func (s *hostSocket) GetSockOpt(e *Env, level, name, size int) ([]byte, error) {
	if size < 0 {
		return nil, unix.EINVAL
	}
	if level == unix.SOL_SOCKET {
		switch name {
		case unix.SO_RCVTIMEO, unix.SO_SNDTIMEO:
			v, _ := commonGetOpt(&s.tmo, s.family, s.typ, s.proto, name)
			return v, nil
		}
	}
	if err := optAllowed(level, name); err != nil {
		return nil, err
	}
	if size > 1<<16 {
		size = 1 << 16
	}
	return hostGetsockopt(s.fd, level, name, size)
}

// SetSockOpt implements Socket.
func (s *hostSocket) SetSockOpt(e *Env, level, name int, val []byte) error {
	if level == unix.SOL_SOCKET {
		if ok, err := setTimeoutOpt(&s.tmo, name, val); ok {
			return err
		}
	}
	if err := optAllowed(level, name); err != nil {
		return err
	}
	return hostSetsockopt(s.fd, level, name, val)
}
