package vfs

import (
	"math/bits"
	"sync"

	"kvsentry/mm"

	"golang.org/x/sys/unix"
)

// memData is the content of a regular file kept in memory (tmpfs files,
// the overlay's created and copied-up files, O_TMPFILE files): its size and
// a sparse index from file page to pool page, as shmem keeps a tmpfs file's
// pages in its mapping (mm/shmem.c). Holes (never written, punched, or cut
// off by a shrink) own no page and read as zeros; bytes past size in a held
// page are always zero. Bytes move with pread(2)/pwrite(2) on the pool's
// memfd (mm.Pool.ReadAt/WriteAt), never through Go memory that grows with
// the file. Pages are taken in blocks whose order grows with the file, so
// consecutive file pages usually sit in consecutive pool pages and one
// system call moves a whole run.
//
// A memData is guarded by VFS.mu: readAt and the other read-only methods
// may run under the read lock, everything else needs the write lock.
type memData struct {
	pool *mm.Pool
	size int64
	// chunks maps a chunk number (file page >> chunkShift) to the slots of
	// its pages: pool offset + 1, or 0 for a hole. A chunk's slice is only
	// as long as its highest held page needs.
	chunks map[uint64][]uint64
	// held is the number of pages in the index (st_blocks / 8).
	held int64
	// resOff, resN: the unused rest of the last block taken from the pool,
	// handed out page by page to the next holes filled.
	resOff, resN uint64
	// released is set once the pages went back to the pool.
	released bool
}

const (
	// chunkShift: 2^chunkShift page slots per index chunk (2 MiB of file).
	chunkShift = 9
	chunkPages = 1 << chunkShift
	// maxGrowOrder bounds the blocks a growing file takes (2^8 pages = 1 MiB).
	maxGrowOrder = 8
	pageSize     = mm.PageSize
)

// newMemData makes empty content over pool (nil: every allocation fails).
func newMemData(pool *mm.Pool) *memData {
	return &memData{pool: pool, chunks: map[uint64][]uint64{}}
}

// Size is the content size; 0 for nil.
func (md *memData) Size() int64 {
	if md == nil {
		return 0
	}
	return md.size
}

// pagesHeld is the number of pool pages the content owns (its reserve not
// counted); 0 for nil.
func (md *memData) pagesHeld() int64 {
	if md == nil {
		return 0
	}
	return md.held
}

// slot returns page pg's slot (pool offset + 1, or 0).
func (md *memData) slot(pg uint64) uint64 {
	c := md.chunks[pg>>chunkShift]
	if i := pg & (chunkPages - 1); i < uint64(len(c)) {
		return c[i]
	}
	return 0
}

// nextPresent returns the first page in [pg, limit) that holds a pool
// page. It visits only index chunks that exist, so a sparse file of any
// size costs time in proportion to what it holds.
func (md *memData) nextPresent(pg, limit uint64) (uint64, bool) {
	for pg < limit {
		ci := pg >> chunkShift
		c, ok := md.chunks[ci]
		if !ok {
			// Jump to the next chunk that exists, if any is below limit.
			next, found := uint64(0), false
			for k := range md.chunks {
				if k > ci && (!found || k < next) {
					next, found = k, true
				}
			}
			if !found {
				return 0, false
			}
			pg = next << chunkShift
			continue
		}
		for i := pg & (chunkPages - 1); i < uint64(len(c)) && pg < limit; i, pg = i+1, pg+1 {
			if c[i] != 0 {
				return pg, true
			}
		}
		pg = (ci + 1) << chunkShift
	}
	return 0, false
}

// setSlot stores page pg's slot.
func (md *memData) setSlot(pg, s uint64) {
	ci, i := pg>>chunkShift, pg&(chunkPages-1)
	c := md.chunks[ci]
	if i >= uint64(len(c)) {
		if s == 0 {
			return
		}
		if i < uint64(cap(c)) {
			c = c[:i+1]
		} else {
			nc := make([]uint64, i+1, min(chunkPages, max(i+1, 2*uint64(cap(c)))))
			copy(nc, c)
			c = nc
		}
		md.chunks[ci] = c
	}
	c[i] = s
}

