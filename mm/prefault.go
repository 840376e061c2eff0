package mm

import "kvsentry/platform"

// Prefault maps into the platform address space, in one batch, up to
// maxPages pages that need no new memory: populated pages whose mapping lags
// (all of them right after fork) and pages of private file areas already in
// their file's page cache (right after exec of a binary that ran before).
// Pages holding the hot addresses (the stack pointer, say) are made private
// first in writable areas, since they are about to be written. It saves one
// platform fault per page run the guest would otherwise take (the fault is a
// ptrace round trip; a batch entry costs a fraction of that).
//
// With eager (a fresh exec), small private writable areas — .data, RELRO,
// .bss, the first heap page — are also populated and made private now:
// the dynamic linker writes every page of them while relocating.
func (m *MM) Prefault(hot []uint64, maxPages int, eager bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.as == nil {
		return
	}
	if eager {
		m.populateSmallWritable(maxPages)
	}
	for _, a := range hot {
		v := m.vmas.find(a)
		if v == nil || !v.private || v.perms&platform.Write == 0 {
			continue
		}
		if p := m.pages.get(pageRoundDown(a)); p != nil && p.cow {
			m.breakCOW(v, p, false)
		}
	}
	var ps []*pte
	perms := map[*pte]platform.AccessType{}
	m.vmas.each(func(v *vma) bool {
		var cache *FileCache
		if cm, ok := v.file.(CachedMappable); ok && v.shm == nil && v.private {
			cache = cm.FileCache()
		}
		populated := map[uint64]bool{}
		for _, p := range m.pages.inRange(v.start, v.end) {
			populated[p.addr] = true
			if want := desired(v, p); p.mapped != want && want != platform.NoAccess {
				ps = append(ps, p)
				perms[p] = want
			}
			if len(ps) >= maxPages {
				return false
			}
		}
		if cache == nil || effPerms(v.perms) == platform.NoAccess {
			return true
		}
		for a := v.start; a < v.end && len(ps) < maxPages; a += PageSize {
			if populated[a] {
				continue
			}
			if off, ok := cache.lookup(v.offsetOf(a) / PageSize); ok {
				p := &pte{addr: a, off: off, cow: true}
				m.pages.set(p)
				ps = append(ps, p)
				perms[p] = desired(v, p)
			}
		}
		return len(ps) < maxPages
	})
	ps = sortPTEs(ps)
	m.mapPages(ps, func(p *pte) platform.AccessType { return perms[p] })
}

// eagerAreaPages bounds the size of the writable areas an exec populates
// up front.
const eagerAreaPages = 64

// populateSmallWritable populates and un-shares every private writable
// area of at most eagerAreaPages pages. m.mu must be held.
func (m *MM) populateSmallWritable(budget int) {
	var areas []*vma
	m.vmas.each(func(v *vma) bool {
		if v.private && v.perms&platform.Write != 0 && (v.end-v.start)/PageSize <= eagerAreaPages {
			areas = append(areas, v)
		}
		return true
	})
	for _, v := range areas {
		for a := v.start; a < v.end && budget > 0; a += PageSize {
			p := m.pages.get(a)
			if p == nil {
				var err error
				if p, err = m.populate(v, a, false); err != nil {
					break // past end of file: leave it to the fault path
				}
			}
			if p.cow {
				if m.breakCOW(v, p, false) != nil {
					return
				}
			}
			budget--
		}
	}
}
