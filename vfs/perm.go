package vfs

import "golang.org/x/sys/unix"

// Access bits, as in MAY_READ/MAY_WRITE/MAY_EXEC.
const (
	mayExec  = 1
	mayWrite = 2
	mayRead  = 4
)

// permits checks want (a MAY_* mask) against in's mode for cr
// (fs/namei.c generic_permission / acl_permission_check). Root bypasses the
// rwx bits, except that executing a non-directory needs some x bit.
func permits(cr *Creds, in *inode, want uint32) error {
	if cr.UID == 0 {
		if want&mayExec != 0 && !in.isDir() && in.mode&0o111 == 0 {
			return unix.EACCES
		}
		return nil
	}
	var bits uint32
	switch {
	case cr.UID == in.uid:
		bits = (in.mode >> 6) & 7
	case cr.inGroup(in.gid):
		bits = (in.mode >> 3) & 7
	default:
		bits = in.mode & 7
	}
	if bits&want != want {
		return unix.EACCES
	}
	return nil
}

// isOwner reports whether cr may act as the owner of in (inode_owner_or_capable).
func isOwner(cr *Creds, in *inode) bool { return cr.UID == 0 || cr.UID == in.uid }

// checkSticky enforces the sticky bit of dir on removing or renaming victim
// (fs/namei.c check_sticky).
func checkSticky(cr *Creds, dir, victim *inode) error {
	if dir.mode&unix.S_ISVTX == 0 || cr.UID == 0 || cr.UID == dir.uid || cr.UID == victim.uid {
		return nil
	}
	return unix.EPERM
}

// mayCreate checks that a name may be added to dir (may_create).
func mayCreate(c *Ctx, dir Path) error {
	if dir.d.dead {
		return unix.ENOENT
	}
	if dir.mnt.fs.kind == fsProc {
		return unix.EACCES
	}
	if err := permits(&c.Creds, dir.d.inode, mayWrite|mayExec); err != nil {
		return err
	}
	if dir.mnt.readOnly() {
		return unix.EROFS
	}
	return nil
}

// mayDelete checks that victim may be removed from dir (may_delete).
func (v *VFS) mayDelete(c *Ctx, dir, victim Path) error {
	if dir.mnt.fs.kind == fsProc {
		return unix.EACCES
	}
	if err := permits(&c.Creds, dir.d.inode, mayWrite|mayExec); err != nil {
		return err
	}
	if err := checkSticky(&c.Creds, dir.d.inode, victim.d.inode); err != nil {
		return err
	}
	if dir.mnt.readOnly() {
		return unix.EROFS
	}
	if v.isBusy(victim) {
		return unix.EBUSY
	}
	return nil
}
