package socket

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Raw host socket calls taking the guest's sockaddr and option bytes as
// they are (x86-64 guest and host share every layout).

// bufPtr is the address of b's first byte, or nil for an empty slice.
func bufPtr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

func errnoErr(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// hostBind is bind(2) with a raw sockaddr.
func hostBind(fd int, addr []byte) error {
	_, _, e := unix.Syscall(unix.SYS_BIND, uintptr(fd), uintptr(bufPtr(addr)), uintptr(len(addr)))
	return errnoErr(e)
}

// hostConnect is connect(2) with a raw sockaddr.
func hostConnect(fd int, addr []byte) error {
	_, _, e := unix.Syscall(unix.SYS_CONNECT, uintptr(fd), uintptr(bufPtr(addr)), uintptr(len(addr)))
	return errnoErr(e)
}

// hostAccept4 is accept4(2) returning the peer's raw address.
func hostAccept4(fd, flags int) (int, []byte, error) {
	buf := make([]byte, 128)
	l := uint32(len(buf))
	nfd, _, e := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(fd), uintptr(bufPtr(buf)), uintptr(unsafe.Pointer(&l)), uintptr(flags), 0, 0)
	if e != 0 {
		return -1, nil, e
	}
	return int(nfd), buf[:min(int(l), len(buf))], nil
}

// hostName is getsockname(2) (peer false) or getpeername(2) (peer true).
func hostName(fd int, peer bool) ([]byte, error) {
	nr := uintptr(unix.SYS_GETSOCKNAME)
	if peer {
		nr = unix.SYS_GETPEERNAME
	}
	buf := make([]byte, 128)
	l := uint32(len(buf))
	_, _, e := unix.Syscall(nr, uintptr(fd), uintptr(bufPtr(buf)), uintptr(unsafe.Pointer(&l)))
	if e != 0 {
		return nil, e
	}
	return buf[:min(int(l), len(buf))], nil
}

// hostGetsockopt is getsockopt(2) into a buffer of the guest's size.
func hostGetsockopt(fd, level, name, size int) ([]byte, error) {
	buf := make([]byte, size)
	l := uint32(size)
	p := bufPtr(buf)
	if p == nil {
		var z byte
		p = unsafe.Pointer(&z)
	}
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), uintptr(name), uintptr(p), uintptr(unsafe.Pointer(&l)), 0)
	if e != 0 {
		return nil, e
	}
	return buf[:min(int(l), size)], nil
}

// hostSetsockopt is setsockopt(2) with the guest's bytes.
func hostSetsockopt(fd, level, name int, val []byte) error {
	p := bufPtr(val)
	if p == nil {
		var z [8]byte
		p = unsafe.Pointer(&z[0])
	}
	_, _, e := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(name), uintptr(p), uintptr(len(val)), 0)
	return errnoErr(e)
}

// hostSendmsg is sendmsg(2) of one buffer to a raw address with raw
// control data.
func hostSendmsg(fd int, data, to, ctl []byte, flags int) (int, error) {
	var iov unix.Iovec
	var msg unix.Msghdr
	if len(data) > 0 {
		iov.Base = &data[0]
		iov.SetLen(len(data))
		msg.Iov = &iov
		msg.Iovlen = 1
	}
	if len(to) > 0 {
		msg.Name = &to[0]
		msg.Namelen = uint32(len(to))
	}
	if len(ctl) > 0 {
		msg.Control = &ctl[0]
		msg.SetControllen(len(ctl))
	}
	n, _, e := unix.Syscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), uintptr(flags))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// hostRecvmsg is recvmsg(2) into one buffer, returning the sender's raw
// address, the raw control data and msg_flags.
func hostRecvmsg(fd int, dst []byte, ctlLen, flags int) (n int, from, ctl []byte, mflags int, err error) {
	var iov unix.Iovec
	var msg unix.Msghdr
	var zero [1]byte
	if len(dst) > 0 {
		iov.Base = &dst[0]
		iov.SetLen(len(dst))
	} else {
		iov.Base = &zero[0]
	}
	msg.Iov = &iov
	msg.Iovlen = 1
	name := make([]byte, 128)
	msg.Name = &name[0]
	msg.Namelen = uint32(len(name))
	var cbuf []byte
	if ctlLen > 0 {
		cbuf = make([]byte, ctlLen)
		msg.Control = &cbuf[0]
		msg.SetControllen(ctlLen)
	}
	r, _, e := unix.Syscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), uintptr(flags))
	if e != 0 {
		return 0, nil, nil, 0, e
	}
	if msg.Namelen > 0 {
		from = name[:min(int(msg.Namelen), len(name))]
	}
	if cbuf != nil {
		ctl = cbuf[:min(int(msg.Controllen), len(cbuf))]
	}
	return int(r), from, ctl, int(msg.Flags), nil
}

// ioctlBuf runs ioctl(fd, cmd, buf) with buf passed by address.
func ioctlBuf(fd int, cmd uint, buf []byte) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(cmd), uintptr(bufPtr(buf)))
	if e != 0 {
		return e
	}
	return nil
}

// ifconf runs SIOCGIFCONF into buf and returns the bytes filled.
func ifconf(fd int, buf []byte) (int, error) {
	var ifc struct {
		len int32
		_   int32
		buf unsafe.Pointer
	}
	ifc.len = int32(len(buf))
	ifc.buf = bufPtr(buf)
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCGIFCONF, uintptr(unsafe.Pointer(&ifc)))
	if e != 0 {
		return 0, e
	}
	return int(ifc.len), nil
}
