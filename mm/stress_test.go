package mm

import (
	"math/rand"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"kvsentry/platform"
)

// TestRandomOpsAgainstModel runs random mmap/munmap/mprotect/madvise/mremap/
// fork/copy operations on a 64-page arena and checks contents and
// permissions against a per-page model, then checks nothing leaked.
func TestRandomOpsAgainstModel(t *testing.T) {
	m, _, pool := newTestMM(t)
	free0 := pool.FreePages()
	const base, npg = 0x400000, 64
	type page struct {
		mapped   bool
		writable bool
		tag      byte
	}
	model := make([]page, npg)
	r := rand.New(rand.NewSource(1))
	var kids []*MM
	addr := func(i int) uint64 { return base + uint64(i)*PageSize }
	for op := 0; op < 4000; op++ {
		i := r.Intn(npg)
		n := 1 + r.Intn(min(8, npg-i))
		switch r.Intn(9) {
		case 0: // mmap fixed RW
			mustMmap(t, m, anonOpts(addr(i), uint64(n)*PageSize, platform.ReadWrite))
			for k := i; k < i+n; k++ {
				model[k] = page{mapped: true, writable: true}
			}
		case 1:
			if err := m.Munmap(addr(i), uint64(n)*PageSize); err != nil {
				t.Fatal(err)
			}
			for k := i; k < i+n; k++ {
				model[k] = page{}
			}
		case 2:
			w := r.Intn(2) == 0
			perms := platform.Read
			if w {
				perms = platform.ReadWrite
			}
			err := m.Mprotect(addr(i), uint64(n)*PageSize, perms)
			hole := false
			for k := i; k < i+n; k++ {
				if !model[k].mapped {
					hole = true
					break
				}
				model[k].writable = w
			}
			if hole != (err == unix.ENOMEM) {
				t.Fatalf("op %d: mprotect err %v, hole %v", op, err, hole)
			}
		case 3:
			m.Madvise(addr(i), uint64(n)*PageSize, madvDontneed)
			for k := i; k < i+n; k++ {
				model[k].tag = 0
			}
		case 4, 5: // write a tag
			tag := byte(1 + r.Intn(255))
			_, err := m.CopyOut(addr(i)+7, []byte{tag})
			if ok := model[i].mapped && model[i].writable; ok != (err == nil) {
				t.Fatalf("op %d: CopyOut err %v, model %+v", op, err, model[i])
			}
			if err == nil {
				model[i].tag = tag
			}
		case 6: // guest fault
			acc := []platform.AccessType{platform.Read, platform.Write, platform.NoAccess}[r.Intn(3)]
			err := m.HandleFault(addr(i), acc)
			if !model[i].mapped && err == nil || acc == platform.Write && !model[i].writable && err == nil {
				t.Fatalf("op %d: fault %v resolved on %+v", op, acc, model[i])
			}
		case 7: // fork, scribble in the child, release it
			c, _ := m.Fork()
			c.SetAddressSpace(newFakeAS())
			for k := 0; k < npg; k++ {
				if model[k].mapped && model[k].writable {
					c.CopyOut(addr(k)+7, []byte{0xEE})
				}
			}
			// Keep a few children alive so that pages stay shared a while.
			kids = append(kids, c)
			if len(kids) > 3 {
				kids[0].Release()
				kids = kids[1:]
			}
		case 8: // mremap in place (shrink) keeps the head
			if model[i].mapped {
				v := m.vmas.find(addr(i))
				k := int((v.end - addr(i)) / PageSize)
				if k > 1 {
					if _, err := m.Mremap(addr(i), uint64(k)*PageSize, PageSize, 0, 0); err != nil {
						t.Fatalf("op %d: mremap shrink: %v", op, err)
					}
					for j := i + 1; j < i+k; j++ {
						model[j] = page{}
					}
				}
			}
		}
		// Check one random page's content.
		j := r.Intn(npg)
		b := []byte{0}
		_, err := m.CopyIn(addr(j)+7, b)
		if model[j].mapped != (err == nil) || err == nil && b[0] != model[j].tag {
			t.Fatalf("op %d: page %d read %v %#x, model %+v", op, j, err, b[0], model[j])
		}
	}
	checkInvariants(t, m)
	for _, c := range kids {
		checkInvariants(t, c)
		c.Release()
	}
	m.Release()
	if pool.FreePages() != free0 {
		t.Errorf("leaked pages: %d free, want %d", pool.FreePages(), free0)
	}
}

// TestConcurrentUse exercises locking (run with -race): two MMs sharing pool
// pages fault and copy while others read Maps.
func TestConcurrentUse(t *testing.T) {
	m, _, _ := newTestMM(t)
	a := mustMmap(t, m, anonOpts(0x400000, 64*PageSize, platform.ReadWrite))
	m.CopyOut(a, make([]byte, 64*PageSize))
	c, _ := m.Fork()
	c.SetAddressSpace(newFakeAS())
	var wg sync.WaitGroup
	for g, mm := range []*MM{m, c, m, c} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				off := uint64((i*7+g)%64) * PageSize
				mm.CopyOut(a+off, []byte{byte(g)})
				mm.HandleFault(a+off, platform.NoAccess)
				mm.Maps()
				if i%50 == 0 {
					mm.Madvise(a, 8*PageSize, madvDontneed)
				}
			}
		}()
	}
	wg.Wait()
	c.Release()
	m.Release()
}
