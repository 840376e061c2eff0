package sentry

import (
	"golang.org/x/sys/unix"

	"kvsentry/vfs"
)

func init() {
	const cwd = uint64(0xffffff9c) // AT_FDCWD as a raw argument
	register(unix.SYS_ACCESS, "sd", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.faccessat(cwd, a[0], uint32(a[1]), 0)
	})
	register(unix.SYS_FACCESSAT, "fsd", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.faccessat(a[0], a[1], uint32(a[2]), 0)
	})
	register(unix.SYS_FACCESSAT2, "fsdx", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.faccessat(a[0], a[1], uint32(a[2]), int(a[3]))
	})
	register(unix.SYS_READLINK, "sod", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return t.readlinkat(cwd, a[0], a[1], a[2])
	})
	register(unix.SYS_READLINKAT, "fsod", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return t.readlinkat(a[0], a[1], a[2], a[3])
	})
	register(unix.SYS_MKDIR, "sm", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.mkdirat(cwd, a[0], uint32(a[1]))
	})
	register(unix.SYS_MKDIRAT, "fsm", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.mkdirat(a[0], a[1], uint32(a[2]))
	})
	register(unix.SYS_MKNOD, "smx", Partial, "regular files and FIFOs; device nodes EPERM", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.mknodat(cwd, a[0], uint32(a[1]), a[2])
	})
	register(unix.SYS_MKNODAT, "fsmx", Partial, "as mknod", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.mknodat(a[0], a[1], uint32(a[2]), a[3])
	})
	register(unix.SYS_UNLINK, "s", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.unlinkat(cwd, a[0], 0)
	})
	register(unix.SYS_UNLINKAT, "fsx", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.unlinkat(a[0], a[1], int(a[2]))
	})
	register(unix.SYS_RMDIR, "s", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.unlinkat(cwd, a[0], unix.AT_REMOVEDIR)
	})
	register(unix.SYS_RENAME, "ss", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.renameat2(cwd, a[0], cwd, a[1], 0)
	})
	register(unix.SYS_RENAMEAT, "fsfs", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.renameat2(a[0], a[1], a[2], a[3], 0)
	})
	register(unix.SYS_RENAMEAT2, "fsfsx", Partial, "RENAME_NOREPLACE and RENAME_EXCHANGE; RENAME_WHITEOUT EINVAL", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.renameat2(a[0], a[1], a[2], a[3], uint32(a[4]))
	})
	register(unix.SYS_LINK, "ss", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.linkat(cwd, a[0], cwd, a[1], 0)
	})
	register(unix.SYS_LINKAT, "fsfsx", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.linkat(a[0], a[1], a[2], a[3], int(a[4]))
	})
	register(unix.SYS_SYMLINK, "ss", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.symlinkat(a[0], cwd, a[1])
	})
	register(unix.SYS_SYMLINKAT, "sfs", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.symlinkat(a[0], a[1], a[2])
	})
}

// pathAt decodes an (dirfd, path) pair. allowEmpty permits "" (the
// AT_EMPTY_PATH form).
func (t *Task) pathAt(dirfd, nameAddr uint64, allowEmpty bool) (vfs.Path, string, error) {
	name, err := t.copyInPath(nameAddr)
	if err != nil {
		return vfs.Path{}, "", err
	}
	if name == "" && !allowEmpty {
		return vfs.Path{}, "", unix.ENOENT
	}
	start, err := t.atDir(int32(dirfd), name, allowEmpty)
	return start, name, err
}

// faccessat implements faccessat2(2).
func (t *Task) faccessat(dirfd, nameAddr uint64, mode uint32, flags int) error {
	if mode&^7 != 0 || flags&^(unix.AT_EACCESS|unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return unix.EINVAL
	}
	start, name, err := t.pathAt(dirfd, nameAddr, flags&unix.AT_EMPTY_PATH != 0)
	if err != nil {
		return err
	}
	return t.k.vfs.Access(t.vctx(), start, name, mode, flags&unix.AT_SYMLINK_NOFOLLOW == 0)
}

