package sentry

import (
	"golang.org/x/sys/unix"

	"kvsentry/vfs"
)

func init() {
	register(unix.SYS_INOTIFY_INIT, "", Partial, inotifyNote, func(t *Task, a *sysArgs) (uint64, error) {
		return t.inotifyInit(0)
	})
	register(unix.SYS_INOTIFY_INIT1, "x", Partial, inotifyNote, func(t *Task, a *sysArgs) (uint64, error) {
		return t.inotifyInit(int32(a[0]))
	})
	register(unix.SYS_INOTIFY_ADD_WATCH, "fsx", Partial, inotifyNote, func(t *Task, a *sysArgs) (uint64, error) {
		return t.inotifyAddWatch(int32(a[0]), a[1], uint32(a[2]))
	})
	register(unix.SYS_INOTIFY_RM_WATCH, "fd", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return t.inotifyRmWatch(int32(a[0]), int32(a[1]))
	})
}

// inotifyNote is the syscall table's note for the inotify calls.
const inotifyNote = "events of the sandbox's own file operations (host-side changes under bind mounts are not seen); no IN_UNMOUNT; lseek gives ESPIPE (Linux: 0)"

// inotifyInit implements inotify_init1(2): EINVAL for flags other than
// IN_NONBLOCK and IN_CLOEXEC, EMFILE past max_user_instances.
func (t *Task) inotifyInit(flags int32) (uint64, error) {
	if flags&^(unix.IN_NONBLOCK|unix.IN_CLOEXEC) != 0 {
		return 0, unix.EINVAL
	}
	f, err := vfs.NewInotify(t.ids.ruid, flags&unix.IN_NONBLOCK != 0)
	if err != nil {
		return 0, err
	}
	return t.newFD(f, flags&unix.IN_CLOEXEC != 0)
}

// inotifyFile returns the inotify instance open at fd with its file (to
// DecRef): EBADF for a closed fd, EINVAL for another kind of file.
func (t *Task) inotifyFile(fd int32) (*vfs.Inotify, *vfs.File, error) {
	f, _, err := t.fds.Get(fd)
	if err != nil {
		return nil, nil, unix.EBADF
	}
	n, ok := f.Impl().(*vfs.Inotify)
	if !ok {
		f.DecRef()
		return nil, nil, unix.EINVAL
	}
	return n, f, nil
}

// inotifyAddWatch implements inotify_add_watch(2), checking in Linux's
// order: the mask, the fd, IN_MASK_ADD with IN_MASK_CREATE, the path.
func (t *Task) inotifyAddWatch(fd int32, pathAddr uint64, mask uint32) (uint64, error) {
	if err := vfs.InotifyCheckMask(mask); err != nil {
		return 0, err
	}
	n, f, err := t.inotifyFile(fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if mask&unix.IN_MASK_ADD != 0 && mask&unix.IN_MASK_CREATE != 0 {
		return 0, unix.EINVAL
	}
	name, err := t.copyInPath(pathAddr)
	if err != nil {
		return 0, err
	}
	wd, err := n.AddWatch(t.k.vfs, t.vctx(), name, mask)
	if err != nil {
		return 0, err
	}
	return uint64(wd), nil
}

// inotifyRmWatch implements inotify_rm_watch(2): EINVAL for an unknown wd.
func (t *Task) inotifyRmWatch(fd, wd int32) (uint64, error) {
	n, f, err := t.inotifyFile(fd)
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	return 0, n.RmWatch(wd)
}
