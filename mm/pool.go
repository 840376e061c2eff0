package mm

import (
	"sync"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// Pool is kvsentry's "physical memory": a memfd mapped once, shared, into the
// sentry, carved into pages by a buddy allocator, with a reference count per
// page. Platforms map ranges of FD() into guests. Pool is safe for concurrent
// use.
type Pool struct {
	fd   int
	size uint64
	mem  []byte

	mu sync.Mutex
	b  *buddy
	// refChunks holds the per-page reference counts in chunks made on
	// first use, so an untouched part of a large pool costs no memory.
	refChunks [][]int32
	// dirty has a bit per page that may hold non-zero bytes: pages never
	// handed out, or given back to the host by a hole punch, read as zero
	// and need no clearing on allocation.
	dirty []uint64
	// retained lists, oldest first, the first pages of wholly free 2 MiB
	// blocks whose memory is still the host's (not yet punched), and
	// retainedSet holds the same pages. Up to retainMax of them are kept,
	// so memory freed and soon allocated again (a process's munmap then
	// mmap, exit then fork) is not given back to the host and faulted in
	// afresh: on a shadow-paging host that round trip costs more than
	// clearing the pages again.
	retained    []uint64
	retainedSet map[uint64]struct{}
	retainMax   int
}

// defaultRetainBlocks is how many wholly free 2 MiB blocks a pool keeps
// before giving memory back to the host (128 MiB).
const defaultRetainBlocks = 64

// refChunkPages is how many pages' reference counts one chunk holds.
const refChunkPages = 4096

// ref returns the reference count of page pg, making its chunk if needed
// (mu held).
func (p *Pool) ref(pg uint64) *int32 {
	c := pg / refChunkPages
	if p.refChunks[c] == nil {
		p.refChunks[c] = make([]int32, refChunkPages)
	}
	return &p.refChunks[c][pg%refChunkPages]
}

// refCount reads page pg's count without making its chunk (mu held).
func (p *Pool) refCount(pg uint64) int32 {
	if pg >= p.size/PageSize {
		return 0
	}
	c := p.refChunks[pg/refChunkPages]
	if c == nil {
		return 0
	}
	return c[pg%refChunkPages]
}

// NewPool creates a pool of size bytes (rounded up to pages): memfd_create(2)
// with MFD_CLOEXEC, ftruncate(2) (the file stays sparse) and one mmap(2) of the
// whole file, MAP_SHARED, into the sentry.
func NewPool(size uint64) (*Pool, error) {
	size, ok := pageRoundUp(size)
	if !ok || size == 0 {
		return nil, unix.EINVAL
	}
	fd, err := unix.MemfdCreate("kvsentry-pool", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		unix.Close(fd)
		return nil, err
	}
	mem, err := unix.Mmap(fd, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_NORESERVE)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	np := size / PageSize
	return &Pool{fd: fd, size: size, mem: mem, b: newBuddy(np),
		refChunks:   make([][]int32, (np+refChunkPages-1)/refChunkPages),
		dirty:       make([]uint64, (np+63)/64),
		retainedSet: map[uint64]struct{}{}, retainMax: defaultRetainBlocks}, nil
}

// Close unmaps and closes the pool; no page of it may be used afterwards.
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mem == nil {
		return unix.EBADF
	}
	err := unix.Munmap(p.mem)
	p.mem = nil
	if cerr := unix.Close(p.fd); err == nil {
		err = cerr
	}
	return err
}

// FD is the pool's memfd; pool offsets are offsets in this file.
func (p *Pool) FD() int { return p.fd }

// Size is the pool size in bytes.
func (p *Pool) Size() uint64 { return p.size }

