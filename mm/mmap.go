package mm

import (
	"math"

	"golang.org/x/sys/unix"

	"kvsentry/platform"
)

// MmapOpts are the arguments of Mmap, decoded from mmap(2)'s.
type MmapOpts struct {
	// Addr is the hint, or the exact address with Fixed/NoReplace.
	Addr, Length, Offset uint64
	// Perms is the PROT_* set.
	Perms platform.AccessType
	// MaxPerms bounds later mprotect calls (VM_MAY*, from the file's open
	// mode); 0 means AnyAccess.
	MaxPerms platform.AccessType
	// Private is MAP_PRIVATE (else MAP_SHARED).
	Private bool
	// Fixed is MAP_FIXED: replace whatever is there.
	Fixed bool
	// NoReplace is MAP_FIXED_NOREPLACE: EEXIST if anything is there.
	NoReplace bool
	// File backs the mapping; nil means anonymous.
	File Mappable
	// Name is shown in /proc/pid/maps: file path, "[stack]", "[heap]".
	Name string
	// Dev and Ino are shown in /proc/pid/maps for files.
	Dev, Ino uint64
}

// Mmap creates a mapping with Linux's do_mmap semantics and returns its
// address. Errors: EINVAL (zero length, misaligned offset or fixed address),
// ENOMEM (no room, or larger than the commit limit), EEXIST (NoReplace over
// an existing mapping), EPERM (fixed below 0x10000), EOVERFLOW, EACCES.
func (m *MM) Mmap(o MmapOpts) (uint64, error) {
	if o.Length == 0 || o.Offset%PageSize != 0 {
		return 0, unix.EINVAL
	}
	length, ok := pageRoundUp(o.Length)
	if !ok || length == 0 || length > m.maxAddr {
		return 0, unix.ENOMEM
	}
	if o.Offset+length < o.Offset || (o.File != nil && o.Offset+length > math.MaxInt64) {
		return 0, unix.EOVERFLOW
	}
	maxPerms := o.MaxPerms
	if maxPerms == platform.NoAccess {
		maxPerms = platform.AnyAccess
	}
	if o.Perms&^maxPerms != 0 {
		return 0, unix.EACCES
	}
	v := &vma{
		perms:    o.Perms,
		maxPerms: maxPerms,
		private:  o.Private,
		file:     o.File,
		name:     o.Name,
	}
	if o.File != nil {
		v.off, v.dev, v.ino = o.Offset, o.Dev, o.Ino
	}
	fixed := o.Fixed || o.NoReplace

	m.mu.Lock()
	defer m.mu.Unlock()
	var addr uint64
	if fixed {
		if o.Addr%PageSize != 0 {
			return 0, unix.EINVAL
		}
		if o.Addr > m.maxAddr-length {
			return 0, unix.ENOMEM
		}
		if o.Addr < minMmapAddr {
			return 0, unix.EPERM
		}
		addr = o.Addr
		if o.NoReplace && m.vmas.overlaps(addr, addr+length) {
			return 0, unix.EEXIST
		}
	} else {
		addr = m.hintLocked(o.Addr, length)
		if addr == 0 {
			var err error
			if addr, err = m.findUnmappedLocked(length); err != nil {
				return 0, err
			}
		}
	}
	v.start, v.end = addr, addr+length
	if v.file == nil && !v.private {
		v.shm = newSharedAnon(m.pool)
		v.name = "/dev/zero (deleted)"
		v.dev, v.ino = unix.Mkdev(0, 1), v.shm.ino
	}
	if v.accountable() && length > m.commitLimit {
		if v.shm != nil {
			v.shm.decRef()
		}
		return 0, unix.ENOMEM
	}
	if fixed {
		m.unmapLocked(addr, addr+length)
	}
	if !m.vmas.insert(v) {
		// Unreachable: the range was checked or cleared above.
		if v.shm != nil {
			v.shm.decRef()
		}
		return 0, unix.ENOMEM
	}
	m.vmas.mergeAround(v.start, v.end)
	return addr, nil
}

// hintLocked returns the page-aligned hint if the range there is free, else 0
// (Linux round_hint_to_min plus the hint test of get_unmapped_area).
func (m *MM) hintLocked(hint, length uint64) uint64 {
	if hint == 0 {
		return 0
	}
	h := max(pageRoundDown(hint), minMmapAddr)
	if h > m.maxAddr-length || m.vmas.overlaps(h, h+length) {
		return 0
	}
	return h
}

