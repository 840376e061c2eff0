package sentry

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"kvsentry/vfs"
	"kvsentry/vfs/socket"
)

func init() {
	register(unix.SYS_SOCKET, "ddd", Partial, "AF_UNIX in memory; AF_INET/AF_INET6 stream and datagram, AF_NETLINK route as host sockets; no raw sockets", sysSocket)
	register(unix.SYS_SOCKETPAIR, "dddp", Full, "AF_UNIX only, as Linux", sysSocketpair)
	register(unix.SYS_BIND, "fpd", Full, "", sysBind)
	register(unix.SYS_LISTEN, "fd", Full, "", sysListen)
	register(unix.SYS_ACCEPT, "fpp", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return t.accept(int32(a[0]), a[1], a[2], 0)
	})
	register(unix.SYS_ACCEPT4, "fppx", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return t.accept(int32(a[0]), a[1], a[2], int(int32(a[3])))
	})
	register(unix.SYS_CONNECT, "fpd", Full, "", sysConnect)
	register(unix.SYS_SHUTDOWN, "fd", Full, "", sysShutdown)
	register(unix.SYS_GETSOCKNAME, "fpp", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return t.sockName(int32(a[0]), a[1], a[2], false)
	})
	register(unix.SYS_GETPEERNAME, "fpp", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return t.sockName(int32(a[0]), a[1], a[2], true)
	})
	register(unix.SYS_GETSOCKOPT, "fddpp", Partial, "host sockets: options needing host privileges or carrying pointers are refused", sysGetsockopt)
	register(unix.SYS_SETSOCKOPT, "fddpd", Partial, "host sockets: options needing host privileges or carrying pointers are refused", sysSetsockopt)
}

// sockaddrMax is sizeof(struct sockaddr_storage).
const sockaddrMax = 128

// sockFor returns the socket behind fd: EBADF for a bad fd, ENOTSOCK for
// another kind of file (sockfd_lookup).
func (t *Task) sockFor(fd int32) (*vfs.File, socket.Socket, error) {
	f, _, err := t.fds.Get(fd)
	if err != nil {
		return nil, nil, err
	}
	if f.Flags()&unix.O_PATH != 0 {
		f.DecRef()
		return nil, nil, unix.EBADF
	}
	s, ok := f.Impl().(socket.Socket)
	if !ok {
		f.DecRef()
		return nil, nil, unix.ENOTSOCK
	}
	return f, s, nil
}

// sockEnv is the calling task's context for a socket operation.
func (t *Task) sockEnv() *socket.Env {
	return &socket.Env{
		VFS:    t.k.vfs,
		Ctx:    t.vctx(),
		Umask:  t.umask(),
		Cred:   socket.Cred{PID: t.tg.pid, UID: t.ids.euid, GID: t.ids.egid},
		Root:   t.ids.euid == 0,
		Cancel: t.intr,
	}
}

// nonblocking reports O_NONBLOCK on f.
func nonblocking(f *vfs.File) bool { return f.Flags()&unix.O_NONBLOCK != 0 }

// copyInSockaddr reads a sockaddr (move_addr_to_kernel): EINVAL for a
// length beyond sockaddr_storage.
func (t *Task) copyInSockaddr(addr uint64, l int32) ([]byte, error) {
	if l < 0 || l > sockaddrMax {
		return nil, unix.EINVAL
	}
	b := make([]byte, l)
	if l == 0 {
		return b, nil
	}
	if _, err := t.mm.CopyIn(addr, b); err != nil {
		return nil, err
	}
	return b, nil
}

// copyOutSockaddr writes addr to a (buffer, length) pair (move_addr_to_user):
// the buffer gets at most *lenAddr bytes, *lenAddr the full length.
func (t *Task) copyOutSockaddr(addr, lenAddr uint64, sa []byte) error {
	if lenAddr == 0 {
		return nil
	}
	l, err := t.copyInUint32(lenAddr)
	if err != nil {
		return err
	}
	if int32(l) < 0 {
		return unix.EINVAL
	}
	n := min(int(l), len(sa))
	if n > 0 {
		if _, err := t.mm.CopyOut(addr, sa[:n]); err != nil {
			return err
		}
	}
	return t.copyOutUint32(lenAddr, uint32(len(sa)))
}

// sockTypeFlags are the flags socket(2)'s type argument may carry.
const sockTypeFlags = unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC

// splitSockType separates the socket type from SOCK_NONBLOCK and
// SOCK_CLOEXEC; EINVAL for other high bits (__sys_socket).
func splitSockType(typ int) (int, int, error) {
	flags := typ & sockTypeFlags
	base := typ &^ sockTypeFlags
	if base&^0xf != 0 {
		return 0, 0, unix.EINVAL
	}
	return base, flags, nil
}

// newSockFD installs a socket as a new fd with socket(2)'s flags.
func (t *Task) newSockFD(s socket.Socket, flags int) (uint64, error) {
	fl := unix.O_RDWR
	if flags&unix.SOCK_NONBLOCK != 0 {
		fl |= unix.O_NONBLOCK
	}
	return t.newFD(vfs.NewImplFile(s, fl), flags&unix.SOCK_CLOEXEC != 0)
}

// sysSocket implements socket(2).
func sysSocket(t *Task, a *sysArgs) (uint64, error) {
	family := int(int32(a[0]))
	typ, flags, err := splitSockType(int(int32(a[1])))
	if err != nil {
		return 0, err
	}
	if family < 0 || family >= unix.AF_MAX {
		return 0, unix.EAFNOSUPPORT
	}
	s, err := t.k.netStack().Socket(family, typ, int(int32(a[2])), t.sockEnv().Cred)
	if err != nil {
		return 0, err
	}
	return t.newSockFD(s, flags)
}

