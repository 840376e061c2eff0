package mm

import (
	"io"
	"testing"

	"kvsentry/platform"
)

// fakeAS is a platform.AddressSpace that records calls and keeps a page map.
type fakeAS struct {
	maps    []mapCall
	unmaps  [][2]uint64
	pages   map[uint64]fakePage
	release int
}

type mapCall struct {
	addr, length, off uint64
	perms             platform.AccessType
}

type fakePage struct {
	off   uint64
	perms platform.AccessType
}

func newFakeAS() *fakeAS { return &fakeAS{pages: map[uint64]fakePage{}} }

func (f *fakeAS) MapFile(addr, length, off uint64, perms platform.AccessType) error {
	f.maps = append(f.maps, mapCall{addr, length, off, perms})
	for i := uint64(0); i < length; i += PageSize {
		f.pages[addr+i] = fakePage{off + i, perms}
	}
	return nil
}

func (f *fakeAS) Unmap(addr, length uint64) error {
	f.unmaps = append(f.unmaps, [2]uint64{addr, length})
	for i := uint64(0); i < length; i += PageSize {
		delete(f.pages, addr+i)
	}
	return nil
}

func (f *fakeAS) Release() { f.release++ }

// memFile is a Mappable over a byte slice.
type memFile struct{ data []byte }

func (m *memFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(m.data)) {
		return 0, io.EOF
	}
	n := copy(p, m.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// checkInvariants verifies the MM's internal consistency.
func checkInvariants(t *testing.T, m *MM) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	var prev *vma
	m.vmas.each(func(v *vma) bool {
		if v.start >= v.end || v.start%PageSize != 0 || v.end%PageSize != 0 {
			t.Fatalf("bad area [%#x,%#x)", v.start, v.end)
		}
		if prev != nil && prev.end > v.start {
			t.Fatalf("areas overlap: [%#x,%#x) [%#x,%#x)", prev.start, prev.end, v.start, v.end)
		}
		prev = v
		return true
	})
	m.pages.t.Ascend(func(p *pte) bool {
		if m.vmas.find(p.addr) == nil {
			t.Fatalf("page %#x outside every area", p.addr)
		}
		if m.pool.RefCount(p.off) < 1 {
			t.Fatalf("page %#x backed by free pool page %#x", p.addr, p.off)
		}
		return true
	})
}
