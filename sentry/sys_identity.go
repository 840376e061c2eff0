package sentry

import (
	"golang.org/x/sys/unix"
)

func init() {
	register(unix.SYS_GETUID, "", Full, "", func(t *Task, a *sysArgs) (uint64, error) { return uint64(t.ids.ruid), nil })
	register(unix.SYS_GETEUID, "", Full, "", func(t *Task, a *sysArgs) (uint64, error) { return uint64(t.ids.euid), nil })
	register(unix.SYS_GETGID, "", Full, "", func(t *Task, a *sysArgs) (uint64, error) { return uint64(t.ids.rgid), nil })
	register(unix.SYS_GETEGID, "", Full, "", func(t *Task, a *sysArgs) (uint64, error) { return uint64(t.ids.egid), nil })
	register(unix.SYS_GETRESUID, "ppp", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.copyOutTriple(a, t.ids.ruid, t.ids.euid, t.ids.suid)
	})
	register(unix.SYS_GETRESGID, "ppp", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.copyOutTriple(a, t.ids.rgid, t.ids.egid, t.ids.sgid)
	})
	register(unix.SYS_SETUID, "d", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.setIDs(&t.ids.ruid, &t.ids.euid, &t.ids.suid, uint32(a[0]), true)
	})
	register(unix.SYS_SETGID, "d", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.setIDs(&t.ids.rgid, &t.ids.egid, &t.ids.sgid, uint32(a[0]), false)
	})
	register(unix.SYS_SETRESUID, "ddd", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.setRes(&t.ids.ruid, &t.ids.euid, &t.ids.suid, a)
	})
	register(unix.SYS_SETRESGID, "ddd", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.setRes(&t.ids.rgid, &t.ids.egid, &t.ids.sgid, a)
	})
	register(unix.SYS_SETREUID, "dd", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		b := sysArgs{a[0], a[1], ^uint64(0)}
		return 0, t.setRes(&t.ids.ruid, &t.ids.euid, &t.ids.suid, &b)
	})
	register(unix.SYS_SETREGID, "dd", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		b := sysArgs{a[0], a[1], ^uint64(0)}
		return 0, t.setRes(&t.ids.rgid, &t.ids.egid, &t.ids.sgid, &b)
	})
	register(unix.SYS_SETFSUID, "d", Partial, "returns the old fsuid; the fsuid follows the euid", func(t *Task, a *sysArgs) (uint64, error) { return uint64(t.ids.euid), nil })
	register(unix.SYS_SETFSGID, "d", Partial, "returns the old fsgid; the fsgid follows the egid", func(t *Task, a *sysArgs) (uint64, error) { return uint64(t.ids.egid), nil })
	register(unix.SYS_GETGROUPS, "dp", Full, "", sysGetgroups)
	register(unix.SYS_SETGROUPS, "dp", Full, "", sysSetgroups)
	register(unix.SYS_CAPGET, "pp", Partial, "reports a full capability set for root, none otherwise", sysCapget)
	register(unix.SYS_CAPSET, "pp", Partial, "accepted and ignored", func(t *Task, a *sysArgs) (uint64, error) { return 0, nil })
}

// ids are a task's user and group ids (real, effective, saved).
type ids struct {
	ruid, euid, suid uint32
	rgid, egid, sgid uint32
	groups           []uint32
}

// syncCreds refreshes the credentials vfs checks against (fsuid = euid).
func (t *Task) syncCreds() {
	t.creds.UID, t.creds.GID, t.creds.Groups = t.ids.euid, t.ids.egid, t.ids.groups
}

// copyOutTriple writes three 32-bit ids to the pointers in a[0..2].
func (t *Task) copyOutTriple(a *sysArgs, x, y, z uint32) error {
	for i, v := range []uint32{x, y, z} {
		if err := t.copyOutUint32(a[i], v); err != nil {
			return err
		}
	}
	return nil
}

// setIDs implements setuid/setgid (kernel/sys.c __sys_setuid): privileged
// callers set all three, others only the effective id to the real or saved.
func (t *Task) setIDs(r, e, s *uint32, id uint32, isUID bool) error {
	if int32(id) == -1 {
		return unix.EINVAL
	}
	if t.ids.euid == 0 {
		*r, *e, *s = id, id, id
	} else if id == *r || id == *s {
		*e = id
	} else {
		return unix.EPERM
	}
	t.syncCreds()
	return nil
}

// setRes implements setresuid/setresgid (-1 leaves an id unchanged).
func (t *Task) setRes(r, e, s *uint32, a *sysArgs) error {
	vals := [3]uint32{uint32(a[0]), uint32(a[1]), uint32(a[2])}
	if t.ids.euid != 0 {
		for _, v := range vals {
			if v != ^uint32(0) && v != *r && v != *e && v != *s {
				return unix.EPERM
			}
		}
	}
	for i, p := range []*uint32{r, e, s} {
		if vals[i] != ^uint32(0) {
			*p = vals[i]
		}
	}
	t.syncCreds()
	return nil
}

// sysGetgroups implements getgroups(2).
func sysGetgroups(t *Task, a *sysArgs) (uint64, error) {
	size := int32(a[0])
	if size < 0 {
		return 0, unix.EINVAL
	}
	g := t.ids.groups
	if size == 0 {
		return uint64(len(g)), nil
	}
	if int(size) < len(g) {
		return 0, unix.EINVAL
	}
	b := make([]byte, 4*len(g))
	for i, v := range g {
		putLE32(b[4*i:], v)
	}
	if _, err := t.mm.CopyOut(a[1], b); err != nil {
		return 0, err
	}
	return uint64(len(g)), nil
}

// sysSetgroups implements setgroups(2).
func sysSetgroups(t *Task, a *sysArgs) (uint64, error) {
	n := int32(a[0])
	if n < 0 || n > 65536 {
		return 0, unix.EINVAL
	}
	if t.ids.euid != 0 {
		return 0, unix.EPERM
	}
	b := make([]byte, 4*int(n))
	if _, err := t.mm.CopyIn(a[1], b); err != nil {
		return 0, err
	}
	g := make([]uint32, n)
	for i := range g {
		g[i] = uint32(b[4*i]) | uint32(b[4*i+1])<<8 | uint32(b[4*i+2])<<16 | uint32(b[4*i+3])<<24
	}
	t.ids.groups = g
	t.syncCreds()
	return 0, nil
}

// sysCapget implements capget(2) (version 3 headers).
func sysCapget(t *Task, a *sysArgs) (uint64, error) {
	hdr := make([]byte, 8)
	if _, err := t.mm.CopyIn(a[0], hdr); err != nil {
		return 0, err
	}
	const v3 = 0x20080522
	if leUint32(hdr) != v3 {
		putLE32(hdr, v3)
		t.mm.CopyOut(a[0], hdr)
		if a[1] == 0 {
			return 0, nil
		}
		return 0, unix.EINVAL
	}
	if a[1] == 0 {
		return 0, nil
	}
	data := make([]byte, 24)
	if t.ids.euid == 0 {
		for i := 0; i < 2; i++ {
			putLE32(data[12*i:], 0xffffffff)   // effective
			putLE32(data[12*i+4:], 0xffffffff) // permitted
		}
		putLE32(data[12:], 0x1ff)
		putLE32(data[16:], 0x1ff)
	}
	_, err := t.mm.CopyOut(a[1], data)
	return 0, err
}

// leUint32 decodes a little-endian 32-bit value.
func leUint32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
