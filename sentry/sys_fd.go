package sentry

import (
	"golang.org/x/sys/unix"

	"kvsentry/vfs"
)

func init() {
	register(unix.SYS_DUP, "f", Full, "", sysDup)
	register(unix.SYS_DUP2, "ff", Full, "", sysDup2)
	register(unix.SYS_DUP3, "ffx", Full, "", sysDup3)
	register(unix.SYS_FCNTL, "fdx", Partial, "F_DUPFD(_CLOEXEC), F_GETFD/SETFD, F_GETFL/SETFL, POSIX and OFD record locks with deadlock detection, F_GETPIPE_SZ; leases, notify and seals EINVAL", sysFcntl)
	register(unix.SYS_PIPE, "p", Full, "", func(t *Task, a *sysArgs) (uint64, error) { return 0, t.pipe2(a[0], 0) })
	register(unix.SYS_PIPE2, "px", Full, "", func(t *Task, a *sysArgs) (uint64, error) { return 0, t.pipe2(a[0], int(a[1])) })
}

// sysDup implements dup(2).
func sysDup(t *Task, a *sysArgs) (uint64, error) {
	f, _, err := t.fds.Get(int32(a[0]))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	fd, err := t.fds.Add(f, false, 0)
	return uint64(fd), err
}

// sysDup2 implements dup2(2).
func sysDup2(t *Task, a *sysArgs) (uint64, error) {
	oldfd, newfd := int32(a[0]), int32(a[1])
	f, _, err := t.fds.Get(oldfd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if oldfd == newfd {
		return uint64(newfd), nil
	}
	return uint64(newfd), t.fds.Set(newfd, f, false)
}

// sysDup3 implements dup3(2).
func sysDup3(t *Task, a *sysArgs) (uint64, error) {
	oldfd, newfd, flags := int32(a[0]), int32(a[1]), int(a[2])
	if flags&^unix.O_CLOEXEC != 0 || oldfd == newfd {
		return 0, unix.EINVAL
	}
	f, _, err := t.fds.Get(oldfd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	return uint64(newfd), t.fds.Set(newfd, f, flags&unix.O_CLOEXEC != 0)
}

// sysFcntl implements fcntl(2).
func sysFcntl(t *Task, a *sysArgs) (uint64, error) {
	fd, cmd, arg := int32(a[0]), int(a[1]), a[2]
	f, cloexec, err := t.fds.Get(fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	switch cmd {
	case unix.F_DUPFD, unix.F_DUPFD_CLOEXEC:
		if int64(arg) < 0 || arg > 1<<31 {
			return 0, unix.EINVAL
		}
		nfd, err := t.fds.Add(f, cmd == unix.F_DUPFD_CLOEXEC, int32(arg))
		return uint64(nfd), err
	case unix.F_GETFD:
		if cloexec {
			return unix.FD_CLOEXEC, nil
		}
		return 0, nil
	case unix.F_SETFD:
		return 0, t.fds.SetCloexec(fd, arg&unix.FD_CLOEXEC != 0)
	case unix.F_GETFL:
		return uint64(f.Flags()), nil
	case unix.F_SETFL:
		if f.Flags()&unix.O_PATH != 0 {
			return 0, unix.EBADF
		}
		f.SetFlags(int(arg))
		return 0, nil
	case unix.F_GETLK, unix.F_SETLK, unix.F_SETLKW, unix.F_OFD_GETLK, unix.F_OFD_SETLK, unix.F_OFD_SETLKW:
		if f.Flags()&unix.O_PATH != 0 {
			return 0, unix.EBADF
		}
		return 0, t.recordLockOp(f, cmd, arg)
	case unix.F_GETPIPE_SZ:
		st, err := f.Stat()
		if err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
			return 0, unix.EBADF
		}
		return 65536, nil
	case unix.F_SETPIPE_SZ:
		return 0, unix.EPERM
	case unix.F_GETOWN, unix.F_SETOWN:
		return 0, nil
	case unix.F_ADD_SEALS, unix.F_GET_SEALS:
		return 0, unix.EINVAL
	}
	return 0, unix.EINVAL
}

// pipe2 implements pipe2(2).
func (t *Task) pipe2(addr uint64, flags int) error {
	if flags&^(unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_DIRECT) != 0 {
		return unix.EINVAL
	}
	r, w := vfs.NewPipe()
	defer r.DecRef()
	defer w.DecRef()
	if flags&unix.O_NONBLOCK != 0 {
		r.SetFlags(r.Flags() | unix.O_NONBLOCK)
		w.SetFlags(w.Flags() | unix.O_NONBLOCK)
	}
	cloexec := flags&unix.O_CLOEXEC != 0
	rfd, err := t.fds.Add(r, cloexec, 0)
	if err != nil {
		return err
	}
	wfd, err := t.fds.Add(w, cloexec, 0)
	if err != nil {
		t.fds.Remove(rfd)
		return err
	}
	b := make([]byte, 8)
	putLE32(b, uint32(rfd))
	putLE32(b[4:], uint32(wfd))
	if _, err := t.mm.CopyOut(addr, b); err != nil {
		t.fds.Remove(rfd)
		t.fds.Remove(wfd)
		return err
	}
	return nil
}
