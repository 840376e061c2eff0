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
	p.retainMax = 0
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

// TestPoolRetainsFreedBlocks checks that up to retainMax wholly free 2 MiB
// blocks keep their memory (no punch), that the oldest is punched when one
// more is freed, and that retained memory handed out again reads as zero.
func TestPoolRetainsFreedBlocks(t *testing.T) {
	p := newTestPool(t, 8<<20)
	p.retainMax = 1
	fill := func() (uint64, []byte) {
		off, err := p.Alloc(punchOrder)
		if err != nil {
			t.Fatal(err)
		}
		b := p.Bytes(off, PageSize<<punchOrder)
		for i := range b {
			b[i] = 0x5A
		}
		return off, b
	}
	free := func(off uint64) {
		for i := uint64(0); i < 1<<punchOrder; i++ {
			p.DecRef(off + i*PageSize)
		}
	}
	offA, a := fill()
	offB, b := fill()
	free(offA)
	if a[12345] != 0x5A {
		t.Fatalf("the only retained block was punched")
	}
	free(offB)
	if a[12345] != 0 || b[12345] != 0x5A {
		t.Fatalf("after freeing a second block: oldest %#x (want punched, 0), newest %#x (want kept)", a[12345], b[12345])
	}
	// Allocating everything hands out the retained (dirty) block too:
	// every page must come back zeroed.
	var offs []uint64
	for {
		o, err := p.Alloc(0)
		if err != nil {
			break
		}
		offs = append(offs, o)
	}
	for _, o := range offs {
		for _, c := range p.Bytes(o, PageSize) {
			if c != 0 {
				t.Fatalf("page %#x handed out again not zeroed", o)
			}
		}
	}
	if len(offs) != 2048 {
		t.Fatalf("allocated %d pages, want 2048", len(offs))
	}
}
