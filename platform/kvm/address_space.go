package kvm

import (
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
	"kvsentry/platform"
)

// AddressSpace is a guest address space: a 4-level page table in the
// platform's private memory whose leaf entries point into the page pool
// (a pool offset is a guest-physical address), so MapFile and Unmap are
// page-table edits. Removing or changing a present entry queues a touch for
// the stub (see stub.go) so that KVM's shadow pages follow.
type AddressSpace struct {
	vm *vm
	// mu serialises page-table edits.
	mu       sync.Mutex
	pml4     uint64 // private offset
	tables   []uint64
	released atomic.Bool
	userNS   atomic.Int64
}

var (
	_ platform.AddressSpace = (*AddressSpace)(nil)
	_ platform.BatchMapper  = (*AddressSpace)(nil)
	_ platform.CPUTimer     = (*AddressSpace)(nil)
)

func newAddressSpace(v *vm) (*AddressSpace, error) {
	off, err := v.allocPage(true)
	if err != nil {
		return nil, err
	}
	return &AddressSpace{vm: v, pml4: off}, nil
}

// cr3 is the address space's CR3 value.
func (as *AddressSpace) cr3() uint64 { return as.vm.gpa(as.pml4) }

// checkRange validates a page-aligned range of the user half.
func checkRange(addr, length uint64) error {
	if addr%pageSize != 0 || length%pageSize != 0 || length == 0 || addr+length < addr || addr+length > maxUserAddress {
		return unix.EINVAL
	}
	return nil
}

// leafFor returns the private offset of addr's PTE, allocating the tables
// on the way when alloc is set; ok is false when a table is missing.
func (as *AddressSpace) leafFor(addr uint64, alloc bool) (uint64, bool, error) {
	v := as.vm
	table := as.pml4
	for shift := uint(39); shift > 12; shift -= 9 {
		eo := table + 8*(addr>>shift&511)
		e := v.priv.load64(eo)
		if e&ptePresent == 0 {
			if !alloc {
				return 0, false, nil
			}
			t, err := v.allocPage(false)
			if err != nil {
				return 0, false, err
			}
			as.tables = append(as.tables, t)
			e = v.gpa(t) | ptePresent | pteWrite | pteUser
			v.priv.store64(eo, e)
		}
		table = (e & pteAddr) - v.privGPA
	}
	return table + 8*(addr>>12&511), true, nil
}

// pteFor is the leaf entry mapping pool offset off with perms.
func pteFor(off uint64, perms platform.AccessType) uint64 {
	if perms == platform.NoAccess {
		return 0
	}
	// Accessed and dirty set up front: KVM need not write them back.
	e := off | ptePresent | pteUser | pteAccessed | pteDirty
	if perms&platform.Write != 0 {
		e |= pteWrite
	}
	if perms&platform.Execute == 0 {
		e |= pteNX
	}
	return e
}

// needsTouch says whether replacing old by new can leave KVM with a stale
// shadow entry: a present entry removed, redirected or losing a right.
// Gaining a right needs nothing: KVM re-walks the guest table on the fault.
func needsTouch(old, new uint64) bool {
	if old&ptePresent == 0 || old == new {
		return false
	}
	if new&ptePresent == 0 || old&pteAddr != new&pteAddr {
		return true
	}
	return old&pteWrite != 0 && new&pteWrite == 0 || old&pteNX == 0 && new&pteNX != 0
}

// toucher collects the touches of one edit, per page-table page.
type toucher struct {
	pages map[uint64][]uint64
}

func (t *toucher) add(pteOff uint64) {
	if t.pages == nil {
		t.pages = map[uint64][]uint64{}
	}
	pg := pteOff &^ (pageSize - 1)
	t.pages[pg] = append(t.pages[pg], pteOff)
}

// wholePageTouches is the count of changed entries in one table page from
// which zapping the page's shadows beats touching entries one by one.
const wholePageTouches = 8

