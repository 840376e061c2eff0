package sentry

import (
	"golang.org/x/sys/unix"

	"kvsentry/vfs"
	"kvsentry/vfs/socket"
	"kvsentry/vfs/tty"
)

func init() {
	register(unix.SYS_IOCTL, "fxx", Partial, "FIONREAD, FIONBIO, FIOCLEX, FIONCLEX; terminal ioctls on pseudo-terminals (sys_tty.go); ENOTTY on host files", sysIoctl)
	register(unix.SYS_FSYNC, "f", Full, "", fsyncFD)
	register(unix.SYS_FDATASYNC, "f", Full, "", fsyncFD)
	register(unix.SYS_SYNCFS, "f", Full, "", syncFD)
	register(unix.SYS_SYNC_FILE_RANGE, "fddx", Full, "", syncFD)
	register(unix.SYS_FADVISE64, "fddd", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		if _, err := syncFD(t, a); err != nil {
			return 0, err
		}
		if a[3] > 5 {
			return 0, unix.EINVAL
		}
		return 0, nil
	})
}

// sysIoctl implements ioctl(2) for the generic commands and file types'.
func sysIoctl(t *Task, a *sysArgs) (uint64, error) {
	fd, cmd, arg := int32(a[0]), uint32(a[1]), a[2]
	f, _, err := t.fds.Get(fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if f.Flags()&unix.O_PATH != 0 {
		return 0, unix.EBADF
	}
	if e, ok := f.Impl().(tty.End); ok && cmd != fioclex && cmd != fionclex && cmd != fionbio {
		return t.ttyIoctl(f, e, cmd, arg) // sys_tty.go
	}
	switch cmd {
	case fioclex:
		return 0, t.fds.SetCloexec(fd, true)
	case fionclex:
		return 0, t.fds.SetCloexec(fd, false)
	case fionbio:
		v, err := t.copyInUint32(arg)
		if err != nil {
			return 0, err
		}
		fl := f.Flags() &^ unix.O_NONBLOCK
		if v != 0 {
			fl |= unix.O_NONBLOCK
		}
		f.SetFlags(fl)
		return 0, nil
	case vfs.FIONREAD:
		n, err := f.Ioctl(cmd, arg)
		if err != nil {
			return 0, err
		}
		return 0, t.copyOutUint32(arg, uint32(n))
	}
	if _, isSock := f.Impl().(socket.Socket); isSock && socket.IsInterfaceIoctl(cmd) {
		return 0, t.interfaceIoctl(cmd, arg)
	}
	return f.Ioctl(cmd, arg)
}

// interfaceIoctl answers the SIOC*IF* ioctls from the sandbox's network
// namespace (what ifconfig and getifaddrs' fallback use).
func (t *Task) interfaceIoctl(cmd uint32, arg uint64) error {
	st := t.k.netStack()
	if cmd == unix.SIOCGIFCONF {
		// struct ifconf { int ifc_len; char *ifc_buf; }
		hdr := make([]byte, 16)
		if _, err := t.mm.CopyIn(arg, hdr); err != nil {
			return err
		}
		size := int(int32(leUint32(hdr)))
		bufAddr := leUint64(hdr[8:])
		if size < 0 {
			return unix.EINVAL
		}
		if bufAddr == 0 {
			size = 0
		}
		recs, n, err := st.InterfaceConf(size)
		if err != nil {
			return err
		}
		if len(recs) > 0 {
			if _, err := t.mm.CopyOut(bufAddr, recs); err != nil {
				return err
			}
		}
		return t.copyOutUint32(arg, uint32(n))
	}
	ifr := make([]byte, socket.IfreqSize)
	if _, err := t.mm.CopyIn(arg, ifr); err != nil {
		return err
	}
	if err := st.InterfaceIoctl(cmd, ifr); err != nil {
		return err
	}
	_, err := t.mm.CopyOut(arg, ifr)
	return err
}

// syncFD validates the fd of fsync-like calls; the in-memory overlay has
// nothing to flush.
func syncFD(t *Task, a *sysArgs) (uint64, error) {
	f, _, err := t.fds.Get(int32(a[0]))
	if err != nil {
		return 0, err
	}
	f.DecRef()
	return 0, nil
}

// Generic ioctl numbers (include/uapi/asm-generic/ioctls.h).
const (
	fionbio  = 0x5421
	fionclex = 0x5450
	fioclex  = 0x5451
)

// fsyncFD implements fsync(2)/fdatasync(2): what shared mappings stored is
// written back to the file.
func fsyncFD(t *Task, a *sysArgs) (uint64, error) {
	f, _, err := t.fds.Get(int32(a[0]))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	return 0, f.Fsync()
}
