package mm

import (
	"errors"
	"io"
	"sort"

	"github.com/sirupsen/logrus"

	"kvsentry/platform"
)

// faultAroundPages is the fault-around window (Linux fault_around_bytes = 64 KiB).
const faultAroundPages = 16

// mapAroundPages is the wider window in which pages that need no new memory
// (already populated after fork or exec, or already in a file's page cache)
// are mapped on a fault: each platform fault is dear (a ptrace round trip),
// while mapping more ranges in one batch is cheap.
const mapAroundPages = 256

// HandleFault resolves a guest page fault at addr (Linux handle_mm_fault):
// it populates the page (and a fault-around window), breaks copy-on-write, or
// maps a page whose platform mapping lags behind its area's permissions. nil
// means the page is now mapped in the platform address space; otherwise the
// *FaultError says which signal the guest gets. access may be NoAccess when
// the platform cannot tell reads from writes (ptrace).
func (m *MM) HandleFault(addr uint64, access platform.AccessType) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := m.vmas.find(addr)
	if v == nil {
		return errMapErr()
	}
	eff := effPerms(v.perms)
	if eff == platform.NoAccess || access&^eff != 0 {
		return errAccErr()
	}
	page := pageRoundDown(addr)
	p := m.pages.get(page)
	if p == nil {
		var err error
		if p, err = m.populate(v, page, true); err != nil {
			return err
		}
		if access&platform.Write != 0 && p.cow && v.perms&platform.Write != 0 {
			return m.breakCOW(v, p, true)
		}
		if m.as != nil && p.mapped == platform.NoAccess {
			return errBus()
		}
		return nil
	}
	write := v.perms&platform.Write != 0
	if access&platform.Write != 0 && p.cow && write {
		return m.breakCOW(v, p, true)
	}
	if want := desired(v, p); p.mapped != want {
		m.remapWindow(v, page)
		if m.as != nil && p.mapped == platform.NoAccess {
			return errBus()
		}
		return nil
	}
	if access == platform.NoAccess && p.cow && write {
		// Mapped read-only for COW and faulting again: it was a write.
		return m.breakCOW(v, p, true)
	}
	e := errAccErr()
	e.Mapped = true
	return e
}

// breakCOW gives p a private copy of its page (Linux do_wp_page / wp_page_copy)
// and maps it with the area's permissions.
func (m *MM) breakCOW(v *vma, p *pte, mapIt bool) error {
	if m.pool.RefCount(p.off) > 1 {
		off, err := m.pool.Alloc(0)
		if err != nil {
			logrus.Warnf("mm: out of pool memory breaking COW at %#x", p.addr)
			return errBus()
		}
		copy(m.pool.Bytes(off, PageSize), m.pool.Bytes(p.off, PageSize))
		m.pool.DecRef(p.off)
		p.off = off
	}
	// Otherwise we hold the only reference: reuse the page (Linux wp_page_reuse).
	p.cow = false
	if p.mapped != platform.NoAccess || mapIt {
		// A stale mapping of the old page must go in any case.
		m.mapPages([]*pte{p}, func(*pte) platform.AccessType { return v.perms })
	}
	return nil
}

// remapWindow maps the populated pages of page's fault-around window whose
// platform mapping lags behind what they should have (after fork, exec,
// mprotect, or population by CopyIn/CopyOut), in as few calls as possible.
func (m *MM) remapWindow(v *vma, page uint64) {
	win := uint64(mapAroundPages * PageSize)
	ws := max(v.start, page&^(win-1))
	we := min(v.end, (page&^(win-1))+win)
	var ps []*pte
	for _, p := range m.pages.inRange(ws, we) {
		if p.mapped != desired(v, p) {
			ps = append(ps, p)
		}
	}
	m.mapPages(ps, func(p *pte) platform.AccessType { return desired(v, p) })
}

