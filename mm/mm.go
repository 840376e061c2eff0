package mm

import (
	"sync"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"kvsentry/platform"
)

// Mappable is a file that can be mapped privately; vfs files implement it.
type Mappable interface {
	// ReadAt reads like io.ReaderAt; a short read marks end of file (the rest
	// of the page stays zero).
	ReadAt(p []byte, off int64) (int, error)
}

// MM is one process address space (Linux struct mm_struct): its areas, its
// populated pages, the program break and the platform address space that
// mirrors it. All methods are safe for concurrent use.
type MM struct {
	pool        *Pool
	maxAddr     uint64
	commitLimit uint64

	mu       sync.Mutex
	as       platform.AddressSpace
	vmas     *vmaTree
	pages    *pageTable
	brkStart uint64
	brk      uint64
	mmapBase uint64
}

// New creates an empty address space whose mappings live in
// [0x10000, maxAddr) (maxAddr = platform.MaxUserAddress()).
func New(pool *Pool, maxAddr uint64) *MM {
	maxAddr = pageRoundDown(maxAddr)
	return &MM{
		pool:        pool,
		maxAddr:     maxAddr,
		commitLimit: commitLimit(pool),
		vmas:        newVMATree(),
		pages:       newPageTable(),
		mmapBase:    maxAddr,
	}
}

// commitLimit mirrors the OVERCOMMIT_GUESS test of __vm_enough_memory: one
// mapping may not exceed total RAM + swap. The sandbox's RAM is the pool,
// bounded by the host's RAM + swap.
func commitLimit(pool *Pool) uint64 {
	lim := pool.Size()
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		if ram := (uint64(si.Totalram) + uint64(si.Totalswap)) * uint64(si.Unit); ram > 0 {
			lim = min(lim, ram)
		}
	}
	return lim
}

// SetAddressSpace makes as the platform address space mirroring this MM (nil:
// none). Knowledge of mappings in the previous one is dropped; pages are
// mapped into as again as the guest faults on them.
func (m *MM) SetAddressSpace(as platform.AddressSpace) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.as = as
	m.pages.t.Ascend(func(p *pte) bool {
		p.mapped = platform.NoAccess
		return true
	})
}

// AddressSpace is the platform address space set by SetAddressSpace.
func (m *MM) AddressSpace() platform.AddressSpace {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.as
}

// SetMmapBase sets where top-down searches for free space start (exec sets it
// below the stack, as Linux's mmap_base).
func (m *MM) SetMmapBase(base uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mmapBase = min(pageRoundDown(base), m.maxAddr)
}

// MaxAddr is the end (exclusive) of the range mappings may use.
func (m *MM) MaxAddr() uint64 { return m.maxAddr }

// Pool is the page pool backing this MM.
func (m *MM) Pool() *Pool { return m.pool }

// mapRange asks the platform to map [addr, addr+length) to pool offset off;
// it reports success (false when there is no platform address space).
func (m *MM) mapRange(addr, length, off uint64, perms platform.AccessType) bool {
	if m.as == nil || perms == platform.NoAccess {
		return false
	}
	if err := m.as.MapFile(addr, length, off, perms); err != nil {
		logrus.Warnf("mm: MapFile(%#x, %#x, %#x, %v): %v", addr, length, off, perms, err)
		return false
	}
	return true
}

// mapPages maps ps (sorted by address) with perms in as few platform calls
// as possible — one batch when the address space takes batches — recording
// the permissions in each pte.
func (m *MM) mapPages(ps []*pte, perms func(*pte) platform.AccessType) {
	type run struct {
		i, j  int
		perms platform.AccessType
	}
	var runs []run
	for i := 0; i < len(ps); {
		j := i + 1
		pi := perms(ps[i])
		for j < len(ps) && ps[j].addr == ps[j-1].addr+PageSize &&
			ps[j].off == ps[j-1].off+PageSize && perms(ps[j]) == pi {
			j++
		}
		runs = append(runs, run{i, j, pi})
		i = j
	}
	batched := false
	if bm, ok := m.as.(platform.BatchMapper); ok && len(runs) > 1 {
		ms := make([]platform.Mapping, 0, len(runs))
		for _, r := range runs {
			if r.perms != platform.NoAccess {
				ms = append(ms, platform.Mapping{Addr: ps[r.i].addr, Length: uint64(r.j-r.i) * PageSize, PoolOffset: ps[r.i].off, Perms: r.perms})
			}
		}
		if err := bm.MapFiles(ms); err == nil {
			batched = true
		} else {
			logrus.Warnf("mm: MapFiles of %d ranges: %v", len(ms), err)
		}
	}
	for _, r := range runs {
		ok := batched && r.perms != platform.NoAccess
		if !batched {
			ok = m.mapRange(ps[r.i].addr, uint64(r.j-r.i)*PageSize, ps[r.i].off, r.perms)
		}
		was := false
		for _, p := range ps[r.i:r.j] {
			was = was || p.mapped != platform.NoAccess
			if ok {
				p.mapped = r.perms
			} else {
				p.mapped = platform.NoAccess
			}
		}
		if !ok && was {
			// Never leave a stale (e.g. still writable) mapping behind.
			m.unmapPlatform(ps[r.i].addr, ps[r.j-1].addr+PageSize)
		}
	}
}