// readlinkat implements readlinkat(2).
func (t *Task) readlinkat(dirfd, nameAddr, buf, size uint64) (uint64, error) {
	if int64(size) <= 0 {
		return 0, unix.EINVAL
	}
	start, name, err := t.pathAt(dirfd, nameAddr, true)
	if err != nil {
		return 0, err
	}
	target, err := t.k.vfs.Readlink(t.vctx(), start, name)
	if err != nil {
		return 0, err
	}
	b := []byte(target)
	if uint64(len(b)) > size {
		b = b[:size]
	}
	n, err := t.mm.CopyOut(buf, b)
	if err != nil {
		return 0, err
	}
	return uint64(n), nil
}

// umask returns the task's file creation mask.
func (t *Task) umask() uint32 {
	t.fs.mu.Lock()
	defer t.fs.mu.Unlock()
	return t.fs.umask
}

// mkdirat implements mkdirat(2).
func (t *Task) mkdirat(dirfd, nameAddr uint64, mode uint32) error {
	start, name, err := t.pathAt(dirfd, nameAddr, false)
	if err != nil {
		return err
	}
	return t.k.vfs.Mkdir(t.vctx(), start, name, mode&0o7777&^t.umask())
}

// mknodat implements mknodat(2).
func (t *Task) mknodat(dirfd, nameAddr uint64, mode uint32, dev uint64) error {
	start, name, err := t.pathAt(dirfd, nameAddr, false)
	if err != nil {
		return err
	}
	typ := mode & unix.S_IFMT
	switch typ {
	case 0:
		mode |= unix.S_IFREG
	case unix.S_IFREG, unix.S_IFIFO, unix.S_IFSOCK:
	case unix.S_IFCHR, unix.S_IFBLK:
		if t.ids.euid != 0 {
			return unix.EPERM
		}
	default:
		return unix.EINVAL
	}
	return t.k.vfs.Mknod(t.vctx(), start, name, mode&unix.S_IFMT|(mode&0o7777&^t.umask()), dev)
}

// unlinkat implements unlinkat(2).
func (t *Task) unlinkat(dirfd, nameAddr uint64, flags int) error {
	if flags&^unix.AT_REMOVEDIR != 0 {
		return unix.EINVAL
	}
	start, name, err := t.pathAt(dirfd, nameAddr, false)
	if err != nil {
		return err
	}
	if flags&unix.AT_REMOVEDIR != 0 {
		return t.k.vfs.Rmdir(t.vctx(), start, name)
	}
	return t.k.vfs.Unlink(t.vctx(), start, name)
}

// renameat2 implements renameat2(2).
func (t *Task) renameat2(olddir, oldAddr, newdir, newAddr uint64, flags uint32) error {
	if flags&^(unix.RENAME_NOREPLACE|unix.RENAME_EXCHANGE|unix.RENAME_WHITEOUT) != 0 {
		return unix.EINVAL
	}
	if flags&unix.RENAME_EXCHANGE != 0 && flags&(unix.RENAME_NOREPLACE|unix.RENAME_WHITEOUT) != 0 {
		return unix.EINVAL
	}
	if flags&unix.RENAME_WHITEOUT != 0 {
		return unix.EINVAL
	}
	os, on, err := t.pathAt(olddir, oldAddr, false)
	if err != nil {
		return err
	}
	ns, nn, err := t.pathAt(newdir, newAddr, false)
	if err != nil {
		return err
	}
	return t.k.vfs.Rename(t.vctx(), os, on, ns, nn, flags)
}

// linkat implements linkat(2).
func (t *Task) linkat(olddir, oldAddr, newdir, newAddr uint64, flags int) error {
	if flags&^(unix.AT_SYMLINK_FOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return unix.EINVAL
	}
	os, on, err := t.pathAt(olddir, oldAddr, flags&unix.AT_EMPTY_PATH != 0)
	if err != nil {
		return err
	}
	ns, nn, err := t.pathAt(newdir, newAddr, false)
	if err != nil {
		return err
	}
	return t.k.vfs.Link(t.vctx(), os, on, ns, nn, flags&unix.AT_SYMLINK_FOLLOW != 0)
}

// symlinkat implements symlinkat(2).
func (t *Task) symlinkat(targetAddr, newdir, newAddr uint64) error {
	target, err := t.copyInPath(targetAddr)
	if err != nil {
		return err
	}
	if target == "" {
		return unix.ENOENT
	}
	start, name, err := t.pathAt(newdir, newAddr, false)
	if err != nil {
		return err
	}
	return t.k.vfs.Symlink(t.vctx(), target, start, name)
}
