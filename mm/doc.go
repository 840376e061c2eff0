// Package mm is kvsentry's memory manager: the page pool ("physical memory", a
// memfd), its buddy allocator, and per-process address spaces (MM) with their
// VMA trees, demand paging, copy-on-write fork and copy-in/copy-out. It mirrors
// Linux's mm/ (mm/mmap.c, mm/mremap.c, mm/mprotect.c, mm/madvise.c,
// mm/memory.c, mm/page_alloc.c) and never imports sentry or vfs.
//
// An MM keeps, for every populated guest page, the pool page backing it, whether
// that pool page is shared copy-on-write, and the permissions it is currently
// mapped with in the platform address space. Faults reported by the platform are
// resolved by HandleFault, which allocates (fault-around), copies (COW) or
// remaps, and otherwise reports the signal Linux would send.
//
// Lock order:
//
//	MM.mu
//	  sharedAnon.mu, FileCache.mu
//	    Pool.mu
package mm

// PageSize is the size of a guest and pool page.
const PageSize = 4096

const pageShift = 12

// minMmapAddr is the lowest address a mapping may use (Linux's default
// vm.mmap_min_addr on x86-64).
const minMmapAddr = 0x10000

func pageRoundDown(x uint64) uint64 { return x &^ (PageSize - 1) }

// pageRoundUp rounds x up to a page boundary; ok is false on overflow.
func pageRoundUp(x uint64) (uint64, bool) {
	r := (x + PageSize - 1) &^ (PageSize - 1)
	return r, r >= x
}