// unmapPlatform removes [s, e) from the platform address space.
func (m *MM) unmapPlatform(s, e uint64) {
	if m.as == nil || s >= e {
		return
	}
	if err := m.as.Unmap(s, e-s); err != nil {
		logrus.Warnf("mm: Unmap(%#x, %#x): %v", s, e-s, err)
	}
}

// dropPages forgets the pages in [s, e), dropping their pool references and
// their platform mappings (Linux zap_page_range).
func (m *MM) dropPages(s, e uint64) {
	mapped := false
	for _, p := range m.pages.inRange(s, e) {
		mapped = mapped || p.mapped != platform.NoAccess
		m.pages.del(p)
		m.pool.DecRef(p.off)
	}
	if mapped {
		m.unmapPlatform(s, e)
	}
}

// unmapLocked removes every area and page in [s, e) (Linux do_vmi_munmap).
func (m *MM) unmapLocked(s, e uint64) {
	m.syncShared(s, e)
	for _, v := range m.vmas.removeRange(s, e) {
		if v.shm != nil {
			v.shm.decRef()
		}
	}
	m.dropPages(s, e)
}

// Fork duplicates the address space as Linux's dup_mmap: private pages become
// copy-on-write in both (the parent's writable platform mappings are
// downgraded to read-only), MAP_SHARED anonymous memory stays shared. Shared
// file mappings are re-read from the file by the child (kvsentry has no shared
// file page cache yet). The child has no platform address space.
func (m *MM) Fork() (*MM, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := &MM{
		pool:        m.pool,
		maxAddr:     m.maxAddr,
		commitLimit: m.commitLimit,
		vmas:        newVMATree(),
		pages:       newPageTable(),
		brkStart:    m.brkStart,
		brk:         m.brk,
		mmapBase:    m.mmapBase,
	}
	copied := m.eagerForkCopy(c)
	var downgrade []*pte
	var dvma []*vma
	m.vmas.each(func(v *vma) bool {
		if v.dontFork {
			return true
		}
		nv := *v
		if nv.shm != nil {
			nv.shm.incRef()
		}
		c.vmas.t.ReplaceOrInsert(&nv)
		if !v.private || v.wipeOnFork {
			return true
		}
		for _, p := range m.pages.inRange(v.start, v.end) {
			if copied[p] {
				continue
			}
			m.pool.IncRef(p.off)
			c.pages.set(&pte{addr: p.addr, off: p.off, cow: true})
			p.cow = true
			if p.mapped&platform.Write != 0 {
				downgrade = append(downgrade, p)
				dvma = append(dvma, v)
			}
		}
		return true
	})
	idx := map[*pte]*vma{}
	for i, p := range downgrade {
		idx[p] = dvma[i]
	}
	m.mapPages(downgrade, func(p *pte) platform.AccessType { return desired(idx[p], p) })
	return c, nil
}

// eagerForkPages bounds the private writable pages Fork copies at once
// instead of sharing them copy-on-write (a variable so tests can exercise
// both paths).
var eagerForkPages = 512

// eagerForkCopy gives the child c its own copy of the parent's private,
// writable, unshared pages when there are few of them (a shell's): copying
// a few hundred KiB costs less than the copy-on-write faults both sides
// would take, each a platform round trip, and the parent's mappings stay
// writable. It returns the pages it copied. m.mu must be held.
func (m *MM) eagerForkCopy(c *MM) map[*pte]bool {
	var cands []*pte
	m.vmas.each(func(v *vma) bool {
		if v.dontFork || !v.private || v.wipeOnFork || v.perms&platform.Write == 0 {
			return true
		}
		for _, p := range m.pages.inRange(v.start, v.end) {
			if !p.cow {
				cands = append(cands, p)
			}
		}
		return len(cands) <= eagerForkPages
	})
	if len(cands) == 0 || len(cands) > eagerForkPages {
		return nil
	}
	order := orderFor(uint64(len(cands)))
	block, err := m.pool.Alloc(order)
	if err != nil {
		return nil
	}
	copied := make(map[*pte]bool, len(cands))
	for i, p := range cands {
		off := block + uint64(i)*PageSize
		copy(m.pool.Bytes(off, PageSize), m.pool.Bytes(p.off, PageSize))
		c.pages.set(&pte{addr: p.addr, off: off})
		copied[p] = true
	}
	for i := uint64(len(cands)); i < 1<<order; i++ {
		m.pool.DecRef(block + i*PageSize)
	}
	return copied
}

// Release drops every page and area and releases the platform address space.
func (m *MM) Release() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.syncShared(0, m.maxAddr)
	m.pages.t.Ascend(func(p *pte) bool {
		m.pool.DecRef(p.off)
		return true
	})
	m.pages = newPageTable()
	m.vmas.each(func(v *vma) bool {
		if v.shm != nil {
			v.shm.decRef()
		}
		return true
	})
	m.vmas = newVMATree()
	if m.as != nil {
		m.as.Release()
		m.as = nil
	}
}

// RSS is the number of bytes of populated pages.
func (m *MM) RSS() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return uint64(m.pages.len()) * PageSize
}

// VirtualSize is the total size of all areas in bytes.
func (m *MM) VirtualSize() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n uint64
	m.vmas.each(func(v *vma) bool {
		n += v.end - v.start
		return true
	})
	return n
}
