package sentry

import (
	"golang.org/x/sys/unix"
)

func init() {
	register(unix.SYS_MOUNT, "sssxs", Partial, "tmpfs, MS_REMOUNT of flags, propagation changes (no-ops); root only", sysMount)
	register(unix.SYS_UMOUNT2, "sx", Full, "", sysUmount2)
}

// Mount flags mount(2) accepts beyond the per-mount ones vfs keeps.
const (
	msRemount     = unix.MS_REMOUNT
	msBind        = unix.MS_BIND
	msMove        = unix.MS_MOVE
	msPropagation = unix.MS_SHARED | unix.MS_PRIVATE | unix.MS_SLAVE | unix.MS_UNBINDABLE
)

// sysMount implements mount(2) (fs/namespace.c path_mount): new tmpfs
// instances, remounts changing MS_RDONLY/NOSUID/NODEV/NOEXEC, and
// propagation changes, which have nothing to propagate to here.
func sysMount(t *Task, a *sysArgs) (uint64, error) {
	c := t.vctx()
	if c.Creds.UID != 0 {
		return 0, unix.EPERM
	}
	target, err := t.copyInPath(a[1])
	if err != nil {
		return 0, err
	}
	flags := a[3]
	if flags&0xffff0000 == 0xc0ed0000 { // MS_MGC_VAL in the top half: ignored
		flags &= 0xffff
	}
	var fstype, data string
	if a[2] != 0 && flags&(msRemount|msBind|msMove|msPropagation) == 0 {
		if fstype, err = t.mm.CopyInString(a[2], 4096); err != nil {
			return 0, err
		}
	}
	if a[4] != 0 {
		if data, err = t.mm.CopyInString(a[4], 4096); err != nil {
			return 0, err
		}
	}
	switch {
	case flags&msRemount != 0:
		return 0, t.k.vfs.Remount(c, target, flags)
	case flags&msPropagation != 0:
		_, err := t.k.vfs.Lookup(c, c.Cwd, target, true)
		return 0, err
	case flags&(msBind|msMove) != 0:
		return 0, unix.EINVAL
	}
	switch fstype {
	case "tmpfs":
		return 0, t.k.vfs.MountTmpfs(c, target, flags, data)
	case "":
		return 0, unix.EINVAL
	}
	return 0, unix.ENODEV
}

// umount2 flags (include/linux/fs.h).
const (
	mntForce       = 1
	mntDetach      = 2
	mntExpire      = 4
	umountNoFollow = 8
)

// sysUmount2 implements umount2(2) (fs/namespace.c ksys_umount).
func sysUmount2(t *Task, a *sysArgs) (uint64, error) {
	flags := a[1]
	if flags&^uint64(mntForce|mntDetach|mntExpire|umountNoFollow) != 0 ||
		flags&mntExpire != 0 && flags&(mntForce|mntDetach) != 0 {
		return 0, unix.EINVAL
	}
	c := t.vctx()
	if c.Creds.UID != 0 {
		return 0, unix.EPERM
	}
	target, err := t.copyInPath(a[0])
	if err != nil {
		return 0, err
	}
	if flags&mntExpire != 0 {
		return 0, unix.EAGAIN
	}
	return 0, t.k.vfs.Umount(c, target, flags&umountNoFollow == 0)
}
