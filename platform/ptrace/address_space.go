package ptrace

import (
	"encoding/binary"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
	"kvsentry/platform"
)

// AddressSpace is a guest address space held by one stub process: a master
// thread traced by the stub server (stub_server.go) and one stub thread per
// tracer thread that has used the address space (running a guest thread, or
// parked for the tracer's next one: Context.Keep).
type AddressSpace struct {
	pid    int // host pid of the stub process
	pidfd  int
	master *stubThread // traced by the server; ptrace'd on the server thread only
	fpSize int

	// batchMu serialises MapFiles batches, which share the scratch page.
	batchMu sync.Mutex

	mu       sync.Mutex
	threads  map[int]*stubThread // stub threads keyed by their tracer's host tid
	spares   []int               // parked stub threads (cloneParked) no one traces yet
	released bool
}

var _ platform.AddressSpace = (*AddressSpace)(nil)

// Mapping is one MapFile request of a MapFiles batch.
type Mapping = platform.Mapping

// Pid is the host pid of the stub process (for diagnostics and tests).
func (as *AddressSpace) Pid() int { return as.pid }

// newAddressSpace wraps a ready stub and gives its first parked thread to
// the calling thread; the other waits for the next thread.
func newAddressSpace(r *readyStub, fpSize int) (*AddressSpace, error) {
	as := &AddressSpace{pid: r.pid, pidfd: r.pidfd, master: r.master, fpSize: fpSize,
		threads: map[int]*stubThread{}, spares: r.parked[1:]}
	if _, err := as.adopt(r.parked[0]); err != nil {
		as.Release()
		return nil, err
	}
	return as, nil
}

// threadFor returns the stub thread traced by host thread tid, the calling
// thread. On its first use of the address space the caller adopts a spare
// parked thread, and the server clones the next spare in the background
// (a server round trip crosses CPUs: ~200 us here, against ~30 us for
// adopting); without a spare it waits for the clone.
//
// The stub thread of a tracer thread outlives the guest thread it ran when
// the tracer goes on to another guest thread (Context.Keep): the next guest
// thread of this address space on the same tracer finds it here. One that
// died meanwhile (it exited; the wait that saw it reaped it) is replaced.
func (as *AddressSpace) threadFor(tid int) (*stubThread, error) {
	as.mu.Lock()
	t, released := as.threads[tid], as.released
	var gone *stubThread
	if t != nil && t.dead.Load() && !released {
		gone, t = t, nil
		delete(as.threads, tid)
	}
	spare := 0
	if t == nil && !released && len(as.spares) > 0 {
		spare = as.spares[len(as.spares)-1]
		as.spares = as.spares[:len(as.spares)-1]
	}
	as.mu.Unlock()
	if gone != nil {
		forget(gone)
	}
	if released {
		return nil, fmt.Errorf("ptrace: address space of stub %d was released", as.pid)
	}
	if t != nil {
		if t.dead.Load() {
			return nil, fmt.Errorf("ptrace: stub thread %d is dead", t.tid)
		}
		return t, nil
	}
	if spare != 0 {
		go as.addSpare()
		return as.adopt(spare)
	}
	var ntid int
	var err error
	theServer().do(func() { ntid, err = as.master.cloneParked() })
	if err != nil {
		return nil, err
	}
	return as.adopt(ntid)
}

// addSpare has the server clone one more parked thread for the next
// tracer thread.
func (as *AddressSpace) addSpare() {
	var tid int
	var err error
	theServer().do(func() { tid, err = as.master.cloneParked() })
	if err != nil {
		return // released meanwhile; a live stub logs nothing either way
	}
	as.mu.Lock()
	// After Release the thread dies with the stub (untraced: reaped by the kernel).
	if !as.released {
		as.spares = append(as.spares, tid)
	}
	as.mu.Unlock()
}

// adopt makes the calling thread the tracer of parked stub thread tid and
// records it.
func (as *AddressSpace) adopt(tid int) (*stubThread, error) {
	t, err := adoptThread(as.pid, tid, &as.master.base, as.fpSize)
	if err != nil {
		return nil, err
	}
	as.mu.Lock()
	if as.released {
		as.mu.Unlock()
		t.dead.Store(true)
		return nil, fmt.Errorf("ptrace: address space of stub %d was released", as.pid)
	}
	as.threads[t.tracer] = t
	as.mu.Unlock()
	remember(t, as)
	return t, nil
}

// dropThread ends stub thread t, called on its tracer thread (Context.Release).
func (as *AddressSpace) dropThread(t *stubThread) {
	as.mu.Lock()
	if as.threads[t.tracer] == t {
		delete(as.threads, t.tracer)
	}
	released := as.released
	as.mu.Unlock()
	if !released {
		t.exitThread()
	}
}

// callerThread returns the stub thread traced by the calling OS thread.
func (as *AddressSpace) callerThread() (*stubThread, error) {
	return as.threadFor(unix.Gettid())
}

// checkRange validates a page-aligned, non-empty range below MaxUserAddress,
// as mmap(2)/munmap(2) would with MAP_FIXED (EINVAL otherwise).
func checkRange(addr, length uint64) error {
	if addr%pageSize != 0 || length%pageSize != 0 || length == 0 ||
		addr+length < addr || addr+length > stubBase {
		return unix.EINVAL
	}
	return nil
}

// prot converts an access set to PROT_* bits.
func prot(a platform.AccessType) uintptr {
	var p uintptr
	if a&platform.Read != 0 {
		p |= unix.PROT_READ
	}
	if a&platform.Write != 0 {
		p |= unix.PROT_WRITE
	}
	if a&platform.Execute != 0 {
		p |= unix.PROT_EXEC
	}
	return p
}

