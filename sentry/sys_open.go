package sentry

import (
	"golang.org/x/sys/unix"

	"kvsentry/vfs"
)

func init() {
	register(unix.SYS_OPEN, "sxm", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return t.openAt(int32(unix.AT_FDCWD), a[0], int(a[1]), uint32(a[2]))
	})
	register(unix.SYS_OPENAT, "fsxm", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return t.openAt(int32(a[0]), a[1], int(a[2]), uint32(a[3]))
	})
	register(unix.SYS_CREAT, "sm", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return t.openAt(int32(unix.AT_FDCWD), a[0], unix.O_CREAT|unix.O_WRONLY|unix.O_TRUNC, uint32(a[1]))
	})
	register(unix.SYS_CLOSE, "f", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.fds.Remove(int32(a[0]))
	})
	register(unix.SYS_CLOSE_RANGE, "ddx", Full, "", sysCloseRange)
}

// openFlagsKnown are the open(2) flags Linux accepts (others are ignored by
// open but rejected by openat2; we ignore them too, as open does).
const openFlagsKnown = unix.O_ACCMODE | unix.O_CREAT | unix.O_EXCL | unix.O_NOCTTY |
	unix.O_TRUNC | unix.O_APPEND | unix.O_NONBLOCK | unix.O_DSYNC | unix.O_ASYNC |
	unix.O_DIRECT | unix.O_LARGEFILE | unix.O_DIRECTORY | unix.O_NOFOLLOW |
	unix.O_NOATIME | unix.O_CLOEXEC | unix.O_SYNC | unix.O_PATH | unix.O_TMPFILE

// atDir returns the starting point of an *at syscall: an invalid Path means
// "the cwd" (vfs resolves absolute names from the root anyway). When name is
// empty and emptyPath is set, the fd itself is the target.
func (t *Task) atDir(dirfd int32, name string, emptyPath bool) (vfs.Path, error) {
	if len(name) > 0 && name[0] == '/' {
		return vfs.Path{}, nil
	}
	if dirfd == int32(unix.AT_FDCWD) {
		if name == "" && emptyPath {
			return t.vctx().Cwd, nil
		}
		return vfs.Path{}, nil
	}
	f, _, err := t.fds.Get(dirfd)
	if err != nil {
		return vfs.Path{}, err
	}
	defer f.DecRef()
	p := f.Path()
	if name == "" && emptyPath {
		if !p.Valid() {
			return vfs.Path{}, unix.EBADF
		}
		return p, nil
	}
	if !p.Valid() {
		return vfs.Path{}, unix.ENOTDIR
	}
	st, err := f.Stat()
	if err != nil {
		return vfs.Path{}, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return vfs.Path{}, unix.ENOTDIR
	}
	return p, nil
}

// openAt implements openat(2).
func (t *Task) openAt(dirfd int32, nameAddr uint64, flags int, mode uint32) (uint64, error) {
	name, err := t.copyInPath(nameAddr)
	if err != nil {
		return 0, err
	}
	if name == "" {
		return 0, unix.ENOENT
	}
	if flags&unix.O_TMPFILE == unix.O_TMPFILE && flags&unix.O_ACCMODE == unix.O_RDONLY {
		return 0, unix.EINVAL
	}
	start, err := t.atDir(dirfd, name, false)
	if err != nil {
		return 0, err
	}
	c := t.vctx()
	t.fs.mu.Lock()
	umask := t.fs.umask
	t.fs.mu.Unlock()
	f, err := t.k.vfs.Open(c, start, name, flags&openFlagsKnown, mode&0o7777&^umask)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	fd, err := t.fds.Add(f, flags&unix.O_CLOEXEC != 0, 0)
	if err != nil {
		return 0, err
	}
	return uint64(fd), nil
}

// sysCloseRange implements close_range(2).
func sysCloseRange(t *Task, a *sysArgs) (uint64, error) {
	first, last, flags := uint32(a[0]), uint32(a[1]), a[2]
	if flags&^uint64(unix.CLOSE_RANGE_CLOEXEC|unix.CLOSE_RANGE_UNSHARE) != 0 || first > last {
		return 0, unix.EINVAL
	}
	t.fds.CloseRange(first, last, flags&unix.CLOSE_RANGE_CLOEXEC != 0)
	return 0, nil
}
