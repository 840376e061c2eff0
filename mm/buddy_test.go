package mm

import (
	"math/rand"
	"testing"
)

func TestBuddyPartialFreeDoesNotMergeWithHeldBuddy(t *testing.T) {
	b := newBuddy(16)
	p, ok := b.alloc(2)
	if !ok {
		t.Fatal("alloc failed")
	}
	// Free pages p+1..p+3 one by one while p is still held.
	for _, q := range []uint64{p + 1, p + 2, p + 3} {
		if _, _, err := b.freeBlock(q, 0); err != nil {
			t.Fatal(err)
		}
	}
	if b.freeOrder(p+1) != 0 {
		t.Errorf("page %d: free order %d, want 0 (its buddy %d is held)", p+1, b.freeOrder(p+1), p)
	}
	if b.freeOrder(p+2) != 1 {
		t.Errorf("pages %d-%d should have merged to order 1, got %d", p+2, p+3, b.freeOrder(p+2))
	}
	// Every allocation now must avoid p.
	var got []uint64
	for {
		q, ok := b.alloc(0)
		if !ok {
			break
		}
		if q == p {
			t.Fatalf("held page %d handed out again", p)
		}
		got = append(got, q)
	}
	if len(got) != 15 {
		t.Fatalf("allocated %d pages, want 15", len(got))
	}
	for _, q := range append(got, p) {
		if _, _, err := b.freeBlock(q, 0); err != nil {
			t.Fatal(err)
		}
	}
	if c := b.freeBlocks(); c[4] != 1 || b.free != 16 {
		t.Fatalf("not fully coalesced: %v free=%d", c, b.free)
	}
}

func TestBuddyNoMergeWithBuddyOutsideFreeLists(t *testing.T) {
	b := newBuddy(8)
	x, _ := b.alloc(0)
	y := x ^ 1
	// y is free in the bitmap but held outside the free lists (reserved).
	b.unlink(y)
	if _, order, err := b.freeBlock(x, 0); err != nil || order != 0 {
		t.Fatalf("free merged with a buddy outside the free lists: order %d err %v", order, err)
	}
	if b.freeOrder(y) != none {
		t.Fatal("reserved buddy reappeared in the free lists")
	}
	for {
		q, ok := b.alloc(0)
		if !ok {
			break
		}
		if q == y {
			t.Fatal("reserved page handed out")
		}
	}
}

func TestBuddyNoMergeWithBuddyWhoseBitsAreSet(t *testing.T) {
	b := newBuddy(8)
	x, _ := b.alloc(0)
	y := x ^ 1
	// y is on the free list but marked allocated in the bitmap: inconsistent,
	// so it must not be merged.
	b.setBits(y, 1, true)
	if _, order, err := b.freeBlock(x, 0); err != nil || order != 0 {
		t.Fatalf("merged with a buddy whose bitmap bit is set: order %d err %v", order, err)
	}
}

func TestBuddyDoubleFree(t *testing.T) {
	b := newBuddy(64)
	p, _ := b.alloc(1)
	if _, _, err := b.freeBlock(p, 1); err != nil {
		t.Fatal(err)
	}
	before, free := b.freeBlocks(), b.free
	if _, _, err := b.freeBlock(p, 1); err == nil {
		t.Fatal("double free not detected")
	}
	if _, _, err := b.freeBlock(p+1, 0); err == nil {
		t.Fatal("free of a free page not detected")
	}
	if _, _, err := b.freeBlock(3, 1); err == nil {
		t.Fatal("misaligned free not detected")
	}
	if _, _, err := b.freeBlock(64, 0); err == nil {
		t.Fatal("out of range free not detected")
	}
	if b.freeBlocks() != before || b.free != free {
		t.Fatal("failed free changed the allocator")
	}
}

func TestBuddyRandomAgainstModel(t *testing.T) {
	const npages = 1000 // deliberately not a power of two
	b := newBuddy(npages)
	initial := b.freeBlocks()
	r := rand.New(rand.NewSource(42))
	owner := make([]bool, npages)
	type blk struct {
		p     uint64
		order int
	}
	var held []blk
	var singles []uint64 // pages of split-freed blocks still held
	for i := 0; i < 20000; i++ {
		switch op := r.Intn(10); {
		case op < 5:
			order := r.Intn(6)
			p, ok := b.alloc(order)
			if !ok {
				continue
			}
			n := uint64(1) << order
			if p%n != 0 || p+n > npages {
				t.Fatalf("bad block %d order %d", p, order)
			}
			for q := p; q < p+n; q++ {
				if owner[q] {
					t.Fatalf("page %d handed out twice", q)
				}
				owner[q] = true
			}
			held = append(held, blk{p, order})
		case op < 8 && len(held) > 0:
			k := r.Intn(len(held))
			h := held[k]
			held = append(held[:k], held[k+1:]...)
			n := uint64(1) << h.order
			if r.Intn(2) == 0 {
				if _, _, err := b.freeBlock(h.p, h.order); err != nil {
					t.Fatal(err)
				}
				for q := h.p; q < h.p+n; q++ {
					owner[q] = false
				}
			} else {
				// Free it page by page, in random order, some later.
				for _, j := range r.Perm(int(n)) {
					singles = append(singles, h.p+uint64(j))
				}
			}
		case len(singles) > 0:
			k := r.Intn(len(singles))
			q := singles[k]
			singles = append(singles[:k], singles[k+1:]...)
			if _, _, err := b.freeBlock(q, 0); err != nil {
				t.Fatal(err)
			}
			owner[q] = false
		}
		if b.free+countTrue(owner) != npages {
			t.Fatalf("op %d: free %d + owned %d != %d", i, b.free, countTrue(owner), npages)
		}
	}
	for _, h := range held {
		if _, _, err := b.freeBlock(h.p, h.order); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range singles {
		if _, _, err := b.freeBlock(q, 0); err != nil {
			t.Fatal(err)
		}
	}
	if b.free != npages || !b.rangeBits(0, npages, false) {
		t.Fatalf("not all free: free=%d", b.free)
	}
	if got := b.freeBlocks(); got != initial {
		t.Fatalf("not coalesced: %v, want %v", got, initial)
	}
}

func countTrue(b []bool) uint64 {
	var n uint64
	for _, x := range b {
		if x {
			n++
		}
	}
	return n
}

func TestOrderFor(t *testing.T) {
	for n, want := range map[uint64]int{0: 0, 1: 0, 2: 1, 3: 2, 4: 2, 5: 3, 16: 4, 17: 5} {
		if got := orderFor(n); got != want {
			t.Errorf("orderFor(%d) = %d, want %d", n, got, want)
		}
	}
}
