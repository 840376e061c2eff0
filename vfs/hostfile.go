package vfs

import "golang.org/x/sys/unix"

// NewHostFile wraps a host fd (the sentry's stdin/stdout/stderr): reads and
// writes pass through, Stat is the host's fstat and readiness the host's
// poll (with change notifications from the host poller). Blocking reads and
// writes wait for readiness first, so a signal can interrupt them and
// O_NONBLOCK set by the guest gives EAGAIN. The File owns fd and closes it
// on the last DecRef, so pass a dup of fds the sentry keeps.
func NewHostFile(fd int, name string) *File {
	flags := hostFlags(fd)
	f := newFile(nil, fkHost, Path{}, nil, flags)
	f.hfd = fd
	f.hname = name
	f.hw = &hostWatch{fd: fd}
	return f
}

// hostFlags reads a host fd's access mode (fcntl F_GETFL), O_RDWR if unknown.
func hostFlags(fd int) int {
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return unix.O_RDWR
	}
	return fl & (unix.O_ACCMODE | unix.O_APPEND)
}
