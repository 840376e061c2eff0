package mm

import (
	"bytes"
	"testing"

	"kvsentry/platform"
)

type cachedFile struct {
	memFile
	cache *FileCache
}

func (c *cachedFile) FileCache() *FileCache { return c.cache }

func TestFileCacheSharesPagesCopyOnWrite(t *testing.T) {
	m1, as1, pool := newTestMM(t)
	free0 := pool.FreePages()
	f := &cachedFile{memFile: memFile{data: bytes.Repeat([]byte("abcdefgh"), 2*PageSize/8+100)}, cache: NewFileCache(pool)}
	m2 := New(pool, testMax-PageSize)
	as2 := newFakeAS()
	m2.SetAddressSpace(as2)
	o := MmapOpts{Addr: 0x400000, Fixed: true, Length: 4 * PageSize, Perms: platform.ReadWrite, Private: true, File: f}
	mustMmap(t, m1, o)
	mustMmap(t, m2, o)
	if err := m1.HandleFault(0x400000, platform.Read); err != nil {
		t.Fatal(err)
	}
	if f.cache.Len() != 3 {
		t.Fatalf("cached %d pages, want 3 (the 4th is beyond EOF)", f.cache.Len())
	}
	if err := m2.HandleFault(0x401000, platform.Read); err != nil {
		t.Fatal(err)
	}
	p1, p2 := as1.pages[0x401000], as2.pages[0x401000]
	if p1.off != p2.off || p1.perms != platform.Read || p2.perms != platform.Read {
		t.Fatalf("cached page not shared read-only: %+v %+v", p1, p2)
	}
	// A write fault copies; the other mapping and the cache are unaffected.
	if err := m1.HandleFault(0x401000, platform.Write); err != nil {
		t.Fatal(err)
	}
	if as1.pages[0x401000].off == p2.off || as1.pages[0x401000].perms != platform.ReadWrite {
		t.Fatalf("COW not broken: %+v", as1.pages[0x401000])
	}
	m1.CopyOut(0x401000, []byte("XX"))
	b := make([]byte, 2)
	m2.CopyIn(0x401000, b)
	if string(b) != "ab" {
		t.Fatalf("other mapping sees %q", b)
	}
	// Invalidate: new mappings read the file again.
	f.data[0] = 'Z'
	f.cache.Invalidate(0, 1)
	m3 := New(pool, testMax-PageSize)
	mustMmap(t, m3, o)
	m3.CopyIn(0x400000, b)
	if string(b) != "Zb" {
		t.Fatalf("after Invalidate read %q", b)
	}
	m1.Release()
	m2.Release()
	m3.Release()
	f.cache.Release()
	if pool.FreePages() != free0 {
		t.Fatalf("leaked pages: %d free, want %d", pool.FreePages(), free0)
	}
}