// MapFile maps pool pages into the stub: mmap(addr, length, prot,
// MAP_SHARED|MAP_FIXED, pool, poolOffset) injected into the stub process.
func (as *AddressSpace) MapFile(addr, length, poolOffset uint64, perms platform.AccessType) error {
	if err := checkRange(addr, length); err != nil || poolOffset%pageSize != 0 {
		return unix.EINVAL
	}
	t, err := as.callerThread()
	if err != nil {
		return err
	}
	got, err := t.syscall(unix.SYS_MMAP, [6]uintptr{uintptr(addr), uintptr(length), prot(perms),
		mapFlags(perms), stubPoolFD, uintptr(poolOffset)})
	if err != nil {
		return err
	}
	if got != addr {
		return fmt.Errorf("ptrace: mmap in stub %d returned %#x, want %#x", as.pid, got, addr)
	}
	return nil
}

// Unmap removes the stub's mappings in [addr, addr+length) (munmap(2)).
func (as *AddressSpace) Unmap(addr, length uint64) error {
	if err := checkRange(addr, length); err != nil {
		return err
	}
	t, err := as.callerThread()
	if err != nil {
		return err
	}
	_, err = t.syscall(unix.SYS_MUNMAP, [6]uintptr{uintptr(addr), uintptr(length)})
	return err
}

// batchEntry is the size of one entry of the stub's batch loop:
// {nr, a0..a5, result}, eight quadwords.
const batchEntry = 64

// MapFiles performs several MapFile calls with one stop of the stub per 63
// mappings: the requests are written to the stub's scratch page
// (process_vm_writev(2)) and the stub's batch loop issues the mmaps. It stops
// at the first failure and returns its errno; earlier mappings stay.
func (as *AddressSpace) MapFiles(ms []Mapping) error {
	for _, m := range ms {
		if err := checkRange(m.Addr, m.Length); err != nil || m.PoolOffset%pageSize != 0 {
			return unix.EINVAL
		}
	}
	if len(ms) == 0 {
		return nil
	}
	t, err := as.callerThread()
	if err != nil {
		return err
	}
	as.batchMu.Lock()
	defer as.batchMu.Unlock()
	const perRound = pageSize/batchEntry - 1 // one entry left for the terminator
	var buf [pageSize]byte
	le := binary.LittleEndian
	for len(ms) > 0 {
		n := min(len(ms), perRound)
		for i, m := range ms[:n] {
			e := buf[i*batchEntry:]
			le.PutUint64(e[0:], unix.SYS_MMAP)
			le.PutUint64(e[8:], m.Addr)
			le.PutUint64(e[16:], m.Length)
			le.PutUint64(e[24:], uint64(prot(m.Perms)))
			le.PutUint64(e[32:], uint64(mapFlags(m.Perms)))
			le.PutUint64(e[40:], stubPoolFD)
			le.PutUint64(e[48:], m.PoolOffset)
			le.PutUint64(e[56:], 0)
		}
		le.PutUint64(buf[n*batchEntry:], 0) // terminator: nr 0
		if err := t.runBatch(buf[:n*batchEntry+8]); err != nil {
			return err
		}
		ms = ms[n:]
	}
	return nil
}

// runBatch copies a batch to the scratch page and runs the stub's loop.
func (t *stubThread) runBatch(b []byte) error {
	if t.dead.Load() {
		return fmt.Errorf("ptrace: stub %d is dead", t.tid)
	}
	if err := writeStubMemory(t.pid, stubScratch, b); err != nil {
		return fmt.Errorf("ptrace: writing a batch into stub %d: %w", t.pid, err)
	}
	t.inj = t.base
	t.inj.Rip = stubBase + offBatch
	t.inj.Rbx = stubScratch
	t.inj.Orig_rax = ^uint64(0)
	if err := setRegs(t.tid, &t.inj); err != nil {
		return fmt.Errorf("ptrace: PTRACE_SETREGS: %w", err)
	}
	rax, err := t.runUntilTrap(stubBase+offBatchDone+1, false)
	if err != nil {
		return err
	}
	if e := int64(rax); e < 0 && e >= -4095 {
		return unix.Errno(-e)
	}
	return nil
}

// Release kills the stub process (SIGKILL), every thread of it, and reaps
// them all (killStub). Any thread may call it; a Switch blocked on one of
// its threads returns an error. The address space must not be used
// afterwards.
func (as *AddressSpace) Release() {
	as.mu.Lock()
	if as.released {
		as.mu.Unlock()
		return
	}
	as.released = true
	threads := make([]*stubThread, 0, len(as.threads))
	for _, t := range as.threads {
		threads = append(threads, t)
	}
	as.mu.Unlock()
	for _, t := range threads {
		t.dead.Store(true)
		forget(t)
	}
	as.master.dead.Store(true)
	killStub(as.pid, as.pidfd)
}

// mapFlags are the mmap flags of a pool mapping: writable ones are
// populated at once (MAP_POPULATE) — the sentry maps writable pages when the
// guest is about to write them, and a host page fault per page costs far
// more, under nested virtualisation, than one populate call; read-only
// mappings (shared text, copy-on-write pages) are left to fault in.
func mapFlags(perms platform.AccessType) uintptr {
	f := uintptr(unix.MAP_SHARED | unix.MAP_FIXED)
	if perms&platform.Write != 0 {
		f |= unix.MAP_POPULATE
	}
	return f
}
