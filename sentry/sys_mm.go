package sentry

import (
	"golang.org/x/sys/unix"

	"kvsentry/mm"
	"kvsentry/platform"
)

func init() {
	register(unix.SYS_MMAP, "pdxxfd", Partial, "MAP_HUGETLB EINVAL; MAP_SHARED file mappings share the page cache with read/write", sysMmap)
	register(unix.SYS_MUNMAP, "pd", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.mm.Munmap(a[0], a[1])
	})
	register(unix.SYS_MPROTECT, "pdx", Full, "", sysMprotect)
	register(unix.SYS_MREMAP, "pddxp", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return t.mm.Mremap(a[0], a[1], a[2], int(a[3]), a[4])
	})
	register(unix.SYS_BRK, "p", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return t.mm.Brk(a[0]), nil
	})
	register(unix.SYS_MADVISE, "pdd", Partial, "MADV_DONTNEED drops pages; other advice is accepted without effect", func(t *Task, a *sysArgs) (uint64, error) {
		return 0, t.mm.Madvise(a[0], a[1], int(a[2]))
	})
	register(unix.SYS_MSYNC, "pdx", Full, "", sysMsync)
	for _, nr := range []uintptr{unix.SYS_MLOCK, unix.SYS_MUNLOCK, unix.SYS_MLOCK2} {
		register(nr, "pdx", Partial, "accepted: sandbox memory is never swapped by the sentry", func(t *Task, a *sysArgs) (uint64, error) { return 0, nil })
	}
	register(unix.SYS_MLOCKALL, "x", Partial, "accepted", func(t *Task, a *sysArgs) (uint64, error) { return 0, nil })
	register(unix.SYS_MUNLOCKALL, "", Partial, "accepted", func(t *Task, a *sysArgs) (uint64, error) { return 0, nil })
}

// protToAccess converts PROT_* bits to platform permissions.
func protToAccess(prot uint64) platform.AccessType {
	var p platform.AccessType
	if prot&unix.PROT_READ != 0 {
		p |= platform.Read
	}
	if prot&unix.PROT_WRITE != 0 {
		p |= platform.Write
	}
	if prot&unix.PROT_EXEC != 0 {
		p |= platform.Execute
	}
	return p
}

// mmap flags this version understands (others are ignored as Linux's
// legacy flags are; unknown ones are rejected only with MAP_SHARED_VALIDATE).
const mapKnown = unix.MAP_SHARED | unix.MAP_PRIVATE | unix.MAP_SHARED_VALIDATE | unix.MAP_FIXED |
	unix.MAP_ANONYMOUS | unix.MAP_GROWSDOWN | unix.MAP_DENYWRITE | unix.MAP_EXECUTABLE |
	unix.MAP_LOCKED | unix.MAP_NORESERVE | unix.MAP_POPULATE | unix.MAP_NONBLOCK |
	unix.MAP_STACK | unix.MAP_HUGETLB | unix.MAP_FIXED_NOREPLACE | unix.MAP_32BIT

// sysMmap implements mmap(2) (mm/mmap.c do_mmap, ksys_mmap_pgoff).
func sysMmap(t *Task, a *sysArgs) (uint64, error) {
	addr, length, prot, flags, fd, off := a[0], a[1], a[2], a[3], int32(a[4]), a[5]
	if prot&^uint64(unix.PROT_READ|unix.PROT_WRITE|unix.PROT_EXEC|unix.PROT_GROWSDOWN|unix.PROT_GROWSUP) != 0 {
		return 0, unix.EINVAL
	}
	if off&(mm.PageSize-1) != 0 {
		return 0, unix.EINVAL
	}
	typ := flags & unix.MAP_SHARED_VALIDATE
	if typ != unix.MAP_SHARED && typ != unix.MAP_PRIVATE && typ != unix.MAP_SHARED_VALIDATE {
		return 0, unix.EINVAL
	}
	if typ == unix.MAP_SHARED_VALIDATE && flags&^uint64(mapKnown) != 0 {
		return 0, unix.EOPNOTSUPP
	}
	if flags&unix.MAP_HUGETLB != 0 {
		return 0, unix.EINVAL
	}
	o := mm.MmapOpts{
		Addr:      addr,
		Length:    length,
		Offset:    off,
		Perms:     protToAccess(prot),
		Private:   typ == unix.MAP_PRIVATE,
		Fixed:     flags&unix.MAP_FIXED != 0,
		NoReplace: flags&unix.MAP_FIXED_NOREPLACE != 0,
	}
	if flags&unix.MAP_ANONYMOUS == 0 {
		f, _, err := t.fds.Get(fd)
		if err != nil {
			return 0, err
		}
		defer f.DecRef()
		acc := f.Flags() & unix.O_ACCMODE
		if f.Flags()&unix.O_PATH != 0 || acc == unix.O_WRONLY {
			return 0, unix.EACCES
		}
		if !o.Private && prot&unix.PROT_WRITE != 0 && acc != unix.O_RDWR {
			return 0, unix.EACCES
		}
		if !o.Private && acc != unix.O_RDWR {
			// A shared mapping of a file not open for writing can never
			// become writable (VM_MAYWRITE clear).
			o.MaxPerms = platform.Read | platform.Execute
		}
		m, dev, ino, err := f.Mappable()
		if err != nil {
			return 0, err
		}
		o.File, o.Dev, o.Ino = m, dev, ino
		o.Name = f.Name(t.vctx())
	}
	return t.mm.Mmap(o)
}

// sysMprotect implements mprotect(2).
func sysMprotect(t *Task, a *sysArgs) (uint64, error) {
	prot := a[2]
	if prot&^uint64(unix.PROT_READ|unix.PROT_WRITE|unix.PROT_EXEC|unix.PROT_GROWSDOWN|unix.PROT_GROWSUP) != 0 {
		return 0, unix.EINVAL
	}
	if a[0]&(mm.PageSize-1) != 0 {
		return 0, unix.EINVAL
	}
	return 0, t.mm.Mprotect(a[0], a[1], protToAccess(prot))
}

// sysMsync implements msync(2)'s argument checks.
func sysMsync(t *Task, a *sysArgs) (uint64, error) {
	addr, flags := a[0], a[2]
	if addr&(mm.PageSize-1) != 0 || flags&^uint64(unix.MS_ASYNC|unix.MS_SYNC|unix.MS_INVALIDATE) != 0 {
		return 0, unix.EINVAL
	}
	if flags&unix.MS_ASYNC != 0 && flags&unix.MS_SYNC != 0 {
		return 0, unix.EINVAL
	}
	return 0, t.mm.Msync(addr, a[1])
}