// populate fills the unpopulated run of pages around page inside an aligned
// fault-around window clipped to v, maps it if mapIt, and returns page's pte.
// Private runs are allocated as one buddy block so that one MapFile maps them
// all.
func (m *MM) populate(v *vma, page uint64, mapIt bool) (*pte, error) {
	win := v.faultWindow(page)
	ws := max(v.start, page&^(win-1))
	we := min(v.end, (page&^(win-1))+win)
	lo, hi := page, page+PageSize
	present := map[uint64]bool{}
	for _, p := range m.pages.inRange(ws, we) {
		present[p.addr] = true
	}
	for lo > ws && !present[lo-PageSize] {
		lo -= PageSize
	}
	for hi < we && !present[hi] {
		hi += PageSize
	}
	var ps []*pte
	var err error
	if v.shm != nil {
		ps, err = m.populateShared(v, lo, hi)
	} else if c := sharedCache(v); c != nil {
		ps, err = m.populateSharedFile(v, c, page, lo, hi)
	} else {
		ps, err = m.populatePrivate(v, page, lo, hi)
	}
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		m.pages.set(p)
	}
	if mapIt {
		ps = append(ps, m.cachedAround(v, page)...)
		ps = append(ps, m.lagging(v, page)...)
		ps = sortPTEs(ps)
		m.mapPages(ps, func(p *pte) platform.AccessType { return desired(v, p) })
	}
	if p := m.pages.get(page); p != nil {
		return p, nil
	}
	return nil, errBus()
}

func (m *MM) populateShared(v *vma, lo, hi uint64) ([]*pte, error) {
	var ps []*pte
	for a := lo; a < hi; a += PageSize {
		off, err := v.shm.page(v.offsetOf(a) / PageSize)
		if err != nil {
			if len(ps) > 0 {
				break // keep what we have if the faulting page is among it
			}
			return nil, errBus()
		}
		ps = append(ps, &pte{addr: a, off: off})
	}
	return ps, nil
}

// populatePrivate fills [lo, hi) for a private (or shared-file) area. With a
// FileCache, cached pages are shared copy-on-write and missing ones are read
// and added to the cache.
func (m *MM) populatePrivate(v *vma, page, lo, hi uint64) ([]*pte, error) {
	var cache *FileCache
	if cm, ok := v.file.(CachedMappable); ok {
		cache = cm.FileCache()
	}
	if cache == nil {
		return m.readRun(v, page, lo, hi)
	}
	var ps []*pte
	for a := lo; a < hi; {
		if off, ok := cache.lookup(v.offsetOf(a) / PageSize); ok {
			ps = append(ps, &pte{addr: a, off: off, cow: true})
			a += PageSize
			continue
		}
		e := a + PageSize
		for e < hi {
			if cache.has(v.offsetOf(e) / PageSize) {
				break
			}
			e += PageSize
		}
		need := uint64(0)
		if page >= a && page < e {
			need = page
		}
		run, err := m.readRun(v, need, a, e)
		if err != nil {
			for _, p := range ps {
				m.pool.DecRef(p.off)
			}
			return nil, err
		}
		for _, p := range run {
			cache.add(v.offsetOf(p.addr)/PageSize, p.off)
			p.cow = true
		}
		ps = append(ps, run...)
		if len(run) == 0 || run[len(run)-1].addr+PageSize < e {
			break // end of file (or out of memory) inside the run
		}
		a = e
	}
	return ps, nil
}

