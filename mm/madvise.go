package mm

import (
	"golang.org/x/sys/unix"

	"kvsentry/platform"
)

// madvise(2) advice values (include/uapi/asm-generic/mman-common.h).
const (
	madvNormal       = 0
	madvRandom       = 1
	madvSequential   = 2
	madvWillneed     = 3
	madvDontneed     = 4
	madvFree         = 8
	madvRemove       = 9
	madvDontfork     = 10
	madvDofork       = 11
	madvMergeable    = 12
	madvUnmergeable  = 13
	madvHugepage     = 14
	madvNohugepage   = 15
	madvDontdump     = 16
	madvDodump       = 17
	madvWipeonfork   = 18
	madvKeeponfork   = 19
	madvCold         = 20
	madvPageout      = 21
	madvPopulateRead = 22
	madvPopulateWr   = 23
	madvCollapse     = 25
	madvHwpoison     = 100
	madvSoftOffline  = 101
)

func knownAdvice(a int) bool {
	switch a {
	case madvNormal, madvRandom, madvSequential, madvWillneed, madvDontneed,
		madvFree, madvRemove, madvDontfork, madvDofork, madvMergeable,
		madvUnmergeable, madvHugepage, madvNohugepage, madvDontdump, madvDodump,
		madvWipeonfork, madvKeeponfork, madvCold, madvPageout,
		madvPopulateRead, madvPopulateWr, madvCollapse:
		return true
	}
	return false
}

// Madvise implements madvise(2) (mm/madvise.c). MADV_DONTNEED and MADV_FREE
// drop the pages (private anonymous memory reads zero again, private file
// mappings re-read the file, shared memory keeps its content); MADV_REMOVE
// frees shared anonymous memory; MADV_DONTFORK/DOFORK/WIPEONFORK/KEEPONFORK
// mark areas for Fork; other known advice is accepted and ignored. EINVAL for
// a misaligned addr or unknown advice, ENOMEM when part of the range is
// unmapped (the mapped part is still advised, as in Linux).
func (m *MM) Madvise(addr, length uint64, advice int) error {
	if addr%PageSize != 0 || !knownAdvice(advice) {
		return unix.EINVAL
	}
	rl, ok := pageRoundUp(length)
	if !ok || (length != 0 && rl == 0) || addr+rl < addr {
		return unix.EINVAL
	}
	if rl == 0 {
		return nil
	}
	end := addr + rl
	m.mu.Lock()
	defer m.mu.Unlock()
	vs := m.vmas.inRange(addr, end)
	hole := false
	cur := addr
	for _, v := range vs {
		if v.start > cur {
			hole = true
		}
		cur = v.end
	}
	if cur < end {
		hole = true
	}
	// Validate first so that an EINVAL changes nothing.
	for _, v := range vs {
		switch advice {
		case madvFree, madvWipeonfork:
			if !v.private || v.file != nil {
				return unix.EINVAL
			}
		case madvRemove:
			if v.shm == nil {
				return unix.EINVAL
			}
		}
	}
	switch advice {
	case madvDontneed, madvFree:
		for _, v := range vs {
			m.dropPages(max(addr, v.start), min(end, v.end))
		}
	case madvRemove:
		for _, v := range vs {
			s, e := max(addr, v.start), min(end, v.end)
			v.shm.remove(v.offsetOf(s)/PageSize, v.offsetOf(e)/PageSize)
			m.dropPages(s, e)
		}
	case madvDontfork, madvDofork, madvWipeonfork, madvKeeponfork:
		m.vmas.splitAt(addr)
		m.vmas.splitAt(end)
		for _, v := range m.vmas.inRange(addr, end) {
			switch advice {
			case madvDontfork:
				v.dontFork = true
			case madvDofork:
				v.dontFork = false
			case madvWipeonfork:
				v.wipeOnFork = true
			case madvKeeponfork:
				v.wipeOnFork = false
			}
		}
		m.vmas.mergeAround(addr, end)
	case madvWillneed, madvPopulateRead, madvPopulateWr:
		// Prefault is an optimisation; MADV_POPULATE_* must still fail on
		// areas the access is not allowed in.
		if advice != madvWillneed {
			for _, v := range vs {
				need := platform.Read
				if advice == madvPopulateWr {
					need = platform.Write
				}
				if effPerms(v.perms)&need == 0 {
					return unix.EINVAL
				}
			}
		}
	}
	if hole {
		return unix.ENOMEM
	}
	return nil
}
