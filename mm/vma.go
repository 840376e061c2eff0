package mm

import (
	"reflect"

	"github.com/google/btree"

	"kvsentry/platform"
)

// vma is one virtual memory area (Linux struct vm_area_struct): a page-aligned
// range [start, end) with uniform permissions and backing.
type vma struct {
	start, end uint64
	perms      platform.AccessType
	// maxPerms bounds what mprotect may grant (VM_MAYREAD/WRITE/EXEC).
	maxPerms platform.AccessType
	private  bool
	// file backs the area (nil: anonymous); off is the file offset of start.
	file Mappable
	// shm is the shared object of a MAP_SHARED|MAP_ANONYMOUS area; off is the
	// byte offset of start in it.
	shm      *sharedAnon
	off      uint64
	name     string
	dev, ino uint64
	// dontFork and wipeOnFork are MADV_DONTFORK and MADV_WIPEONFORK.
	dontFork, wipeOnFork bool
	// faWin and faNext drive the adaptive fault-around of anonymous memory:
	// the current window and where a sequential next fault would land.
	faWin, faNext uint64
}

// offsetOf is the file (or shared object) offset backing addr.
func (v *vma) offsetOf(addr uint64) uint64 { return v.off + (addr - v.start) }

// accountable reports whether Linux would charge the area against the commit
// limit (VM_ACCOUNT: private writable, or shared anonymous).
func (v *vma) accountable() bool {
	return v.private && v.perms&platform.Write != 0 || v.shm != nil
}

func sameMappable(a, b Mappable) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	return ta == tb && ta.Comparable() && a == b
}

// canMerge reports whether b directly follows a and both could be one area
// (Linux is_mergeable_vma plus the contiguous-offset check of vma_merge).
func canMerge(a, b *vma) bool {
	if a.end != b.start || a.perms != b.perms || a.maxPerms != b.maxPerms ||
		a.private != b.private || a.shm != b.shm || !sameMappable(a.file, b.file) ||
		a.name != b.name || a.dev != b.dev || a.ino != b.ino ||
		a.dontFork != b.dontFork || a.wipeOnFork != b.wipeOnFork {
		return false
	}
	if a.file != nil || a.shm != nil {
		return a.off+(a.end-a.start) == b.off
	}
	return true
}

// vmaTree is the ordered set of an MM's areas, keyed by start (Linux's maple
// tree). Areas never overlap.
type vmaTree struct {
	t *btree.BTreeG[*vma]
}

func newVMATree() *vmaTree {
	return &vmaTree{t: btree.NewG(16, func(a, b *vma) bool { return a.start < b.start })}
}

// find returns the area containing addr, or nil (Linux vma_lookup).
func (t *vmaTree) find(addr uint64) *vma {
	var r *vma
	t.t.DescendLessOrEqual(&vma{start: addr}, func(v *vma) bool {
		r = v
		return false
	})
	if r != nil && addr < r.end {
		return r
	}
	return nil
}

// next returns the first area starting at or above addr, or nil.
func (t *vmaTree) next(addr uint64) *vma {
	var r *vma
	t.t.AscendGreaterOrEqual(&vma{start: addr}, func(v *vma) bool {
		r = v
		return false
	})
	return r
}

// prev returns the last area starting below addr, or nil.
func (t *vmaTree) prev(addr uint64) *vma {
	var r *vma
	t.t.DescendLessOrEqual(&vma{start: addr}, func(v *vma) bool {
		if v.start < addr {
			r = v
			return false
		}
		return true
	})
	return r
}

// overlaps reports whether any area intersects [s, e). Since areas are
// disjoint and sorted, an area intersecting [s, e) either contains s (and is
// then the last area starting at or below s) or starts inside [s, e) (and the
// first area starting at or above s does): checking those two covers every
// area in the tree.
func (t *vmaTree) overlaps(s, e uint64) bool {
	if s >= e {
		return false
	}
	if t.find(s) != nil {
		return true
	}
	n := t.next(s)
	return n != nil && n.start < e
}

// insert adds v unless it overlaps an existing area or is empty.
func (t *vmaTree) insert(v *vma) bool {
	if v.start >= v.end || t.overlaps(v.start, v.end) {
		return false
	}
	t.t.ReplaceOrInsert(v)
	return true
}

// splitAt makes addr an area boundary if it lies strictly inside an area
// (Linux split_vma).
func (t *vmaTree) splitAt(addr uint64) {
	v := t.find(addr)
	if v == nil || v.start == addr {
		return
	}
	r := *v
	r.start = addr
	if v.file != nil || v.shm != nil {
		r.off = v.offsetOf(addr)
	}
	if r.shm != nil {
		r.shm.incRef()
	}
	v.end = addr
	t.t.ReplaceOrInsert(&r)
}

// inRange returns the areas intersecting [s, e) in address order.
func (t *vmaTree) inRange(s, e uint64) []*vma {
	var r []*vma
	if v := t.find(s); v != nil {
		r = append(r, v)
	}
	t.t.AscendRange(&vma{start: s}, &vma{start: e}, func(v *vma) bool {
		if len(r) == 0 || r[0] != v {
			r = append(r, v)
		}
		return true
	})
	return r
}

// removeRange deletes [s, e) from the tree, splitting the edge areas, and
// returns the removed pieces (Linux do_vmi_munmap without the page work).
func (t *vmaTree) removeRange(s, e uint64) []*vma {
	if s >= e {
		return nil
	}
	t.splitAt(s)
	t.splitAt(e)
	vs := t.inRange(s, e)
	for _, v := range vs {
		t.t.Delete(v)
	}
	return vs
}

// mergeAround merges compatible neighbours among the areas touching [s, e]
// (Linux vma_merge / vma_expand).
func (t *vmaTree) mergeAround(s, e uint64) {
	lo := s
	if p := t.prev(s); p != nil {
		lo = p.start
	}
	vs := t.inRange(lo, e)
	if n := t.next(e); n != nil && n.start == e && (len(vs) == 0 || vs[len(vs)-1] != n) {
		vs = append(vs, n)
	}
	for i := 0; i+1 < len(vs); i++ {
		a, b := vs[i], vs[i+1]
		if !canMerge(a, b) {
			continue
		}
		t.t.Delete(b)
		a.end = b.end
		if b.shm != nil {
			b.shm.decRef()
		}
		vs[i+1] = a
	}
}

// each calls fn for every area in address order until fn returns false.
func (t *vmaTree) each(fn func(v *vma) bool) { t.t.Ascend(fn) }

// len is the number of areas.
func (t *vmaTree) len() int { return t.t.Len() }