// newPage hands out a zeroed pool page for a hole; want is how many more
// pages the caller is about to fill. Blocks grow with the file (up to
// 2^maxGrowOrder pages) and with want, so sequential writes get runs of
// consecutive pages while small files take single pages.
func (md *memData) newPage(want uint64) (uint64, error) {
	if md.resN > 0 {
		off := md.resOff
		md.resOff += pageSize
		md.resN--
		return off, nil
	}
	if md.pool == nil {
		return 0, unix.ENOSPC
	}
	order := 0
	if md.held > 1 {
		order = bits.Len64(uint64(md.held)) - 1
	}
	if want > 1 {
		order = max(order, bits.Len64(want)-1)
	}
	order = min(order, maxGrowOrder)
	for ; order >= 0; order-- {
		off, err := md.pool.Alloc(order)
		if err == nil {
			md.resOff, md.resN = off+pageSize, 1<<order-1
			return off, nil
		}
	}
	return 0, unix.ENOSPC // a full tmpfs (shmem_alloc_and_add_folio)
}

// dropPage returns page pg (held) to the pool and makes it a hole.
func (md *memData) dropPage(pg, s uint64) {
	md.setSlot(pg, 0)
	md.held--
	md.pool.DecRef(s - 1)
}

// runs walks [off, off+n) of the file: fn gets each run of bytes held in
// consecutive pool pages (pos is relative to off), hole each stretch of a
// page without one. It stops at the first error fn returns.
func (md *memData) runs(off int64, n int, fn func(pos int, poolOff uint64, k int) error, hole func(pos, k int)) error {
	pos := 0
	for pos < n {
		fo := uint64(off) + uint64(pos)
		pg, in := fo/pageSize, int(fo%pageSize)
		k := min(pageSize-in, n-pos)
		s := md.slot(pg)
		if s == 0 {
			if hole != nil {
				hole(pos, k)
			}
			pos += k
			continue
		}
		end, last := pos+k, s-1
		for end < n {
			ns := md.slot(pg + 1)
			if ns == 0 || ns-1 != last+pageSize {
				break
			}
			pg, last = pg+1, ns-1
			end += min(pageSize, n-end)
		}
		if err := fn(pos, s-1+uint64(in), end-pos); err != nil {
			return err
		}
		pos = end
	}
	return nil
}

// readAt fills dst from off (pread(2) semantics: short at end of file).
func (md *memData) readAt(dst []byte, off int64) (int, error) {
	if md == nil || off >= md.size || off < 0 {
		return 0, nil
	}
	n := int(min(int64(len(dst)), md.size-off))
	err := md.runs(off, n, func(pos int, poolOff uint64, k int) error {
		return md.pool.ReadAt(dst[pos:pos+k], poolOff)
	}, func(pos, k int) { clear(dst[pos : pos+k]) })
	if err != nil {
		return 0, unix.EIO
	}
	return n, nil
}

// fill gives every hole of pages [first, last] a page; it returns the first
// page it could not fill (last+1 when all are held).
func (md *memData) fill(first, last uint64) (uint64, error) {
	for pg := first; pg <= last; pg++ {
		if md.slot(pg) != 0 {
			continue
		}
		p, err := md.newPage(last - pg + 1)
		if err != nil {
			return pg, err
		}
		md.setSlot(pg, p+1)
		md.held++
	}
	return last + 1, nil
}

