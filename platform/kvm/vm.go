package kvm

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// vm is one KVM virtual machine: the memslots, the platform's private
// memory and its page allocator, the queue of page-table touches not yet
// applied by a vCPU, and the vCPU pool.
type vm struct {
	kvmfd, vmfd int
	runSize     int
	pool        mem
	poolSize    uint64
	priv        mem
	privGPA     uint64
	cpuid       []kvmCPUIDEntry2
	stub        stubCode
	maxVCPUs    int
	// mxcsrMask is the CPU's MXCSR_MASK (from the probe).
	mxcsrMask uint32

	// flushGen counts applied touch batches; a vCPU that has not seen the
	// latest reloads CR3 on its next entry (resyncing KVM's unsync pages).
	flushGen atomic.Uint64

	// logEnd is logBase+len(log), readable without mu.
	logEnd atomic.Uint64

	mu sync.Mutex
	// cond (on mu) wakes shootdowns when a vCPU loads touches or leaves
	// its guest.
	cond *sync.Cond
	// next is the bump pointer of the private page allocator; free and
	// freePML4 hold pages whose shadows have been zapped.
	next     uint64
	free     []uint64
	freePML4 []uint64
	// log holds touch-list entries (kernel virtual addresses of PTEs, bit 0
	// set for a whole page) from index logBase on, until every vCPU has
	// applied them (vcpu.cursor); afterLog are pages to free once every
	// vCPU is past the entry that zaps them.
	log      []uint64
	logBase  uint64
	afterLog []logFree
	vcpus    []*vcpu

	idle    chan *vcpu
	waiting atomic.Int32
}

// logFree is a page to free once every vCPU has applied the log up to at.
type logFree struct {
	at   uint64
	page freedPage
}

// freedPage is a private page waiting for its shadow zap before reuse.
type freedPage struct {
	off  uint64
	pml4 bool
}

// errorf builds the platform's errors.
func errorf(format string, a ...any) error { return fmt.Errorf("kvm: "+format, a...) }

// newVM opens /dev/kvm and builds the virtual machine around the pool memfd.
func newVM(poolFD int) (*vm, error) {
	kvmfd, err := unix.Open("/dev/kvm", unix.O_RDWR|unix.O_CLOEXEC, 0)
	switch {
	case err == unix.ENOENT:
		return nil, errorf("/dev/kvm does not exist (no KVM in this kernel, or virtualisation is off): %w", err)
	case err == unix.EACCES || err == unix.EPERM:
		return nil, errorf("no permission to open /dev/kvm (join the kvm group or run as root): %w", err)
	case err != nil:
		return nil, errorf("open /dev/kvm: %w", err)
	}
	v := &vm{kvmfd: kvmfd, vmfd: -1, next: privAllocBase, idle: make(chan *vcpu, maxVCPUs), mxcsrMask: 0xffbf}
	v.cond = sync.NewCond(&v.mu)
	if err := v.init(poolFD); err != nil {
		v.close()
		return nil, err
	}
	return v, nil
}

