package mm

import (
	"golang.org/x/sys/unix"

	"kvsentry/platform"
)

// Shared file mappings (MAP_SHARED of a regular file) map the page cache's
// pages themselves, writable, so that stores through the mapping, read(2) and
// write(2) all see one copy (Linux: one address_space per inode). Pages
// written through a mapping are marked dirty; Sync hands them to the file's
// writeback function (msync, munmap, exit, fsync), and the file's read path
// overlays dirty pages until then.

// SetWriteback installs the function that stores a dirty page back into the
// file: off is the file offset, data the page content.
func (c *FileCache) SetWriteback(fn func(off uint64, data []byte)) {
	c.mu.Lock()
	c.writeback = fn
	c.mu.Unlock()
}

// markDirty records that page idx may have been written through a shared
// mapping.
func (c *FileCache) markDirty(idx uint64) {
	c.mu.Lock()
	if c.dirty == nil {
		c.dirty = map[uint64]bool{}
	}
	c.dirty[idx] = true
	c.mu.Unlock()
}

// Sync writes every dirty page back to the file (writeback, vfs_fsync).
func (c *FileCache) Sync() {
	c.mu.Lock()
	fn := c.writeback
	type page struct{ idx, off uint64 }
	var todo []page
	for idx := range c.dirty {
		if off, ok := c.pages[idx]; ok {
			c.pool.IncRef(off)
			todo = append(todo, page{idx, off})
		}
	}
	c.dirty = nil
	c.mu.Unlock()
	for _, p := range todo {
		if fn != nil {
			fn(p.idx*PageSize, c.pool.Bytes(p.off, PageSize))
		}
		c.pool.DecRef(p.off)
	}
}

// Update copies data written to the file at off into the cached pages it
// covers, so mappings of the file see write(2) (pages not cached are left
// alone: they will be read afresh).
func (c *FileCache) Update(off uint64, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for done := 0; done < len(data); {
		a := off + uint64(done)
		idx := a / PageSize
		n := min(len(data)-done, int(PageSize-a%PageSize))
		if p, ok := c.pages[idx]; ok {
			copy(c.pool.Bytes(p+a%PageSize, uint64(n)), data[done:done+n])
		}
		done += n
	}
}

// ZeroRange zeroes the bytes of [off, off+length) in the cached pages it
// covers (a hole punched in the file, seen by its mappings), visiting only
// the pages cached, whatever the length.
func (c *FileCache) ZeroRange(off, length uint64) {
	end := off + length
	if end < off {
		end = ^uint64(0)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for idx, p := range c.pages {
		lo, hi := max(idx*PageSize, off), min((idx+1)*PageSize, end)
		if lo < hi {
			clear(c.pool.Bytes(p+lo%PageSize, hi-lo))
		}
	}
}

// OverlayDirty replaces the parts of dst (file content read at off) that
// lie in dirty cached pages with the pages' bytes: stores through a shared
// mapping not yet written back.
func (c *FileCache) OverlayDirty(dst []byte, off uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.dirty) == 0 {
		return
	}
	for done := 0; done < len(dst); {
		a := off + uint64(done)
		idx := a / PageSize
		n := min(len(dst)-done, int(PageSize-a%PageSize))
		if p, ok := c.pages[idx]; ok && c.dirty[idx] {
			copy(dst[done:done+n], c.pool.Bytes(p+a%PageSize, uint64(n)))
		}
		done += n
	}
}

// sharedFilePage returns the canonical cache page for idx of a shared file
// mapping, reading it with read when absent; the pte holds one reference.
func (m *MM) sharedFilePage(v *vma, cache *FileCache, a uint64) (*pte, error) {
	idx := v.offsetOf(a) / PageSize
	if off, ok := cache.lookup(idx); ok {
		return &pte{addr: a, off: off}, nil
	}
	run, err := m.readRun(v, a, a, a+PageSize)
	if err != nil {
		return nil, err
	}
	if len(run) == 0 {
		return nil, errBus()
	}
	cache.add(idx, run[0].off)
	m.pool.DecRef(run[0].off)
	if off, ok := cache.lookup(idx); ok {
		return &pte{addr: a, off: off}, nil
	}
	return nil, errBus()
}

// populateSharedFile fills [lo, hi) of a MAP_SHARED file area from the
// file's page cache (pages are not copy-on-write).
func (m *MM) populateSharedFile(v *vma, cache *FileCache, page, lo, hi uint64) ([]*pte, error) {
	var ps []*pte
	for a := lo; a < hi; a += PageSize {
		p, err := m.sharedFilePage(v, cache, a)
		if err != nil {
			if a <= page {
				for _, q := range ps {
					m.pool.DecRef(q.off)
				}
				return nil, err
			}
			break // past end of file after the faulting page
		}
		if v.perms&platform.Write != 0 || v.maxPerms == 0 || v.maxPerms&platform.Write != 0 {
			cache.markDirty(v.offsetOf(a) / PageSize)
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// sharedCache returns the page cache behind a MAP_SHARED file area, or nil.
func sharedCache(v *vma) *FileCache {
	if v.private || v.file == nil || v.shm != nil {
		return nil
	}
	if cm, ok := v.file.(CachedMappable); ok {
		return cm.FileCache()
	}
	return nil
}

// syncShared writes back the dirty pages of the shared file areas in
// [s, e) (msync; munmap and exit do it for the whole area).
func (m *MM) syncShared(s, e uint64) {
	for _, v := range m.vmas.inRange(s, e) {
		if c := sharedCache(v); c != nil {
			c.Sync()
		}
	}
}

// Msync writes back shared file mappings in [addr, addr+length) (msync(2));
// ENOMEM if part of the range is unmapped.
func (m *MM) Msync(addr, length uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	end, ok := pageRoundUp(addr + length)
	if !ok || addr+length < addr {
		return unix.ENOMEM
	}
	for a := addr; a < end; {
		v := m.vmas.find(a)
		if v == nil {
			return unix.ENOMEM
		}
		a = v.end
	}
	m.syncShared(addr, end)
	return nil
}
