package sentry

import (
	"time"

	"golang.org/x/sys/unix"

	"kvsentry/vfs"
)

func init() {
	const cwd = uint64(0xffffff9c)
	register(unix.SYS_CHMOD, "sm", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.fchmodat(cwd, a[0], uint32(a[1]), 0)
	})
	register(unix.SYS_FCHMODAT, "fsm", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.fchmodat(a[0], a[1], uint32(a[2]), 0)
	})
	register(unix.SYS_FCHMODAT2, "fsmx", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.fchmodat(a[0], a[1], uint32(a[2]), int(a[3]))
	})
	register(unix.SYS_FCHMOD, "fm", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.onFD(int32(a[0]), func(p vfs.Path) error {
			return t.k.vfs.Chmod(t.vctx(), p, "", uint32(a[1])&0o7777, true)
		})
	})
	register(unix.SYS_CHOWN, "sdd", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.fchownat(cwd, a[0], a[1], a[2], 0)
	})
	register(unix.SYS_LCHOWN, "sdd", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.fchownat(cwd, a[0], a[1], a[2], unix.AT_SYMLINK_NOFOLLOW)
	})
	register(unix.SYS_FCHOWNAT, "fsddx", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.fchownat(a[0], a[1], a[2], a[3], int(a[4]))
	})
	register(unix.SYS_FCHOWN, "fdd", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.onFD(int32(a[0]), func(p vfs.Path) error {
			return t.k.vfs.Chown(t.vctx(), p, "", int64(int32(a[1])), int64(int32(a[2])), true)
		})
	})
	register(unix.SYS_UTIMENSAT, "fspx", Full, "", sysUtimensat)
	register(unix.SYS_UTIMES, "sp", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.utimesTimeval(cwd, a[0], a[1])
	})
	register(unix.SYS_FUTIMESAT, "fsp", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.utimesTimeval(a[0], a[1], a[2])
	})
	register(unix.SYS_UTIME, "sp", Full, "", sysUtime)
	register(unix.SYS_TRUNCATE, "sd", Full, "", sysTruncate)
	register(unix.SYS_FTRUNCATE, "fd", Full, "", sysFtruncate)
}

// onFD runs fn on the path an fd was opened at (fchmod, fchown, futimens).
func (t *Task) onFD(fd int32, fn func(vfs.Path) error) error {
	f, _, err := t.fds.Get(fd)
	if err != nil {
		return err
	}
	defer f.DecRef()
	p := f.Path()
	if !p.Valid() {
		// Pipes and inherited host files: attribute changes are accepted
		// and have no lasting effect, as on an anonymous pipe inode.
		return nil
	}
	return fn(p)
}

// fchmodat implements fchmodat2(2).
func (t *Task) fchmodat(dirfd, nameAddr uint64, mode uint32, flags int) error {
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return unix.EINVAL
	}
	start, name, err := t.pathAt(dirfd, nameAddr, flags&unix.AT_EMPTY_PATH != 0)
	if err != nil {
		return err
	}
	follow := flags&unix.AT_SYMLINK_NOFOLLOW == 0
	if !follow {
		st, err := t.k.vfs.Stat(t.vctx(), start, name, false)
		if err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return unix.EOPNOTSUPP
		}
	}
	return t.k.vfs.Chmod(t.vctx(), start, name, mode&0o7777, follow)
}

// fchownat implements fchownat(2).
func (t *Task) fchownat(dirfd, nameAddr, uid, gid uint64, flags int) error {
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return unix.EINVAL
	}
	start, name, err := t.pathAt(dirfd, nameAddr, flags&unix.AT_EMPTY_PATH != 0)
	if err != nil {
		return err
	}
	return t.k.vfs.Chown(t.vctx(), start, name, int64(int32(uid)), int64(int32(gid)), flags&unix.AT_SYMLINK_NOFOLLOW == 0)
}

// utimeOmit and utimeNow are the special tv_nsec values of utimensat(2).
const (
	utimeNow  = (1 << 30) - 1
	utimeOmit = (1 << 30) - 2
)

