package mm

import (
	"math/rand"
	"testing"

	"kvsentry/platform"
)

func anon(s, e uint64) *vma {
	return &vma{start: s, end: e, perms: platform.ReadWrite, maxPerms: platform.AnyAccess, private: true}
}

func TestVMATreeOverlapRefused(t *testing.T) {
	tr := newVMATree()
	if !tr.insert(anon(0x10000, 0x20000)) || !tr.insert(anon(0x30000, 0x40000)) {
		t.Fatal("insert of disjoint areas failed")
	}
	for _, r := range [][2]uint64{
		{0x10000, 0x20000}, {0xf000, 0x11000}, {0x1f000, 0x21000},
		{0x12000, 0x13000}, {0x8000, 0x50000}, {0x20000, 0x31000},
	} {
		if tr.insert(anon(r[0], r[1])) {
			t.Errorf("overlapping insert [%#x,%#x) accepted", r[0], r[1])
		}
	}
	if !tr.insert(anon(0x20000, 0x30000)) {
		t.Fatal("insert into exact gap refused")
	}
	if tr.len() != 3 {
		t.Fatalf("len %d", tr.len())
	}
}

func TestVMATreeOverlapMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	tr := newVMATree()
	var all []*vma
	for i := 0; i < 3000; i++ {
		s := uint64(r.Intn(512)) * PageSize
		e := s + uint64(1+r.Intn(16))*PageSize
		want := false
		for _, v := range all {
			if v.start < e && s < v.end {
				want = true
			}
		}
		if got := tr.overlaps(s, e); got != want {
			t.Fatalf("overlaps(%#x,%#x) = %v, want %v", s, e, got, want)
		}
		if tr.insert(anon(s, e)) == want {
			t.Fatalf("insert(%#x,%#x) disagrees with brute force", s, e)
		}
		if !want {
			all = append(all, tr.find(s))
		}
	}
}

func TestVMATreeSplitMergeRemove(t *testing.T) {
	tr := newVMATree()
	tr.insert(anon(0x10000, 0x20000))
	tr.splitAt(0x14000)
	tr.splitAt(0x14000) // already a boundary
	if tr.len() != 2 || tr.find(0x13fff).end != 0x14000 || tr.find(0x14000).start != 0x14000 {
		t.Fatal("split failed")
	}
	tr.mergeAround(0x14000, 0x14000)
	if tr.len() != 1 || tr.find(0x10000).end != 0x20000 {
		t.Fatal("merge failed")
	}
	// Removing the middle splits into two.
	rm := tr.removeRange(0x12000, 0x13000)
	if len(rm) != 1 || rm[0].start != 0x12000 || rm[0].end != 0x13000 {
		t.Fatalf("removed %v", rm)
	}
	if tr.len() != 2 || tr.find(0x12000) != nil || tr.find(0x11fff) == nil || tr.find(0x13000) == nil {
		t.Fatal("remove of the middle did not split")
	}
	// Incompatible neighbours do not merge.
	tr.insert(&vma{start: 0x12000, end: 0x13000, perms: platform.Read, maxPerms: platform.AnyAccess, private: true})
	tr.mergeAround(0x12000, 0x13000)
	if tr.len() != 3 {
		t.Fatalf("merged areas with different perms: len %d", tr.len())
	}
	// File areas merge only with contiguous offsets.
	f := &memFile{}
	ft := newVMATree()
	ft.insert(&vma{start: 0x10000, end: 0x11000, private: true, file: f, off: 0})
	ft.insert(&vma{start: 0x11000, end: 0x12000, private: true, file: f, off: 0x2000})
	ft.mergeAround(0x10000, 0x12000)
	if ft.len() != 2 {
		t.Fatal("merged file areas with discontiguous offsets")
	}
	ft.insert(&vma{start: 0x12000, end: 0x13000, private: true, file: f, off: 0x3000})
	ft.mergeAround(0x12000, 0x13000)
	if ft.len() != 2 || ft.find(0x11000).end != 0x13000 {
		t.Fatal("did not merge file areas with contiguous offsets")
	}
}
