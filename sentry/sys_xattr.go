package sentry

import (
	"golang.org/x/sys/unix"

	"kvsentry/vfs"
)

func init() {
	for _, e := range []struct {
		nr     uintptr
		args   string
		follow bool
		fd     bool
		fn     func(t *Task, start vfs.Path, name string, follow bool, a *sysArgs) (uint64, error)
	}{
		{unix.SYS_SETXATTR, "sspdx", true, false, setxattr},
		{unix.SYS_LSETXATTR, "sspdx", false, false, setxattr},
		{unix.SYS_FSETXATTR, "fspdx", true, true, setxattr},
		{unix.SYS_GETXATTR, "sspd", true, false, getxattr},
		{unix.SYS_LGETXATTR, "sspd", false, false, getxattr},
		{unix.SYS_FGETXATTR, "fspd", true, true, getxattr},
		{unix.SYS_LISTXATTR, "spd", true, false, listxattr},
		{unix.SYS_LLISTXATTR, "spd", false, false, listxattr},
		{unix.SYS_FLISTXATTR, "fpd", true, true, listxattr},
		{unix.SYS_REMOVEXATTR, "ss", true, false, removexattr},
		{unix.SYS_LREMOVEXATTR, "ss", false, false, removexattr},
		{unix.SYS_FREMOVEXATTR, "fs", true, true, removexattr},
	} {
		e := e
		register(e.nr, e.args, Partial, "user., trusted. and security. namespaces in memory; system. (ACLs) EOPNOTSUPP; not kept by --overlay DIR", func(t *Task, a *sysArgs) (uint64, error) {
			start, name, err := t.xattrTarget(a[0], e.fd)
			if err != nil {
				return 0, err
			}
			return e.fn(t, start, name, e.follow, a)
		})
	}
}

// xattrTarget decodes the first argument of the xattr calls: a path, or an
// fd (the f* forms) naming the file itself.
func (t *Task) xattrTarget(arg uint64, isFD bool) (vfs.Path, string, error) {
	if !isFD {
		name, err := t.copyInPath(arg)
		if err != nil {
			return vfs.Path{}, "", err
		}
		if name == "" {
			return vfs.Path{}, "", unix.ENOENT
		}
		start, err := t.atDir(int32(unix.AT_FDCWD), name, false)
		return start, name, err
	}
	f, _, err := t.fds.Get(int32(arg))
	if err != nil {
		return vfs.Path{}, "", err
	}
	defer f.DecRef()
	if !f.Path().Valid() {
		return vfs.Path{}, "", unix.EOPNOTSUPP
	}
	return f.Path(), "", nil
}

// xattrName reads an attribute name (at most XATTR_NAME_MAX bytes: ERANGE).
func (t *Task) xattrName(addr uint64) (string, error) {
	s, err := t.mm.CopyInString(addr, 256)
	if err == unix.ENAMETOOLONG {
		return "", unix.ERANGE
	}
	if err == nil && s == "" {
		return "", unix.ERANGE
	}
	return s, err
}

// setxattr implements setxattr(2) and its l/f forms.
func setxattr(t *Task, start vfs.Path, name string, follow bool, a *sysArgs) (uint64, error) {
	attr, err := t.xattrName(a[1])
	if err != nil {
		return 0, err
	}
	size := a[3]
	if size > 65536 {
		return 0, unix.E2BIG
	}
	val := make([]byte, size)
	if _, err := t.mm.CopyIn(a[2], val); err != nil {
		return 0, err
	}
	return 0, t.k.vfs.SetXattr(t.vctx(), start, name, attr, val, int(a[4]), follow)
}

// getxattr implements getxattr(2): size 0 asks for the value's size.
func getxattr(t *Task, start vfs.Path, name string, follow bool, a *sysArgs) (uint64, error) {
	attr, err := t.xattrName(a[1])
	if err != nil {
		return 0, err
	}
	val, err := t.k.vfs.GetXattr(t.vctx(), start, name, attr, follow)
	if err != nil {
		return 0, err
	}
	if a[3] == 0 {
		return uint64(len(val)), nil
	}
	if uint64(len(val)) > a[3] {
		return 0, unix.ERANGE
	}
	if _, err := t.mm.CopyOut(a[2], val); err != nil {
		return 0, err
	}
	return uint64(len(val)), nil
}

// listxattr implements listxattr(2): NUL-terminated names.
func listxattr(t *Task, start vfs.Path, name string, follow bool, a *sysArgs) (uint64, error) {
	names, err := t.k.vfs.ListXattr(t.vctx(), start, name, follow)
	if err != nil {
		return 0, err
	}
	var b []byte
	for _, n := range names {
		b = append(append(b, n...), 0)
	}
	if a[2] == 0 {
		return uint64(len(b)), nil
	}
	if uint64(len(b)) > a[2] {
		return 0, unix.ERANGE
	}
	if _, err := t.mm.CopyOut(a[1], b); err != nil {
		return 0, err
	}
	return uint64(len(b)), nil
}

// removexattr implements removexattr(2).
func removexattr(t *Task, start vfs.Path, name string, follow bool, a *sysArgs) (uint64, error) {
	attr, err := t.xattrName(a[1])
	if err != nil {
		return 0, err
	}
	return 0, t.k.vfs.RemoveXattr(t.vctx(), start, name, attr, follow)
}
