package mm

import (
	"sync"
)

// FileCache is a page cache for one file (Linux's address_space of an
// inode): file pages read once and shared read-only by every private mapping
// of the file, copied on write. A file that wants it implements
// CachedMappable and keeps one FileCache per file identity; it must call
// Invalidate when the file's contents change and Release when the file goes.
// Writes to the file update cached pages in place (Update), so mappings that
// have not copied a page see them, as on Linux; Invalidate (truncation) drops
// pages, which mappings then keep as they were.
type FileCache struct {
	pool *Pool

	mu    sync.Mutex
	pages map[uint64]uint64 // page index -> pool offset (one pool ref each)
	// dirty holds the pages written through shared mappings and not yet
	// written back; writeback stores one (see pagecache_shared.go).
	dirty     map[uint64]bool
	writeback func(off uint64, data []byte)
}

// CachedMappable is a Mappable whose pages may be shared through a FileCache.
type CachedMappable interface {
	Mappable
	// FileCache returns the file's page cache (the same one every call).
	FileCache() *FileCache
}

// NewFileCache creates an empty page cache over pool.
func NewFileCache(pool *Pool) *FileCache {
	return &FileCache{pool: pool, pages: map[uint64]uint64{}}
}

// lookup returns the cached page at index idx with a reference for the caller.
func (c *FileCache) lookup(idx uint64) (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	off, ok := c.pages[idx]
	if ok {
		c.pool.IncRef(off)
	}
	return off, ok
}

// has reports whether page idx is cached.
func (c *FileCache) has(idx uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.pages[idx]
	return ok
}

// add caches off (to which the caller holds a reference) at idx; the cache
// takes its own reference. A page cached meanwhile by someone else wins.
func (c *FileCache) add(idx, off uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pages == nil {
		return // released
	}
	if _, ok := c.pages[idx]; ok {
		return
	}
	c.pool.IncRef(off)
	c.pages[idx] = off
}

// Invalidate drops the cached pages overlapping [off, off+length) (after a
// write or truncate; Linux truncate_inode_pages_range / invalidate_mapping_pages).
func (c *FileCache) Invalidate(off, length uint64) {
	lo := off / PageSize
	hi := (off + length + PageSize - 1) / PageSize
	if off+length < off {
		hi = ^uint64(0)
	}
	c.mu.Lock()
	var drop []uint64
	for idx, p := range c.pages {
		if idx >= lo && idx < hi {
			drop = append(drop, p)
			delete(c.pages, idx)
		}
	}
	c.mu.Unlock()
	for _, p := range drop {
		c.pool.DecRef(p)
	}
}

// Release drops every cached page; the cache stays usable but caches nothing.
func (c *FileCache) Release() {
	c.mu.Lock()
	pages := c.pages
	c.pages = nil
	c.mu.Unlock()
	for _, p := range pages {
		c.pool.DecRef(p)
	}
}

// Len is the number of cached pages.
func (c *FileCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pages)
}