// FindUnmapped returns the highest free range of length bytes below the mmap
// base (Linux arch_get_unmapped_area_topdown), falling back to a bottom-up
// search above it; ENOMEM when nothing fits.
func (m *MM) FindUnmapped(length uint64) (uint64, error) {
	length, ok := pageRoundUp(length)
	if !ok {
		return 0, unix.ENOMEM
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.findUnmappedLocked(length)
}

func (m *MM) findUnmappedLocked(length uint64) (uint64, error) {
	if length == 0 || length > m.maxAddr-minMmapAddr {
		return 0, unix.ENOMEM
	}
	top := m.mmapBase
	hi := top
	found := uint64(0)
	if top > minMmapAddr {
		m.vmas.t.DescendLessOrEqual(&vma{start: top - 1}, func(v *vma) bool {
			if v.end < hi && hi-v.end >= length {
				found = hi - length
				return false
			}
			hi = min(hi, v.start)
			return true
		})
		if found == 0 && hi >= minMmapAddr+length {
			found = hi - length
		}
	}
	if found != 0 {
		return found, nil
	}
	// Bottom-up above the base (Linux falls back to arch_get_unmapped_area).
	lo := top
	if v := m.vmas.find(lo); v != nil {
		lo = v.end
	}
	m.vmas.t.AscendGreaterOrEqual(&vma{start: lo}, func(v *vma) bool {
		if v.start >= lo && v.start-lo >= length {
			found = lo
			return false
		}
		lo = max(lo, v.end)
		return true
	})
	if found == 0 && lo <= m.maxAddr && m.maxAddr-lo >= length {
		found = lo
	}
	if found == 0 {
		return 0, unix.ENOMEM
	}
	return found, nil
}

// Munmap removes the mappings in [addr, addr+length) (Linux __vm_munmap).
func (m *MM) Munmap(addr, length uint64) error {
	if addr%PageSize != 0 {
		return unix.EINVAL
	}
	length, ok := pageRoundUp(length)
	if !ok || length == 0 || addr > m.maxAddr || length > m.maxAddr-addr {
		return unix.EINVAL
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.unmapLocked(addr, addr+length)
	return nil
}

// Mprotect changes the permissions of [addr, addr+length) (Linux
// do_mprotect_pkey): EINVAL for a misaligned addr, ENOMEM if part of the range
// is unmapped (areas before the hole keep their new permissions, as in Linux),
// EACCES beyond an area's MaxPerms.
func (m *MM) Mprotect(addr, length uint64, perms platform.AccessType) error {
	if addr%PageSize != 0 {
		return unix.EINVAL
	}
	length, ok := pageRoundUp(length)
	if !ok || addr+length < addr {
		return unix.ENOMEM
	}
	if length == 0 {
		return nil
	}
	end := addr + length
	m.mu.Lock()
	defer m.mu.Unlock()
	var err error
	cur := addr
	for cur < end {
		v := m.vmas.find(cur)
		if v == nil {
			err = unix.ENOMEM
			break
		}
		if perms&^v.maxPerms != 0 {
			err = unix.EACCES
			break
		}
		pe := min(v.end, end)
		if v.private && perms&platform.Write != 0 && v.perms&platform.Write == 0 && pe-cur > m.commitLimit {
			err = unix.ENOMEM
			break
		}
		m.vmas.splitAt(cur)
		m.vmas.splitAt(pe)
		v = m.vmas.find(cur)
		if v.perms&^perms != 0 {
			// Permissions shrink: drop platform mappings, faults remap.
			mapped := false
			for _, p := range m.pages.inRange(cur, pe) {
				mapped = mapped || p.mapped != platform.NoAccess
				p.mapped = platform.NoAccess
			}
			if mapped {
				m.unmapPlatform(cur, pe)
			}
		}
		if c := sharedCache(v); c != nil && perms&platform.Write != 0 {
			// Pages of a shared file area that become writable may be
			// written from now on.
			for _, p := range m.pages.inRange(cur, pe) {
				c.markDirty(v.offsetOf(p.addr) / PageSize)
			}
		}
		v.perms = perms
		cur = pe
	}
	m.vmas.mergeAround(addr, cur)
	return err
}

// Mapped reports whether every page of [addr, addr+length) lies in some
// mapping (what msync(2) and mincore(2) check before returning ENOMEM).
func (m *MM) Mapped(addr, length uint64) bool {
	s := pageRoundDown(addr)
	e, ok := pageRoundUp(addr + length)
	if !ok || addr+length < addr {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for cur := s; cur < e; {
		v := m.vmas.find(cur)
		if v == nil {
			return false
		}
		cur = v.end
	}
	return true
}