func (v *vm) init(poolFD int) error {
	if r, err := ioctl(v.kvmfd, kvmGetAPIVersion, 0); err != nil || r != 12 {
		return errorf("KVM_GET_API_VERSION = %d (%v), want 12", r, err)
	}
	for _, c := range []struct {
		cap  uintptr
		name string
	}{{capUserMemory, "KVM_CAP_USER_MEMORY"}, {capImmediateExit, "KVM_CAP_IMMEDIATE_EXIT"}, {capXsave, "KVM_CAP_XSAVE"}} {
		if r, _ := ioctl(v.kvmfd, kvmCheckExtension, c.cap); r == 0 {
			return errorf("%s is not available", c.name)
		}
	}
	if r, _ := ioctl(v.kvmfd, kvmCheckExtension, capSyncRegs); r&syncRegsGPR == 0 {
		return errorf("KVM_CAP_SYNC_REGS does not cover the general registers (mask %#x)", r)
	}
	n := runtime.NumCPU()
	if r, _ := ioctl(v.kvmfd, kvmCheckExtension, capMaxVCPUs); r > 0 && int(r) < n {
		n = int(r)
	}
	v.maxVCPUs = min(n, maxVCPUs)
	rs, err := ioctl(v.kvmfd, kvmGetVCPUMmapSize, 0)
	if err != nil {
		return errorf("KVM_GET_VCPU_MMAP_SIZE: %w", err)
	}
	v.runSize = int(rs)
	if v.cpuid, err = supportedCPUID(v.kvmfd); err != nil {
		return errorf("KVM_GET_SUPPORTED_CPUID: %w", err)
	}
	maskCPUID(v.cpuid)
	vmfd, err := ioctl(v.kvmfd, kvmCreateVM, 0)
	if err != nil {
		return errorf("KVM_CREATE_VM: %w (is nested virtualisation enabled?)", err)
	}
	v.vmfd = int(vmfd)

	var st unix.Stat_t
	if err := unix.Fstat(poolFD, &st); err != nil {
		return errorf("fstat pool: %w", err)
	}
	v.poolSize = uint64(st.Size) &^ (pageSize - 1)
	if v.poolSize == 0 {
		return errorf("the page pool is empty")
	}
	pm, err := unix.Mmap(poolFD, 0, int(v.poolSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_NORESERVE)
	if err != nil {
		return errorf("mmap pool: %w", err)
	}
	v.pool = mem{pm}
	v.privGPA = (v.poolSize + gib - 1) &^ (gib - 1)
	pr, err := unix.Mmap(-1, 0, privSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return errorf("mmap private memory: %w", err)
	}
	v.priv = mem{pr}
	for _, r := range []kvmUserspaceMemoryRegion{
		{Slot: slotPool, GuestPhysAddr: 0, MemorySize: v.poolSize, UserspaceAddr: sliceAddr(pm)},
		{Slot: slotPriv, GuestPhysAddr: v.privGPA, MemorySize: privSize, UserspaceAddr: sliceAddr(pr)},
	} {
		if err := setUserMemoryRegion(v.vmfd, &r); err != nil {
			return errorf("KVM_SET_USER_MEMORY_REGION slot %d: %w", r.Slot, err)
		}
	}
	v.buildSharedTables()
	v.stub = buildStub()
	return nil
}

// gpa converts a private offset to its guest-physical address.
func (v *vm) gpa(off uint64) uint64 { return v.privGPA + off }

// buildSharedTables writes the kernel-half tables every PML4 links to, the
// trampoline page and the idle PML4 (kernel half only) of fresh vCPUs.
func (v *vm) buildSharedTables() {
	v.priv.store64(privKernPDPT, v.gpa(privKernPD)|ptePresent|pteWrite)
	for i := uint64(0); i < privSize>>hugeShift; i++ {
		v.priv.store64(privKernPD+8*i, v.gpa(i<<hugeShift)|ptePresent|pteWrite|pteHuge)
	}
	v.priv.store64(privTrampPDPT+8*511, v.gpa(privTrampPD)|ptePresent|pteWrite|pteUser)
	v.priv.store64(privTrampPD+8*511, v.gpa(privTrampPT)|ptePresent|pteWrite|pteUser)
	v.priv.store64(privTrampPT, v.gpa(privTrampCode)|ptePresent|pteUser)
	code := v.priv.bytesAt(privTrampCode, pageSize)
	for i := 0; i < pageSize; i += 2 {
		code[i], code[i+1] = 0x0f, 0x0b // ud2
	}
	code[lstarVA-trampVA], code[lstarVA-trampVA+1] = 0xe6, exitPort // out %al,$exitPort
	code[probeVA-trampVA], code[probeVA-trampVA+1] = 0x0f, 0x05     // syscall
	v.initPML4(privIdlePML4)
}

// initPML4 links the shared kernel-half entries into a PML4 page.
func (v *vm) initPML4(off uint64) {
	v.priv.store64(off+8*256, v.gpa(privKernPDPT)|ptePresent|pteWrite)
	v.priv.store64(off+8*511, v.gpa(privTrampPDPT)|ptePresent|pteWrite|pteUser)
}

// maskCPUID hides what the guest must not use: OSXSAVE and XSAVE (the
// platform saves FP state with FXSAVE), MONITOR, and FSGSBASE (CR4.FSGSBASE
// is off).
func maskCPUID(es []kvmCPUIDEntry2) {
	for i := range es {
		e := &es[i]
		switch e.Function {
		case 1:
			e.ECX &^= 1<<3 | 1<<26 | 1<<27 | 1<<28 // MONITOR, XSAVE, OSXSAVE, AVX
		case 7:
			if e.Index == 0 {
				e.EBX &^= 1<<0 | 1<<5 // FSGSBASE, AVX2
			}
		case 0xd:
			e.EAX, e.EBX, e.ECX, e.EDX = 0, 0, 0, 0
		}
	}
}

// allocPage returns a zeroed private page for a page table.
func (v *vm) allocPage(pml4 bool) (uint64, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	var off uint64
	switch {
	case pml4 && len(v.freePML4) > 0:
		off = v.freePML4[len(v.freePML4)-1]
		v.freePML4 = v.freePML4[:len(v.freePML4)-1]
		return off, nil // user half already zero, kernel half linked
	case len(v.free) > 0:
		off = v.free[len(v.free)-1]
		v.free = v.free[:len(v.free)-1]
	case v.next+pageSize <= privSize:
		off = v.next
		v.next += pageSize
	default:
		return 0, errorf("out of page-table memory")
	}
	if pml4 {
		v.initPML4(off)
	}
	return off, nil
}

// touch appends touch-list entries to the log.
func (v *vm) touch(entries []uint64) {
	if len(entries) == 0 {
		return
	}
	v.mu.Lock()
	v.log = append(v.log, entries...)
	v.logEnd.Store(v.logBase + uint64(len(v.log)))
	v.mu.Unlock()
}

// freePages queues page-table pages for release: the host has cleared
// them; they are reused once every vCPU has zapped their shadows.
func (v *vm) freePages(pages []freedPage) {
	v.mu.Lock()
	for _, p := range pages {
		v.log = append(v.log, (kernBase+p.off)|1)
		v.afterLog = append(v.afterLog, logFree{at: v.logBase + uint64(len(v.log)), page: p})
	}
	v.logEnd.Store(v.logBase + uint64(len(v.log)))
	v.mu.Unlock()
}

// takeTouches writes into list (u's touch list) up to len(list)/8 log
// entries that u has not applied yet, and says how many and whether more
// remain. Every vCPU applies every entry before it runs guest code again,
// so none runs with a stale shadow entry that another vCPU has not zapped
// yet; shootdowns waiting for u learn how far that now goes.
func (v *vm) takeTouches(u *vcpu, list []byte) (int, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if u.cursor < v.logBase {
		u.cursor = v.logBase
	}
	i := u.cursor - v.logBase
	n := min(len(v.log)-int(i), len(list)/8)
	for k, e := range v.log[i : int(i)+n] {
		le.PutUint64(list[8*k:], e)
	}
	u.loaded.Store(u.cursor + uint64(n))
	v.cond.Broadcast()
	return n, int(i)+n < len(v.log)
}

// shootdown returns once no vCPU can run guest code of as with a TLB or
// shadow entry that the touches logged so far remove: a vCPU running as
// is kicked, and loads them for its way back into the guest (as Linux's
// flush_tlb_mm_range waits for the other CPUs' flushes).
func (v *vm) shootdown(as *AddressSpace) {
	end := v.logEnd.Load()
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, u := range v.vcpus {
		if u.as.Load() == as && u.loaded.Load() < end {
			u.kick()
		}
	}
	for _, u := range v.vcpus {
		for u.as.Load() == as && u.loaded.Load() < end {
			v.cond.Wait()
		}
	}
}

// touched records that u applied n entries and returns the new flush
// generation; entries every vCPU applied leave the log, and the pages they
// zapped become free.
func (v *vm) touched(u *vcpu, n int) uint64 {
	g := v.flushGen.Add(1)
	v.mu.Lock()
	defer v.mu.Unlock()
	u.cursor += uint64(n)
	low := u.cursor
	for _, x := range v.vcpus {
		low = min(low, max(x.cursor, v.logBase))
	}
	if drop := low - v.logBase; drop > 0 {
		v.log = v.log[:copy(v.log, v.log[drop:])]
		v.logBase = low
	}
	k := 0
	for _, f := range v.afterLog {
		if f.at > low {
			v.afterLog[k] = f
			k++
			continue
		}
		if f.page.pml4 {
			v.freePML4 = append(v.freePML4, f.page.off)
		} else {
			v.free = append(v.free, f.page.off)
		}
	}
	v.afterLog = v.afterLog[:k]
	return g
}

// acquire takes a vCPU for c, creating one while below maxVCPUs. When all
// are busy it waits, and after each timeslice without one it preempts the
// running ones (they return EventInterrupt), so guest threads share the
// vCPUs. It returns nil if c is interrupted meanwhile.
func (v *vm) acquire(c *Context) (*vcpu, error) {
	if v.waiting.Load() == 0 {
		if l := c.last; l != nil && l.busy.CompareAndSwap(false, true) {
			return l, nil
		}
		select {
		case u := <-v.idle:
			if u.busy.CompareAndSwap(false, true) {
				return u, nil
			}
		default:
		}
	}
	v.mu.Lock()
	if len(v.vcpus) < v.maxVCPUs {
		u, err := newVCPU(v, len(v.vcpus))
		if err != nil {
			v.mu.Unlock()
			return nil, err
		}
		u.busy.Store(true)
		v.vcpus = append(v.vcpus, u)
		v.mu.Unlock()
		return u, nil
	}
	v.mu.Unlock()
	// Waiters queue on the idle channel (first come, first served) and
	// keep the fast path above closed while they wait.
	v.waiting.Add(1)
	defer v.waiting.Add(-1)
	t := time.NewTimer(timeslice)
	defer t.Stop()
	for {
		select {
		case u := <-v.idle:
			if u.busy.CompareAndSwap(false, true) {
				return u, nil
			}
		case <-c.wake:
			if c.interrupt.Load() {
				return nil, nil
			}
		case <-t.C:
			v.mu.Lock()
			for _, u := range v.vcpus {
				if u.busy.Load() {
					u.preempt.Store(true)
					u.kick()
				}
			}
			v.mu.Unlock()
			t.Reset(timeslice)
		}
	}
}

// release returns u to the pool.
func (v *vm) release(u *vcpu) {
	u.busy.Store(false)
	select {
	case v.idle <- u:
	default:
	}
}

// timeslice is how long a guest thread waits for a vCPU before the running
// ones are preempted.
const timeslice = 5 * time.Millisecond

// close frees the VM (tests; a sandbox keeps its VM for its life).
func (v *vm) close() {
	for _, u := range v.vcpus {
		u.close()
	}
	if v.vmfd >= 0 {
		unix.Close(v.vmfd)
	}
	unix.Close(v.kvmfd)
	if v.pool.b != nil {
		unix.Munmap(v.pool.b)
	}
	if v.priv.b != nil {
		unix.Munmap(v.priv.b)
	}
}

// le is the byte order of everything the guest sees.
var le = binary.LittleEndian
