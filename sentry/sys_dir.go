package sentry

import (
	"golang.org/x/sys/unix"

	"kvsentry/vfs"
)

func init() {
	register(unix.SYS_GETCWD, "od", Full, "", sysGetcwd)
	register(unix.SYS_CHDIR, "s", Full, "", sysChdir)
	register(unix.SYS_FCHDIR, "f", Full, "", sysFchdir)
	register(unix.SYS_GETDENTS64, "fpd", Full, "", sysGetdents64)
	register(unix.SYS_CHROOT, "s", Partial, "changes the task's root within the sandbox", sysChroot)
}

// sysGetcwd implements getcwd(2): the result is the length including NUL.
func sysGetcwd(t *Task, a *sysArgs) (uint64, error) {
	c := t.vctx()
	s := t.k.vfs.PathString(c, c.Cwd) + "\x00"
	if uint64(len(s)) > a[1] {
		return 0, unix.ERANGE
	}
	if _, err := t.mm.CopyOut(a[0], []byte(s)); err != nil {
		return 0, err
	}
	return uint64(len(s)), nil
}

// lookupDir resolves name (or, when name is "", start itself) to a
// searchable directory.
func (t *Task) lookupDir(start vfs.Path, name string) (vfs.Path, error) {
	c := t.vctx()
	p := start
	if name != "" {
		var err error
		if p, err = t.k.vfs.Lookup(c, start, name, true); err != nil {
			return vfs.Path{}, err
		}
	}
	st, err := t.k.vfs.Stat(c, p, "", true)
	if err != nil {
		return vfs.Path{}, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return vfs.Path{}, unix.ENOTDIR
	}
	if err := t.k.vfs.Access(c, p, "", unix.X_OK, true); err != nil {
		return vfs.Path{}, err
	}
	return p, nil
}

// sysChdir implements chdir(2).
func sysChdir(t *Task, a *sysArgs) (uint64, error) {
	name, err := t.copyInPath(a[0])
	if err != nil {
		return 0, err
	}
	if name == "" {
		return 0, unix.ENOENT
	}
	p, err := t.lookupDir(vfs.Path{}, name)
	if err != nil {
		return 0, err
	}
	t.fs.mu.Lock()
	t.fs.cwd = p
	t.fs.mu.Unlock()
	return 0, nil
}

// sysFchdir implements fchdir(2).
func sysFchdir(t *Task, a *sysArgs) (uint64, error) {
	f, _, err := t.fds.Get(int32(a[0]))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	if !f.Path().Valid() {
		return 0, unix.ENOTDIR
	}
	p, err := t.lookupDir(f.Path(), "")
	if err != nil {
		return 0, err
	}
	t.fs.mu.Lock()
	t.fs.cwd = p
	t.fs.mu.Unlock()
	return 0, nil
}

// sysChroot implements chroot(2) (CAP_SYS_CHROOT: root only).
func sysChroot(t *Task, a *sysArgs) (uint64, error) {
	name, err := t.copyInPath(a[0])
	if err != nil {
		return 0, err
	}
	if name == "" {
		return 0, unix.ENOENT
	}
	p, err := t.lookupDir(vfs.Path{}, name)
	if err != nil {
		return 0, err
	}
	if t.ids.euid != 0 {
		return 0, unix.EPERM
	}
	t.fs.mu.Lock()
	t.fs.root = p
	t.fs.mu.Unlock()
	return 0, nil
}

// sysGetdents64 implements getdents64(2).
func sysGetdents64(t *Task, a *sysArgs) (uint64, error) {
	f, _, err := t.fds.Get(int32(a[0]))
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	size := int(a[2])
	if int64(a[2]) < 0 || a[2] > 1<<30 {
		size = 1 << 30
	}
	if size > 1<<20 {
		size = 1 << 20
	}
	b, err := f.Getdents64(size)
	if err != nil {
		return 0, err
	}
	if _, err := t.mm.CopyOut(a[1], b); err != nil {
		return 0, err
	}
	return uint64(len(b)), nil
}
