package mm

import (
	"golang.org/x/sys/unix"

	"kvsentry/platform"
)

// mremap(2) flags (include/uapi/linux/mman.h).
const (
	mremapMaymove   = 1
	mremapFixed     = 2
	mremapDontunmap = 4
)

// Mremap resizes and/or moves the mapping at oldAddr (Linux sys_mremap):
// shrinking unmaps the tail, growing extends in place when the space after
// is free, else moves it when MREMAP_MAYMOVE allows (contents and populated
// pages travel along). flags: MREMAP_MAYMOVE, MREMAP_FIXED, MREMAP_DONTUNMAP.
func (m *MM) Mremap(oldAddr, oldLen, newLen uint64, flags int, newAddr uint64) (uint64, error) {
	if flags&^(mremapMaymove|mremapFixed|mremapDontunmap) != 0 || oldAddr%PageSize != 0 {
		return 0, unix.EINVAL
	}
	if flags&(mremapFixed|mremapDontunmap) != 0 && flags&mremapMaymove == 0 {
		return 0, unix.EINVAL
	}
	oldLen, ok1 := pageRoundUp(oldLen)
	newLen, ok2 := pageRoundUp(newLen)
	if !ok1 || !ok2 || newLen == 0 {
		return 0, unix.EINVAL
	}
	if flags&mremapDontunmap != 0 && oldLen != newLen {
		return 0, unix.EINVAL
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if flags&mremapFixed != 0 {
		if newAddr%PageSize != 0 || newLen > m.maxAddr || newAddr > m.maxAddr-newLen {
			return 0, unix.EINVAL
		}
		if oldAddr+oldLen > newAddr && newAddr+newLen > oldAddr {
			return 0, unix.EINVAL
		}
		if newAddr < minMmapAddr {
			return 0, unix.EPERM
		}
	}
	v := m.vmas.find(oldAddr)
	if v == nil || oldAddr+oldLen < oldAddr || oldAddr+oldLen > v.end {
		return 0, unix.EFAULT
	}
	if oldLen == 0 {
		// Duplicate a shared mapping (Linux allows this only for shared ones).
		if v.private || flags&mremapMaymove == 0 {
			return 0, unix.EINVAL
		}
	}
	if flags&mremapFixed != 0 {
		m.unmapLocked(newAddr, newAddr+newLen)
		if oldLen > newLen {
			m.unmapLocked(oldAddr+newLen, oldAddr+oldLen)
			oldLen = newLen
		}
		if err := m.checkGrowth(v, oldLen, newLen); err != nil {
			return 0, err
		}
		m.moveLocked(oldAddr, oldLen, newAddr, newLen, flags&mremapDontunmap != 0)
		return newAddr, nil
	}
	if newLen <= oldLen && flags&mremapDontunmap == 0 {
		m.unmapLocked(oldAddr+newLen, oldAddr+oldLen)
		return oldAddr, nil
	}
	if err := m.checkGrowth(v, oldLen, newLen); err != nil {
		return 0, err
	}
	if oldLen > 0 && oldAddr+oldLen == v.end && flags&mremapDontunmap == 0 &&
		newLen <= m.maxAddr-oldAddr && !m.vmas.overlaps(v.end, oldAddr+newLen) {
		// Grow in place (Linux vma_expand); the key (start) does not change.
		v.end = oldAddr + newLen
		m.vmas.mergeAround(v.start, v.end)
		return oldAddr, nil
	}
	if flags&mremapMaymove == 0 {
		return 0, unix.ENOMEM
	}
	na, err := m.findUnmappedLocked(newLen)
	if err != nil {
		return 0, err
	}
	m.moveLocked(oldAddr, oldLen, na, newLen, flags&mremapDontunmap != 0)
	return na, nil
}

// checkGrowth applies the commit-limit test to the growth of v by newLen-oldLen.
func (m *MM) checkGrowth(v *vma, oldLen, newLen uint64) error {
	if newLen > oldLen && v.accountable() && newLen-oldLen > m.commitLimit {
		return unix.ENOMEM
	}
	return nil
}

// moveLocked creates at [newAddr, newAddr+newLen) an area like the one at
// oldAddr, moves the pages of [oldAddr, oldAddr+oldLen) there (Linux
// move_vma / move_page_tables) and removes the old range unless keepOld
// (MREMAP_DONTUNMAP: the old range stays mapped but empty). The target range
// must be free.
func (m *MM) moveLocked(oldAddr, oldLen, newAddr, newLen uint64, keepOld bool) {
	keepOld = keepOld || oldLen == 0
	v := m.vmas.find(oldAddr)
	nv := *v
	nv.start, nv.end = newAddr, newAddr+newLen
	if v.file != nil || v.shm != nil {
		nv.off = v.offsetOf(oldAddr)
	}
	if nv.shm != nil {
		nv.shm.incRef()
	}
	old := m.pages.inRange(oldAddr, oldAddr+oldLen)
	mapped := false
	for _, p := range old {
		mapped = mapped || p.mapped != platform.NoAccess
		m.pages.del(p)
	}
	if mapped {
		m.unmapPlatform(oldAddr, oldAddr+oldLen)
	}
	if !keepOld {
		m.unmapLocked(oldAddr, oldAddr+oldLen)
	}
	m.vmas.insert(&nv)
	for _, p := range old {
		if p.addr-oldAddr >= newLen {
			m.pool.DecRef(p.off)
			continue
		}
		p.addr = newAddr + (p.addr - oldAddr)
		p.mapped = platform.NoAccess
		m.pages.set(p)
	}
	m.vmas.mergeAround(nv.start, nv.end)
}

// SetBrk starts the program break at start (exec: the page-aligned end of
// bss); no heap area exists until Brk grows it.
func (m *MM) SetBrk(start uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.brkStart, m.brk = start, start
}

// Brk implements sys_brk (mm/mmap.c): it moves the break to addr and returns
// the new break, or returns the old break when refused (addr below the start,
// or growth that would overlap any other mapping, come within a page of one,
// or exceed the limits).
// Shrinking frees the pages above the new break.
func (m *MM) Brk(addr uint64) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.brkStart < minMmapAddr || addr < m.brkStart || addr > m.maxAddr {
		return m.brk
	}
	oldEnd, _ := pageRoundUp(m.brk)
	newEnd, ok := pageRoundUp(addr)
	if !ok || newEnd > m.maxAddr {
		return m.brk
	}
	switch {
	case newEnd == oldEnd:
	case newEnd < oldEnd:
		m.unmapLocked(newEnd, oldEnd)
	default:
		// Linux leaves at least one page between the heap and the next
		// mapping: "newbrk + PAGE_SIZE > vm_start_gap(next)" refuses.
		if newEnd > m.maxAddr-PageSize || m.vmas.overlaps(oldEnd, newEnd+PageSize) ||
			newEnd-oldEnd > m.commitLimit {
			return m.brk
		}
		v := &vma{
			start: oldEnd, end: newEnd,
			perms: platform.ReadWrite, maxPerms: platform.AnyAccess,
			private: true, name: "[heap]",
		}
		if !m.vmas.insert(v) {
			return m.brk
		}
		m.vmas.mergeAround(v.start, v.end)
	}
	m.brk = addr
	return addr
}

// BrkStart is where the program break started (SetBrk).
func (m *MM) BrkStart() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.brkStart
}