// sysSocketpair implements socketpair(2).
func sysSocketpair(t *Task, a *sysArgs) (uint64, error) {
	family := int(int32(a[0]))
	typ, flags, err := splitSockType(int(int32(a[1])))
	if err != nil {
		return 0, err
	}
	s1, s2, err := t.k.netStack().Pair(family, typ, int(int32(a[2])), t.sockEnv().Cred)
	if err != nil {
		return 0, err
	}
	fd1, err := t.newSockFD(s1, flags)
	if err != nil {
		s2.Release()
		return 0, err
	}
	fd2, err := t.newSockFD(s2, flags)
	if err != nil {
		t.fds.Remove(int32(fd1))
		return 0, err
	}
	var b [8]byte
	binary.LittleEndian.PutUint32(b[:], uint32(fd1))
	binary.LittleEndian.PutUint32(b[4:], uint32(fd2))
	if _, err := t.mm.CopyOut(a[3], b[:]); err != nil {
		t.fds.Remove(int32(fd1))
		t.fds.Remove(int32(fd2))
		return 0, err
	}
	return 0, nil
}

// sysBind implements bind(2).
func sysBind(t *Task, a *sysArgs) (uint64, error) {
	f, s, err := t.sockFor(int32(a[0]))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	sa, err := t.copyInSockaddr(a[1], int32(a[2]))
	if err != nil {
		return 0, err
	}
	return 0, s.Bind(t.sockEnv(), sa)
}

// sysListen implements listen(2): a backlog above somaxconn is clamped.
func sysListen(t *Task, a *sysArgs) (uint64, error) {
	f, s, err := t.sockFor(int32(a[0]))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	backlog := int(int32(a[1]))
	if uint(backlog) > 4096 {
		backlog = 4096
	}
	return 0, s.Listen(t.sockEnv(), backlog)
}

// accept implements accept4(2) (__sys_accept4_file).
func (t *Task) accept(fd int32, addr, lenAddr uint64, flags int) (uint64, error) {
	if flags&^sockTypeFlags != 0 {
		return 0, unix.EINVAL
	}
	f, s, err := t.sockFor(fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	ns, err := s.Accept(t.sockEnv(), nonblocking(f))
	if err != nil {
		return 0, err
	}
	nf := vfs.NewImplFile(ns, unix.O_RDWR|flags&unix.SOCK_NONBLOCK)
	if addr != 0 {
		peer, perr := ns.PeerName()
		if perr != nil {
			peer = nil
		}
		if err := t.copyOutSockaddr(addr, lenAddr, peer); err != nil {
			nf.DecRef()
			return 0, err
		}
	}
	return t.newFD(nf, flags&unix.SOCK_CLOEXEC != 0)
}

// sysConnect implements connect(2).
func sysConnect(t *Task, a *sysArgs) (uint64, error) {
	f, s, err := t.sockFor(int32(a[0]))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	sa, err := t.copyInSockaddr(a[1], int32(a[2]))
	if err != nil {
		return 0, err
	}
	if len(sa) < 2 {
		return 0, unix.EINVAL
	}
	return 0, s.Connect(t.sockEnv(), sa, nonblocking(f))
}

// sysShutdown implements shutdown(2).
func sysShutdown(t *Task, a *sysArgs) (uint64, error) {
	f, s, err := t.sockFor(int32(a[0]))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	how := int(int32(a[1]))
	if how < unix.SHUT_RD || how > unix.SHUT_RDWR {
		return 0, unix.EINVAL
	}
	return 0, s.Shutdown(how)
}

// sockName implements getsockname(2) and getpeername(2).
func (t *Task) sockName(fd int32, addr, lenAddr uint64, peer bool) (uint64, error) {
	f, s, err := t.sockFor(fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	var sa []byte
	if peer {
		sa, err = s.PeerName()
	} else {
		sa, err = s.SockName()
	}
	if err != nil {
		return 0, err
	}
	if lenAddr == 0 {
		return 0, unix.EFAULT
	}
	return 0, t.copyOutSockaddr(addr, lenAddr, sa)
}

// sysGetsockopt implements getsockopt(2): the value is cut to the
// caller's optlen, and optlen gets the length written.
func sysGetsockopt(t *Task, a *sysArgs) (uint64, error) {
	f, s, err := t.sockFor(int32(a[0]))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	level, name, val, lenAddr := int(int32(a[1])), int(int32(a[2])), a[3], a[4]
	l, err := t.copyInUint32(lenAddr)
	if err != nil {
		return 0, err
	}
	if int32(l) < 0 {
		return 0, unix.EINVAL
	}
	v, err := s.GetSockOpt(t.sockEnv(), level, name, int(l))
	if err != nil {
		return 0, err
	}
	n := min(len(v), int(l))
	if n > 0 {
		if _, err := t.mm.CopyOut(val, v[:n]); err != nil {
			return 0, err
		}
	}
	return 0, t.copyOutUint32(lenAddr, uint32(n))
}

// maxOptLen bounds a setsockopt value the sentry copies in.
const maxOptLen = 1 << 16

// sysSetsockopt implements setsockopt(2).
func sysSetsockopt(t *Task, a *sysArgs) (uint64, error) {
	f, s, err := t.sockFor(int32(a[0]))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	level, name, val, l := int(int32(a[1])), int(int32(a[2])), a[3], int32(a[4])
	if l < 0 {
		return 0, unix.EINVAL
	}
	if l > maxOptLen {
		return 0, unix.ENOMEM
	}
	b := make([]byte, l)
	if l > 0 {
		if _, err := t.mm.CopyIn(val, b); err != nil {
			return 0, err
		}
	}
	return 0, s.SetSockOpt(t.sockEnv(), level, name, b)
}