// Alloc returns the offset of 2^order contiguous zeroed pages, each with
// reference count 1, or ENOMEM (Linux alloc_pages with __GFP_ZERO).
func (p *Pool) Alloc(order int) (uint64, error) {
	if order < 0 || order > maxOrder {
		return 0, unix.EINVAL
	}
	p.mu.Lock()
	pg, ok := p.b.alloc(order)
	var toClear []uint64
	if ok {
		for i := pg; i < pg+1<<order; i++ {
			*p.ref(i) = 1
			if p.dirty[i/64]&(1<<(i%64)) != 0 {
				toClear = append(toClear, i)
			} else {
				p.dirty[i/64] |= 1 << (i % 64)
			}
		}
	}
	p.mu.Unlock()
	if !ok {
		return 0, unix.ENOMEM
	}
	// Clear through the host kernel (pwritev of zeros), in runs of
	// consecutive pages: clearing through the sentry's own mapping would
	// fault in a sentry page-table entry for each page the guest alone used.
	for i := 0; i < len(toClear); {
		j := i + 1
		for j < len(toClear) && toClear[j] == toClear[j-1]+1 {
			j++
		}
		if err := p.ZeroAt(toClear[i]*PageSize, uint64(j-i)*PageSize); err != nil {
			logrus.Warnf("mm: clearing pool pages at %#x: %v; clearing in place", toClear[i]*PageSize, err)
			clear(p.mem[toClear[i]*PageSize : toClear[j-1]*PageSize+PageSize])
		}
		i = j
	}
	return pg * PageSize, nil
}

// IncRef takes one more reference on the page at off (Linux get_page).
func (p *Pool) IncRef(off uint64) {
	pg := off / PageSize
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.refCount(pg) <= 0 {
		logrus.Errorf("mm: IncRef of free or out-of-range pool page %#x", off)
		return
	}
	*p.ref(pg)++
}

// DecRef drops one reference on the page at off (Linux put_page); the last
// one frees the page to the buddy allocator as an order-0 block.
func (p *Pool) DecRef(off uint64) {
	pg := off / PageSize
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.refCount(pg) <= 0 {
		logrus.Errorf("mm: DecRef of free or out-of-range pool page %#x", off)
		return
	}
	r := p.ref(pg)
	*r--
	if *r > 0 {
		return
	}
	_, order, err := p.b.freeBlock(pg, 0)
	if err != nil {
		logrus.Errorf("mm: %v", err)
		return
	}
	if order >= punchOrder {
		p.retainLocked(pg &^ (1<<punchOrder - 1))
	}
}

// retainLocked records that the 2 MiB block starting at page first became
// wholly free, and gives the oldest retained blocks that are still wholly
// free back to the host (fallocate(2) FALLOC_FL_PUNCH_HOLE) while more than
// retainMax are kept. Done under mu, so that no one allocates a block while
// it is punched.
func (p *Pool) retainLocked(first uint64) {
	if _, ok := p.retainedSet[first]; !ok {
		p.retainedSet[first] = struct{}{}
		p.retained = append(p.retained, first)
	}
	for len(p.retained) > p.retainMax {
		blk := p.retained[0]
		p.retained = p.retained[1:]
		delete(p.retainedSet, blk)
		if !p.b.rangeBits(blk, 1<<punchOrder, false) {
			continue // allocated again since: nothing to give back
		}
		start := blk * PageSize
		if err := unix.Fallocate(p.fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, int64(start), PageSize<<punchOrder); err != nil {
			logrus.Debugf("mm: punch hole %#x: %v", start, err)
			continue
		}
		// The punched pages read as zero again.
		for w := blk / 64; w < (blk+1<<punchOrder)/64; w++ {
			p.dirty[w] = 0
		}
	}
	if len(p.retained) == 0 {
		p.retained = nil // let the backing array go
	}
}

// RefCount is the page's current reference count (0 when free).
func (p *Pool) RefCount(off uint64) int {
	pg := off / PageSize
	p.mu.Lock()
	defer p.mu.Unlock()
	return int(p.refCount(pg))
}

// Bytes is the sentry's view of [off, off+length) of the pool.
func (p *Pool) Bytes(off, length uint64) []byte {
	return p.mem[off : off+length : off+length]
}

// FreePages is the number of free pages.
func (p *Pool) FreePages() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.b.free
}