// writeAt stores src at off, growing the file as needed. When the pool
// runs out it stores what it could and reports ENOSPC only if nothing was
// stored (a short write, as Linux's generic_perform_write).
func (md *memData) writeAt(src []byte, off int64) (int, error) {
	if len(src) == 0 {
		return 0, nil
	}
	end := off + int64(len(src))
	stop, ferr := md.fill(uint64(off)/pageSize, uint64(end-1)/pageSize)
	n := len(src)
	if ferr != nil {
		n = int(max(off, int64(stop)*pageSize) - off)
		if n == 0 {
			return 0, ferr
		}
	}
	err := md.runs(off, n, func(pos int, poolOff uint64, k int) error {
		return md.pool.WriteAt(src[pos:pos+k], poolOff)
	}, nil)
	if err != nil {
		return 0, unix.EIO
	}
	if off+int64(n) > md.size {
		md.size = off + int64(n)
	}
	return n, nil
}

// truncate sets the size (shmem_setattr): shrinking frees the pages past
// the new end, even those fallocate put there, and zeroes the rest of the
// last page; growing leaves a hole.
func (md *memData) truncate(size int64) {
	if size < md.size {
		keep := (uint64(size) + pageSize - 1) / pageSize
		md.freeFrom(keep)
		if size%pageSize != 0 {
			if s := md.slot(uint64(size) / pageSize); s != 0 {
				md.pool.ZeroAt(s-1+uint64(size%pageSize), pageSize-uint64(size%pageSize))
			}
		}
	}
	md.size = size
}

// freeFrom returns every held page from page keep on to the pool.
func (md *memData) freeFrom(keep uint64) {
	for ci, c := range md.chunks {
		base := ci << chunkShift
		if base+uint64(len(c)) <= keep {
			continue
		}
		from := uint64(0)
		if keep > base {
			from = keep - base
		}
		for i := from; i < uint64(len(c)); i++ {
			if c[i] != 0 {
				md.pool.DecRef(c[i] - 1)
				md.held--
			}
		}
		if from == 0 {
			delete(md.chunks, ci)
		} else {
			clear(c[from:])
			md.chunks[ci] = c[:from]
		}
	}
}

// zeroRange zeroes [off, end) within the file: whole pages go back to the
// pool (punched holes, shmem_fallocate's PUNCH_HOLE), partial ones are
// cleared in place.
func (md *memData) zeroRange(off, end int64) {
	if end <= off {
		return
	}
	first, limit := uint64(off)/pageSize, (uint64(end)+pageSize-1)/pageSize
	for pg := first; ; pg++ {
		var ok bool
		if pg, ok = md.nextPresent(pg, limit); !ok {
			return
		}
		lo, hi := max(int64(pg*pageSize), off), min(int64((pg+1)*pageSize), end)
		s := md.slot(pg)
		if hi-lo == pageSize {
			md.dropPage(pg, s)
		} else {
			md.pool.ZeroAt(s-1+uint64(lo)%pageSize, uint64(hi-lo))
		}
	}
}

// allocRange gives the pages of [off, end) pool pages (fallocate(2) mode 0
// and FALLOC_FL_KEEP_SIZE, shmem_fallocate); ENOSPC when the pool is full.
func (md *memData) allocRange(off, end int64) error {
	if end <= off {
		return nil
	}
	// On failure, give back what this call added (shmem_fallocate's
	// shmem_undo_range): a failed fallocate must not keep the pool.
	var added []uint64
	for pg := uint64(off) / pageSize; pg <= uint64(end-1)/pageSize; pg++ {
		if md.slot(pg) != 0 {
			continue
		}
		p, err := md.newPage(uint64(end-1)/pageSize - pg + 1)
		if err != nil {
			for _, a := range added {
				md.dropPage(a, md.slot(a))
			}
			md.trimReserve()
			return err
		}
		md.setSlot(pg, p+1)
		md.held++
		added = append(added, pg)
	}
	return nil
}

// trimReserve returns the unused rest of the last block to the pool (done
// when a writer closes the file, so a small file keeps only its pages).
func (md *memData) trimReserve() {
	for ; md.resN > 0; md.resN-- {
		md.pool.DecRef(md.resOff)
		md.resOff += pageSize
	}
}

