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

	mu   sync.Mutex
	b    *buddy
	refs []int32
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
	return &Pool{fd: fd, size: size, mem: mem, b: newBuddy(np), refs: make([]int32, np)}, nil
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
	if ok {
		for i := pg; i < pg+1<<order; i++ {
			p.refs[i] = 1
		}
	}
	p.mu.Unlock()
	if !ok {
		return 0, unix.ENOMEM
	}
	off := pg * PageSize
	clear(p.mem[off : off+PageSize<<order])
	return off, nil
}

// IncRef takes one more reference on the page at off (Linux get_page).
func (p *Pool) IncRef(off uint64) {
	pg := off / PageSize
	p.mu.Lock()
	defer p.mu.Unlock()
	if pg >= uint64(len(p.refs)) || p.refs[pg] <= 0 {
		logrus.Errorf("mm: IncRef of free or out-of-range pool page %#x", off)
		return
	}
	p.refs[pg]++
}

// DecRef drops one reference on the page at off (Linux put_page); the last
// one frees the page to the buddy allocator as an order-0 block.
func (p *Pool) DecRef(off uint64) {
	pg := off / PageSize
	p.mu.Lock()
	defer p.mu.Unlock()
	if pg >= uint64(len(p.refs)) || p.refs[pg] <= 0 {
		logrus.Errorf("mm: DecRef of free or out-of-range pool page %#x", off)
		return
	}
	p.refs[pg]--
	if p.refs[pg] > 0 {
		return
	}
	_, order, err := p.b.freeBlock(pg, 0)
	if err != nil {
		logrus.Errorf("mm: %v", err)
		return
	}
	if order >= punchOrder {
		// The 2 MiB block holding pg just became wholly free: give its memory
		// back to the host (fallocate(2) FALLOC_FL_PUNCH_HOLE). Done under mu so
		// that no one can allocate the range meanwhile.
		start := (pg &^ (1<<punchOrder - 1)) * PageSize
		if err := unix.Fallocate(p.fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, int64(start), PageSize<<punchOrder); err != nil {
			logrus.Debugf("mm: punch hole %#x: %v", start, err)
		}
	}
}

// RefCount is the page's current reference count (0 when free).
func (p *Pool) RefCount(off uint64) int {
	pg := off / PageSize
	p.mu.Lock()
	defer p.mu.Unlock()
	if pg >= uint64(len(p.refs)) {
		return 0
	}
	return int(p.refs[pg])
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
