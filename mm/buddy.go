package mm

import (
	"fmt"
	"math/bits"
)

// maxOrder is the largest block order the buddy allocator manages (2^maxOrder
// pages = 4 GiB), like Linux's MAX_PAGE_ORDER but larger since the pool is
// virtual.
const maxOrder = 20

// punchOrder is the block order from which freed memory is returned to the host.
const punchOrder = 9

const none = -1

// buddy is a binary buddy allocator over page indices [0, npages), after Linux's
// mm/page_alloc.c (__rmqueue_smallest, __free_one_page). It keeps one free list
// per order and an allocation bitmap with one bit per page (1 = allocated).
// A freed block merges with its buddy only when the buddy is the head of a free
// block of the same order in the free lists AND every bitmap bit of the buddy
// is clear. It is not safe for concurrent use (Pool serialises it).
type buddy struct {
	npages uint64
	bitmap []uint64
	// head[o] is the first free block of order o, or none.
	head [maxOrder + 1]int64
	// links holds the free blocks, keyed by their first page: their order
	// and the neighbours in that order's free list. Its size follows the
	// number of free blocks, not the pool's (a mostly free pool is a few
	// large blocks), so a big pool costs the sentry little memory.
	links map[uint64]freeLink
	free  uint64
}

// freeLink is one free block's list membership.
type freeLink struct {
	next, prev int64
	order      int8
}

func newBuddy(npages uint64) *buddy {
	b := &buddy{
		npages: npages,
		bitmap: make([]uint64, (npages+63)/64),
		links:  map[uint64]freeLink{},
	}
	for i := range b.head {
		b.head[i] = none
	}
	// Carve [0, npages) into maximal aligned blocks.
	for p := uint64(0); p < npages; {
		o := maxOrder
		for o > 0 && (p&(1<<o-1) != 0 || p+1<<o > npages) {
			o--
		}
		b.push(p, o)
		b.free += 1 << o
		p += 1 << o
	}
	return b
}

func (b *buddy) push(p uint64, o int) {
	b.links[p] = freeLink{next: b.head[o], prev: none, order: int8(o)}
	if h := b.head[o]; h != none {
		l := b.links[uint64(h)]
		l.prev = int64(p)
		b.links[uint64(h)] = l
	}
	b.head[o] = int64(p)
}

func (b *buddy) unlink(p uint64) {
	l := b.links[p]
	if l.prev != none {
		pl := b.links[uint64(l.prev)]
		pl.next = l.next
		b.links[uint64(l.prev)] = pl
	} else {
		b.head[l.order] = l.next
	}
	if l.next != none {
		nl := b.links[uint64(l.next)]
		nl.prev = l.prev
		b.links[uint64(l.next)] = nl
	}
	delete(b.links, p)
}

// freeOrder is the order of the free block starting at page p, or -1.
func (b *buddy) freeOrder(p uint64) int {
	if l, ok := b.links[p]; ok {
		return int(l.order)
	}
	return none
}

// rangeBits reports whether every bit of [p, p+n) equals set.
func (b *buddy) rangeBits(p, n uint64, set bool) bool {
	for n > 0 {
		w, off := p/64, p%64
		k := min(64-off, n)
		mask := ^uint64(0)
		if k < 64 {
			mask = (uint64(1)<<k - 1) << off
		}
		v := b.bitmap[w] & mask
		if set && v != mask || !set && v != 0 {
			return false
		}
		p += k
		n -= k
	}
	return true
}

func (b *buddy) setBits(p, n uint64, set bool) {
	for n > 0 {
		w, off := p/64, p%64
		k := min(64-off, n)
		mask := ^uint64(0)
		if k < 64 {
			mask = (uint64(1)<<k - 1) << off
		}
		if set {
			b.bitmap[w] |= mask
		} else {
			b.bitmap[w] &^= mask
		}
		p += k
		n -= k
	}
}

// alloc takes a free block of 2^order pages (Linux __rmqueue_smallest).
func (b *buddy) alloc(order int) (uint64, bool) {
	if order < 0 || order > maxOrder {
		return 0, false
	}
	o := order
	for o <= maxOrder && b.head[o] == none {
		o++
	}
	if o > maxOrder {
		return 0, false
	}
	p := uint64(b.head[o])
	b.unlink(p)
	for o > order {
		o--
		b.push(p+1<<o, o)
	}
	n := uint64(1) << order
	if !b.rangeBits(p, n, false) {
		// A free-list block with allocated bits: the lists are corrupt. Never
		// hand it out; leave it allocated (leaked) rather than double-allocate.
		b.setBits(p, n, true)
		b.free -= n
		return 0, false
	}
	b.setBits(p, n, true)
	b.free -= n
	return p, true
}

// freeBlock returns the block [p, p+2^order) (Linux __free_one_page). It
// returns the resulting (possibly merged) block, or an error for a misaligned,
// out-of-range or not wholly allocated block (double free), leaving the
// allocator unchanged.
func (b *buddy) freeBlock(p uint64, order int) (start uint64, merged int, err error) {
	if order < 0 || order > maxOrder {
		return 0, 0, fmt.Errorf("buddy: bad order %d", order)
	}
	n := uint64(1) << order
	if p&(n-1) != 0 || p >= b.npages || p+n > b.npages {
		return 0, 0, fmt.Errorf("buddy: bad block %d order %d", p, order)
	}
	if !b.rangeBits(p, n, true) {
		return 0, 0, fmt.Errorf("buddy: double free of page %d order %d", p, order)
	}
	b.setBits(p, n, false)
	b.free += n
	for order < maxOrder {
		bp := p ^ (1 << order)
		if bp+1<<order > b.npages {
			break
		}
		if b.freeOrder(bp) != order || !b.rangeBits(bp, 1<<order, false) {
			break
		}
		b.unlink(bp)
		p = min(p, bp)
		order++
	}
	b.push(p, order)
	return p, order, nil
}

// freeBlocks counts the free blocks per order (for tests).
func (b *buddy) freeBlocks() [maxOrder + 1]int {
	var c [maxOrder + 1]int
	for o := range c {
		for p := b.head[o]; p != none; p = b.links[uint64(p)].next {
			c[o]++
		}
	}
	return c
}

// orderFor is the smallest order whose block holds n pages.
func orderFor(n uint64) int {
	if n <= 1 {
		return 0
	}
	return bits.Len64(n - 1)
}