// release returns every page to the pool; the content is empty afterwards.
// Safe to call more than once.
func (md *memData) release() {
	if md == nil || md.released {
		return
	}
	md.released = true
	md.trimReserve()
	md.freeFrom(0)
	md.size = 0
}

// ioBufs are the scratch buffers for streaming content to and from host
// files (copy-up, the --overlay DIR store): reused, so their pages are
// faulted in once.
var ioBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// copyToFD writes [off, off+n) of the content to the host file fd at the
// same offset (holes as zeros).
func (md *memData) copyToFD(fd int, off int64, n int64) error {
	if md == nil {
		return nil
	}
	n = min(n, md.size-off)
	end := off + n
	bp := ioBufs.Get().(*[]byte)
	defer ioBufs.Put(bp)
	buf := *bp
	for off < end {
		// A stretch without pages is a hole on the host too, so a huge
		// sparse range costs neither time nor disk.
		dataAt := end
		if pg, ok := md.nextPresent(uint64(off)/pageSize, (uint64(end)+pageSize-1)/pageSize); ok {
			dataAt = max(off, int64(pg*pageSize))
		}
		if dataAt > off {
			if err := hostPunch(fd, off, dataAt-off); err != nil {
				return err
			}
			off = dataAt
			continue
		}
		k := int(min(end-off, int64(len(buf))))
		got, err := md.readAt(buf[:k], off)
		if err != nil {
			return err
		}
		if got == 0 {
			return nil
		}
		if err := writeAllAt(fd, buf[:got], off); err != nil {
			return err
		}
		off += int64(got)
	}
	return nil
}

// hostPunch makes [off, off+n) of host file fd read as zeros: a hole punch
// (fallocate(2) FALLOC_FL_PUNCH_HOLE), else, where the file system has
// none, zeros written over it (whatever lies past the end of the file
// needs neither: the size is set separately).
func hostPunch(fd int, off, n int64) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	n = min(n, st.Size-off)
	if n <= 0 {
		return nil
	}
	err := unix.Fallocate(fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
	if err != unix.EOPNOTSUPP && err != unix.ENOSYS {
		return err
	}
	zero := make([]byte, min(n, 256<<10))
	for n > 0 {
		k := min(n, int64(len(zero)))
		if err := writeAllAt(fd, zero[:k], off); err != nil {
			return err
		}
		off, n = off+k, n-k
	}
	return nil
}

// loadFromFD appends the whole host file fd (read from offset 0) to empty
// content: copy-up and the loading of a persisted upper layer.
func (md *memData) loadFromFD(fd int) error {
	bp := ioBufs.Get().(*[]byte)
	defer ioBufs.Put(bp)
	buf := *bp
	var off int64
	for {
		n, err := hostPread(fd, buf, off)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if _, err := md.writeAt(buf[:n], off); err != nil {
			return err
		}
		off += int64(n)
	}
}

// seekHoleData is lseek(2)'s SEEK_DATA (hole false) or SEEK_HOLE (hole
// true) from off, at page granularity like shmem's
// mapping_seek_hole_data: ENXIO when no data follows off, the end of the
// file when no hole does.
func (md *memData) seekHoleData(off int64, hole bool) (int64, error) {
	size := md.Size()
	if off < 0 || off >= size {
		return 0, unix.ENXIO
	}
	if !hole {
		if pg, ok := md.nextPresent(uint64(off)/pageSize, (uint64(size)+pageSize-1)/pageSize); ok {
			return max(off, int64(pg*pageSize)), nil
		}
		return 0, unix.ENXIO
	}
	// The first page without a pool page: at most one past what is held.
	for pos := off; pos < size; pos = (pos/pageSize + 1) * pageSize {
		if md.slot(uint64(pos)/pageSize) == 0 {
			return pos, nil
		}
	}
	if hole {
		return size, nil
	}
	return 0, unix.ENXIO
}
