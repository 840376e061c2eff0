package mm

import (
	"github.com/google/btree"

	"kvsentry/platform"
)

// pte records one populated guest page (the part of a Linux page-table entry
// plus struct page state that mm needs).
type pte struct {
	addr uint64 // page-aligned guest address
	off  uint64 // pool offset of the backing page (one pool reference held)
	// cow: the pool page may be shared with another MM; a write must copy it.
	cow bool
	// mapped is the permission set the page is mapped with in the platform
	// address space; NoAccess means not mapped there.
	mapped platform.AccessType
}

// pageTable holds an MM's populated pages ordered by address.
type pageTable struct {
	t *btree.BTreeG[*pte]
}

func newPageTable() *pageTable {
	return &pageTable{t: btree.NewG(32, func(a, b *pte) bool { return a.addr < b.addr })}
}

func (pt *pageTable) get(addr uint64) *pte {
	p, _ := pt.t.Get(&pte{addr: addr})
	return p
}

func (pt *pageTable) set(p *pte) { pt.t.ReplaceOrInsert(p) }

func (pt *pageTable) del(p *pte) { pt.t.Delete(p) }

// inRange returns the pages in [s, e) in address order.
func (pt *pageTable) inRange(s, e uint64) []*pte {
	var r []*pte
	if s >= e {
		return nil
	}
	pt.t.AscendRange(&pte{addr: s}, &pte{addr: e}, func(p *pte) bool {
		r = append(r, p)
		return true
	})
	return r
}

func (pt *pageTable) len() int { return pt.t.Len() }

// effPerms is what the hardware lets the guest do with perms on x86-64: write
// or execute permission implies read.
func effPerms(p platform.AccessType) platform.AccessType {
	if p&(platform.Write|platform.Execute) != 0 {
		p |= platform.Read
	}
	return p
}

// desired is the permission set a page should be mapped with: the area's,
// without write while the page is shared copy-on-write.
func desired(v *vma, p *pte) platform.AccessType {
	if p.cow {
		return v.perms &^ platform.Write
	}
	return v.perms
}
