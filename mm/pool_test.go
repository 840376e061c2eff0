package mm

import (
	"testing"

	"golang.org/x/sys/unix"
)

func newTestPool(t *testing.T, size uint64) *Pool {
	t.Helper()
	p, err := NewPool(size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestPoolAllocZeroesAndRefcounts(t *testing.T) {
	p := newTestPool(t, 1<<20)
	total := p.FreePages()
	if total != 256 {
		t.Fatalf("FreePages = %d, want 256", total)
	}
	off, err := p.Alloc(2)
	if err != nil {
		t.Fatal(err)
	}
	b := p.Bytes(off, 4*PageSize)
	for i := range b {
		b[i] = 0xAA
	}
	p.IncRef(off)
	if p.RefCount(off) != 2 || p.RefCount(off+PageSize) != 1 {
		t.Fatalf("refcounts %d %d", p.RefCount(off), p.RefCount(off+PageSize))
	}
	for i := uint64(0); i < 4; i++ {
		p.DecRef(off + i*PageSize)
	}
	if p.FreePages() != total-1 {
		t.Fatalf("FreePages = %d, want %d (first page still referenced)", p.FreePages(), total-1)
	}
	p.DecRef(off)
	p.DecRef(off) // extra: must be refused, not corrupt the allocator
	if p.FreePages() != total {
		t.Fatalf("FreePages = %d, want %d", p.FreePages(), total)
	}
	// Reallocate everything: every page must come back zeroed.
	var offs []uint64
	for {
		o, err := p.Alloc(0)
		if err == unix.ENOMEM {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range p.Bytes(o, PageSize) {
			if c != 0 {
				t.Fatalf("page %#x not zeroed", o)
			}
		}
		offs = append(offs, o)
	}
	if len(offs) != 256 {
		t.Fatalf("allocated %d pages, want 256", len(offs))
	}
	if _, err := p.Alloc(0); err != unix.ENOMEM {
		t.Fatalf("Alloc on exhausted pool: %v, want ENOMEM", err)
	}
}

func TestPoolPunchesFreedLargeBlocks(t *testing.T) {
	p := newTestPool(t, 4<<20)
	off, err := p.Alloc(punchOrder)
	if err != nil {
		t.Fatal(err)
	}
	b := p.Bytes(off, PageSize<<punchOrder)
	for i := range b {
		b[i] = 0x5A
	}
	for i := uint64(0); i < 1<<punchOrder; i++ {
		p.DecRef(off + i*PageSize)
	}
	// The memory went back to the host: the memfd range reads zero again.
	for i, c := range b {
		if c != 0 {
			t.Fatalf("byte %d = %#x after the 2 MiB block was freed; not punched", i, c)
		}
	}
}