// sysUtimensat implements utimensat(2) (a NULL path with a dirfd is futimens).
func sysUtimensat(t *Task, a *sysArgs) (uint64, error) {
	dirfd, nameAddr, timesAddr, flags := a[0], a[1], a[2], int(a[3])
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	at := unix.Timespec{Nsec: utimeNow}
	mt := at
	if timesAddr != 0 {
		b := make([]byte, 32)
		if _, err := t.mm.CopyIn(timesAddr, b); err != nil {
			return 0, err
		}
		at = unix.Timespec{Sec: int64(leUint64(b)), Nsec: int64(leUint64(b[8:]))}
		mt = unix.Timespec{Sec: int64(leUint64(b[16:])), Nsec: int64(leUint64(b[24:]))}
		for _, ts := range []unix.Timespec{at, mt} {
			if ts.Nsec != utimeNow && ts.Nsec != utimeOmit && (ts.Nsec < 0 || ts.Nsec >= 1e9) {
				return 0, unix.EINVAL
			}
		}
	}
	follow := flags&unix.AT_SYMLINK_NOFOLLOW == 0
	if nameAddr == 0 {
		if int32(dirfd) == int32(unix.AT_FDCWD) {
			return 0, unix.EFAULT
		}
		return 0, t.onFD(int32(dirfd), func(p vfs.Path) error {
			return t.k.vfs.Utimes(t.vctx(), p, "", at, mt, true)
		})
	}
	start, name, err := t.pathAt(dirfd, nameAddr, flags&unix.AT_EMPTY_PATH != 0)
	if err != nil {
		return 0, err
	}
	return 0, t.k.vfs.Utimes(t.vctx(), start, name, at, mt, follow)
}

// utimesTimeval implements utimes(2)/futimesat(2) (struct timeval[2]).
func (t *Task) utimesTimeval(dirfd, nameAddr, tvAddr uint64) error {
	at := unix.Timespec{Nsec: utimeNow}
	mt := at
	if tvAddr != 0 {
		b := make([]byte, 32)
		if _, err := t.mm.CopyIn(tvAddr, b); err != nil {
			return err
		}
		u1, u2 := int64(leUint64(b[8:])), int64(leUint64(b[24:]))
		if u1 < 0 || u1 >= 1e6 || u2 < 0 || u2 >= 1e6 {
			return unix.EINVAL
		}
		at = unix.Timespec{Sec: int64(leUint64(b)), Nsec: u1 * 1000}
		mt = unix.Timespec{Sec: int64(leUint64(b[16:])), Nsec: u2 * 1000}
	}
	start, name, err := t.pathAt(dirfd, nameAddr, false)
	if err != nil {
		return err
	}
	return t.k.vfs.Utimes(t.vctx(), start, name, at, mt, true)
}

// sysUtime implements utime(2) (struct utimbuf).
func sysUtime(t *Task, a *sysArgs) (uint64, error) {
	at := unix.Timespec{Nsec: utimeNow}
	mt := at
	if a[1] != 0 {
		b := make([]byte, 16)
		if _, err := t.mm.CopyIn(a[1], b); err != nil {
			return 0, err
		}
		at = unix.Timespec{Sec: int64(leUint64(b))}
		mt = unix.Timespec{Sec: int64(leUint64(b[8:]))}
	}
	start, name, err := t.pathAt(0xffffff9c, a[0], false)
	if err != nil {
		return 0, err
	}
	return 0, t.k.vfs.Utimes(t.vctx(), start, name, at, mt, true)
}

// sysTruncate implements truncate(2).
func sysTruncate(t *Task, a *sysArgs) (uint64, error) {
	if int64(a[1]) < 0 {
		return 0, unix.EINVAL
	}
	start, name, err := t.pathAt(0xffffff9c, a[0], false)
	if err != nil {
		return 0, err
	}
	return 0, t.k.vfs.Truncate(t.vctx(), start, name, int64(a[1]))
}

// sysFtruncate implements ftruncate(2).
func sysFtruncate(t *Task, a *sysArgs) (uint64, error) {
	if int64(a[1]) < 0 {
		return 0, unix.EINVAL
	}
	f, _, err := t.fds.Get(int32(a[0]))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if f.Flags()&unix.O_PATH != 0 {
		return 0, unix.EBADF
	}
	return 0, f.Truncate(int64(a[1]))
}

// nowTimespec is the current time as a Timespec.
func nowTimespec() unix.Timespec { return unix.NsecToTimespec(time.Now().UnixNano()) }

func init() {
	register(unix.SYS_FALLOCATE, "fxdd", Full, "", sysFallocate)
}

// sysFallocate implements fallocate(2).
func sysFallocate(t *Task, a *sysArgs) (uint64, error) {
	f, _, err := t.fds.Get(int32(a[0]))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if f.Flags()&unix.O_PATH != 0 {
		return 0, unix.EBADF
	}
	return 0, f.Fallocate(uint32(a[1]), int64(a[2]), int64(a[3]))
}