func (t *toucher) flush(as *AddressSpace) {
	v := as.vm
	var list []uint64
	for pg, ptes := range t.pages {
		if len(ptes) >= wholePageTouches {
			list = append(list, (kernBase+pg)|1)
			continue
		}
		for _, p := range ptes {
			list = append(list, kernBase+p)
		}
	}
	if len(list) > 0 {
		v.touch(list)
		v.shootdown(as)
	}
}

// MapFile maps [poolOffset, poolOffset+length) of the pool at addr.
func (as *AddressSpace) MapFile(addr, length, poolOffset uint64, perms platform.AccessType) error {
	return as.MapFiles([]platform.Mapping{{Addr: addr, Length: length, PoolOffset: poolOffset, Perms: perms}})
}

// MapFiles applies the mappings in order, stopping at the first error.
func (as *AddressSpace) MapFiles(ms []platform.Mapping) error {
	if as.released.Load() {
		return unix.EINVAL
	}
	as.mu.Lock()
	defer as.mu.Unlock()
	var t toucher
	defer t.flush(as)
	for _, m := range ms {
		if err := checkRange(m.Addr, m.Length); err != nil {
			return err
		}
		if m.PoolOffset%pageSize != 0 || m.PoolOffset+m.Length < m.PoolOffset || m.PoolOffset+m.Length > as.vm.poolSize {
			return unix.EINVAL
		}
		for i := uint64(0); i < m.Length; i += pageSize {
			pte, _, err := as.leafFor(m.Addr+i, true)
			if err != nil {
				return err
			}
			nw := pteFor(m.PoolOffset+i, m.Perms)
			old := as.vm.priv.load64(pte)
			as.vm.priv.store64(pte, nw)
			if needsTouch(old, nw) {
				t.add(pte)
			}
		}
	}
	return nil
}

// Unmap removes any mapping in [addr, addr+length).
func (as *AddressSpace) Unmap(addr, length uint64) error {
	if err := checkRange(addr, length); err != nil {
		return err
	}
	if as.released.Load() {
		return unix.EINVAL
	}
	as.mu.Lock()
	defer as.mu.Unlock()
	var t toucher
	as.unmapIn(as.pml4, 39, 0, addr, addr+length, &t)
	t.flush(as)
	return nil
}

// unmapIn clears the leaf entries for [start, end) under the table at
// private offset table, which maps 512 entries of 1<<shift bytes from base;
// it visits present entries only.
func (as *AddressSpace) unmapIn(table uint64, shift uint, base, start, end uint64, t *toucher) {
	v := as.vm
	size := uint64(1) << shift
	first := uint64(0)
	if start > base {
		first = (start - base) >> shift
	}
	for i := first; i < 512; i++ {
		lo := base + i*size
		if lo >= end {
			break
		}
		eo := table + 8*i
		e := v.priv.load64(eo)
		if e&ptePresent == 0 {
			continue
		}
		if shift == 12 {
			v.priv.store64(eo, 0)
			t.add(eo)
			continue
		}
		as.unmapIn((e&pteAddr)-v.privGPA, shift-9, lo, start, end, t)
	}
}

// Release frees the page tables: they are cleared now and reused once a
// vCPU has zapped their shadows.
func (as *AddressSpace) Release() {
	if !as.released.CompareAndSwap(false, true) {
		return
	}
	as.mu.Lock()
	defer as.mu.Unlock()
	v := as.vm
	var pages []freedPage
	for _, t := range as.tables {
		clear(v.priv.bytesAt(t, pageSize))
		pages = append(pages, freedPage{off: t})
	}
	clear(v.priv.bytesAt(as.pml4, pageSize/2)) // the user half
	pages = append(pages, freedPage{off: as.pml4, pml4: true})
	as.tables = nil
	v.freePages(pages)
}

// CPUTime returns the time the address space's threads spent in KVM_RUN
// as user time.
func (as *AddressSpace) CPUTime() (user, sys time.Duration) {
	return time.Duration(as.userNS.Load()), 0
}

// CPUClock is CPUTime's sum.
func (as *AddressSpace) CPUClock() time.Duration { return time.Duration(as.userNS.Load()) }