// readRun allocates [lo, hi) as one buddy block and fills it with zeroes or
// from the file. need (0: none) is the page the caller must get: if memory
// is short only it is allocated, and if it lies wholly beyond end of file the
// result is SIGBUS, as Linux's filemap_fault. Pages beyond end of file are
// not kept.
func (m *MM) readRun(v *vma, need, lo, hi uint64) ([]*pte, error) {
	n := (hi - lo) / PageSize
	block, err := m.pool.Alloc(orderFor(n))
	if err != nil {
		if need == 0 {
			return nil, nil
		}
		lo, hi, n = need, need+PageSize, 1
		if block, err = m.pool.Alloc(0); err != nil {
			logrus.Warnf("mm: out of pool memory populating %#x", need)
			return nil, errBus()
		}
	}
	total := uint64(1) << orderFor(n)
	keep := n
	if v.file != nil {
		buf := m.pool.Bytes(block, n*PageSize)
		k, rerr := v.file.ReadAt(buf, int64(v.offsetOf(lo)))
		k = max(0, min(k, len(buf)))
		clear(buf[k:])
		keep = (uint64(k) + PageSize - 1) / PageSize
		if need != 0 && keep <= (need-lo)/PageSize {
			if rerr != nil && !errors.Is(rerr, io.EOF) {
				logrus.Debugf("mm: reading mapped file at %#x: %v", v.offsetOf(need), rerr)
			}
			keep = 0
		}
	}
	for i := keep; i < total; i++ {
		m.pool.DecRef(block + i*PageSize)
	}
	if keep == 0 {
		if need != 0 {
			return nil, errBus()
		}
		return nil, nil
	}
	ps := make([]*pte, keep)
	for i := range ps {
		ps[i] = &pte{addr: lo + uint64(i)*PageSize, off: block + uint64(i)*PageSize}
	}
	return ps, nil
}

// mapAroundRange is the mapAroundPages window around page, clipped to v.
func mapAroundRange(v *vma, page uint64) (uint64, uint64) {
	win := uint64(mapAroundPages * PageSize)
	return max(v.start, page&^(win-1)), min(v.end, (page&^(win-1))+win)
}

// cachedAround populates, from the file's page cache only (no reads), the
// unpopulated pages of a private file area around page, and returns them.
func (m *MM) cachedAround(v *vma, page uint64) []*pte {
	cm, ok := v.file.(CachedMappable)
	if !ok || v.shm != nil || !v.private {
		return nil
	}
	cache := cm.FileCache()
	if cache == nil {
		return nil
	}
	ws, we := mapAroundRange(v, page)
	var out []*pte
	for a := ws; a < we; a += PageSize {
		if m.pages.get(a) != nil {
			continue
		}
		if off, ok := cache.lookup(v.offsetOf(a) / PageSize); ok {
			p := &pte{addr: a, off: off, cow: true}
			m.pages.set(p)
			out = append(out, p)
		}
	}
	return out
}

// lagging returns the populated pages around page whose platform mapping
// lags behind what they should have.
func (m *MM) lagging(v *vma, page uint64) []*pte {
	ws, we := mapAroundRange(v, page)
	var out []*pte
	for _, p := range m.pages.inRange(ws, we) {
		if p.mapped == platform.NoAccess && desired(v, p) != platform.NoAccess {
			out = append(out, p)
		}
	}
	return out
}

// sortPTEs orders ps by address, dropping duplicates.
func sortPTEs(ps []*pte) []*pte {
	sort.Slice(ps, func(i, j int) bool { return ps[i].addr < ps[j].addr })
	out := ps[:0]
	for i, p := range ps {
		if i > 0 && p == ps[i-1] {
			continue
		}
		out = append(out, p)
	}
	return out
}

// maxAnonWindowPages bounds the adaptive fault-around window of anonymous
// memory.
const maxAnonWindowPages = 512

// faultWindow is the fault-around window for a fault at page in v. Anonymous
// private memory touched sequentially (each fault just past the previous
// window) doubles its window up to maxAnonWindowPages: a page fault costs a
// platform round trip here, while zeroed pages come almost free. Other
// faults use faultAroundPages.
func (v *vma) faultWindow(page uint64) uint64 {
	def := uint64(faultAroundPages * PageSize)
	if v.file != nil || v.shm != nil || !v.private {
		return def
	}
	if v.faWin == 0 || page != v.faNext {
		v.faWin = def
	} else if v.faWin < maxAnonWindowPages*PageSize {
		v.faWin *= 2
	}
	v.faNext = (page &^ (v.faWin - 1)) + v.faWin
	return v.faWin
}
