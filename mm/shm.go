package mm

import (
	"sync"
	"sync/atomic"
)

var shmIno atomic.Uint64

// sharedAnon is the object behind MAP_SHARED|MAP_ANONYMOUS (Linux's shmem
// file from shmem_zero_setup): pool pages indexed by page offset, shared by
// every area that maps it, across fork. Pages live until the last area goes.
type sharedAnon struct {
	pool *Pool
	ino  uint64

	mu    sync.Mutex
	refs  int               // areas referencing the object
	pages map[uint64]uint64 // page index -> pool offset (one pool ref each)
}

func newSharedAnon(pool *Pool) *sharedAnon {
	return &sharedAnon{pool: pool, ino: shmIno.Add(1), refs: 1, pages: map[uint64]uint64{}}
}

func (s *sharedAnon) incRef() {
	s.mu.Lock()
	s.refs++
	s.mu.Unlock()
}

// decRef drops an area's reference; the last one frees every page.
func (s *sharedAnon) decRef() {
	s.mu.Lock()
	s.refs--
	if s.refs > 0 {
		s.mu.Unlock()
		return
	}
	pages := s.pages
	s.pages = nil
	s.mu.Unlock()
	for _, off := range pages {
		s.pool.DecRef(off)
	}
}

// page returns the pool page at index idx, allocating a zeroed one if needed,
// with an extra reference for the caller.
func (s *sharedAnon) page(idx uint64) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if off, ok := s.pages[idx]; ok {
		s.pool.IncRef(off)
		return off, nil
	}
	off, err := s.pool.Alloc(0)
	if err != nil {
		return 0, err
	}
	s.pages[idx] = off
	s.pool.IncRef(off)
	return off, nil
}

// remove frees the pages of indices [lo, hi) (MADV_REMOVE, shmem punch hole).
func (s *sharedAnon) remove(lo, hi uint64) {
	s.mu.Lock()
	var drop []uint64
	for idx, off := range s.pages {
		if idx >= lo && idx < hi {
			drop = append(drop, off)
			delete(s.pages, idx)
		}
	}
	s.mu.Unlock()
	for _, off := range drop {
		s.pool.DecRef(off)
	}
}
