package kvm

import (
	"encoding/binary"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"kvsentry/platform"
)

// Guest layout used by the tests.
const (
	codeAddr = 0x400000 // pool page 0, r-x
	dataAddr = 0x600000 // pool page 1, rw-
	roAddr   = 0x601000 // pool page 2, r--
	poolSize = 64 * pageSize
)

type env struct {
	t    testing.TB
	p    *Platform
	as   *AddressSpace
	ctx  *Context
	pool []byte
}

// newPlatform builds the platform on a fresh pool, or skips the test with
// the reason KVM is unusable here.
func newPlatform(t testing.TB) (*Platform, []byte) {
	fd, err := unix.MemfdCreate("test-pool", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatalf("memfd_create: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Ftruncate(fd, poolSize); err != nil {
		t.Fatalf("ftruncate: %v", err)
	}
	pool, err := unix.Mmap(fd, 0, poolSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatalf("mmap pool: %v", err)
	}
	t.Cleanup(func() { unix.Munmap(pool) })
	p, err := New(platform.Options{PoolFD: fd})
	if err != nil {
		t.Skipf("KVM is not usable here: %v", err)
	}
	t.Cleanup(p.close)
	return p, pool
}

func newEnv(t testing.TB) *env {
	p, pool := newPlatform(t)
	as, err := p.NewAddressSpace()
	if err != nil {
		t.Fatalf("NewAddressSpace: %v", err)
	}
	t.Cleanup(as.Release)
	ctx, err := p.NewContext()
	if err != nil {
		t.Fatalf("NewContext: %v", err)
	}
	e := &env{t: t, p: p, as: as.(*AddressSpace), ctx: ctx.(*Context), pool: pool}
	e.mustMap(codeAddr, 0, platform.Read|platform.Execute)
	e.mustMap(dataAddr, 1, platform.ReadWrite)
	e.mustMap(roAddr, 2, platform.Read)
	return e
}

func (e *env) mustMap(addr uint64, poolPage int, perms platform.AccessType) {
	e.t.Helper()
	if err := e.as.MapFile(addr, pageSize, uint64(poolPage)*pageSize, perms); err != nil {
		e.t.Fatalf("MapFile(%#x): %v", addr, err)
	}
}

// regsAt returns fresh guest registers with rip at code, which is copied to
// the start of the code page.
func (e *env) regsAt(code []byte) *platform.Registers {
	copy(e.pool[:pageSize], code)
	r := &platform.Registers{FPState: e.p.InitialFPState()}
	r.Rip = codeAddr
	r.Rsp = dataAddr + pageSize
	r.Cs, r.Ss, r.Eflags = 0x33, 0x2b, 0x202
	return r
}

func (e *env) switchTo(r *platform.Registers) platform.Event {
	e.t.Helper()
	ev, err := e.ctx.Switch(e.as, r)
	if err != nil {
		e.t.Fatalf("Switch: %v", err)
	}
	return ev
}

func TestSyscallThenFault(t *testing.T) {
	e := newEnv(t)
	r := e.regsAt(codeSyscallThenFault)
	r.R12, r.R15 = 0x1212, 0x1515
	ev := e.switchTo(r)
	if ev.Kind != platform.EventSyscall || r.Orig_rax != 39 {
		t.Fatalf("event %+v orig_rax %d, want syscall 39", ev, r.Orig_rax)
	}
	if r.Rip != codeAddr+7 || r.Rcx != codeAddr+7 || r.Rsp != dataAddr+pageSize || r.R12 != 0x1212 || r.R15 != 0x1515 {
		t.Errorf("after syscall: rip %#x rcx %#x rsp %#x r12 %#x r15 %#x", r.Rip, r.Rcx, r.Rsp, r.R12, r.R15)
	}
	r.Rax = 0x1234
	ev = e.switchTo(r)
	if ev.Kind != platform.EventFault || ev.Addr != 0x5000000 || ev.Code != segvMapErr || ev.Access != platform.Write {
		t.Fatalf("event %+v, want write fault at 0x5000000 SEGV_MAPERR", ev)
	}
	if r.Rbx != 0x1234 || r.Rip != codeAddr+0x14 {
		t.Errorf("guest saw rax %#x, fault rip %#x", r.Rbx, r.Rip)
	}
	e.mustMap(0x5000000, 3, platform.ReadWrite)
	ev = e.switchTo(r)
	if got := binary.LittleEndian.Uint64(e.pool[3*pageSize:]); got != 0x1234 {
		t.Errorf("store after mapping wrote %#x, want 0x1234 (event %+v)", got, ev)
	}
}

func TestHardwareEvents(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name   string
		code   []byte
		kind   platform.EventKind
		sig    unix.Signal
		code2  int32
		addr   uint64
		access platform.AccessType
	}{
		{"store to read-only page", codeStoreReadOnly, platform.EventFault, unix.SIGSEGV, segvAccErr, roAddr, platform.Write},
		{"ud2", codeUD2, platform.EventSignal, unix.SIGILL, illIllOpn, codeAddr, 0},
		{"int3", codeInt3, platform.EventSignal, unix.SIGTRAP, siKernel, 0, 0},
		{"divide by zero", codeDivZero, platform.EventSignal, unix.SIGFPE, fpeIntDiv, codeAddr + 9, 0},
		{"load from unmapped", codeLoadData[:0], platform.EventFault, unix.SIGSEGV, segvMapErr, 0x10000000, platform.Read},
		{"out from ring 3", []byte{0xe6, 0xe9}, platform.EventSignal, unix.SIGSEGV, siKernel, 0, 0},
	}
	for _, c := range cases {
		r := e.regsAt(c.code)
		if c.name == "load from unmapped" {
			r = e.regsAt(codeLoadData)
			binary.LittleEndian.PutUint64(e.pool[2:], 0x10000000)
		}
		ev := e.switchTo(r)
		if ev.Kind != c.kind || ev.Signo != int32(c.sig) || ev.Code != c.code2 || ev.Addr != c.addr || ev.Access != c.access {
			t.Errorf("%s: event %+v, want kind %v signo %d code %d addr %#x access %v", c.name, ev, c.kind, c.sig, c.code2, c.addr, c.access)
		}
	}
	r := e.regsAt(nil)
	r.Rip = dataAddr
	if ev := e.switchTo(r); ev.Kind != platform.EventFault || ev.Addr != dataAddr || ev.Code != segvAccErr || ev.Access != platform.Execute {
		t.Errorf("exec of rw- page: event %+v", ev)
	}
	// The platform's own pages are out of reach.
	r = e.regsAt(codeLoadData)
	binary.LittleEndian.PutUint64(e.pool[2:], kernBase+privBlocks+blkData)
	if ev := e.switchTo(r); ev.Kind != platform.EventFault || ev.Addr != kernBase+privBlocks+blkData {
		t.Errorf("load from the stub's data page: event %+v", ev)
	}
}

func TestFSBase(t *testing.T) {
	e := newEnv(t)
	binary.LittleEndian.PutUint64(e.pool[pageSize+0x80:], 0xfeedface12345678)
	r := e.regsAt(codeReadFS)
	r.Fs_base = dataAddr + 0x80
	ev := e.switchTo(r)
	if ev.Kind != platform.EventSyscall || r.Rdi != 0xfeedface12345678 {
		t.Fatalf("event %+v, rdi %#x: %%fs:0 not read through fs_base", ev, r.Rdi)
	}
	if r.Fs_base != dataAddr+0x80 {
		t.Errorf("fs_base came back as %#x", r.Fs_base)
	}
}

func TestXMMSurvivesSyscall(t *testing.T) {
	e := newEnv(t)
	r := e.regsAt(codeXMM)
	const xmm0, xmm2 = 160, 160 + 2*16 // FXSAVE layout
	binary.LittleEndian.PutUint64(r.FPState[xmm0:], 0x1122334455667788)
	if ev := e.switchTo(r); ev.Kind != platform.EventSyscall || r.Rdi != 0x1122334455667788 {
		t.Fatalf("event %+v: guest read xmm0 = %#x", ev, r.Rdi)
	}
	if got := binary.LittleEndian.Uint64(r.FPState[xmm0:]); got != 0x1122334455667788 {
		t.Errorf("xmm0 after the syscall = %#x", got)
	}
	r.Rsi = 0xcafe0000beef
	if ev := e.switchTo(r); ev.Kind != platform.EventSyscall {
		t.Fatalf("event %+v", ev)
	}
	if got := binary.LittleEndian.Uint64(r.FPState[xmm2:]); got != 0xcafe0000beef {
		t.Errorf("xmm2 set by the guest came back as %#x", got)
	}
	if xcr0 := binary.LittleEndian.Uint64(r.FPState[464:]); xcr0 != 3 {
		t.Errorf("XCR0 in the sw bytes = %#x", xcr0)
	}
}

func TestInitialFPState(t *testing.T) {
	p, _ := newPlatform(t)
	fp := p.InitialFPState()
	if len(fp) != p.FPStateSize() || len(fp) != 576 {
		t.Fatalf("len %d, FPStateSize %d", len(fp), p.FPStateSize())
	}
	if fcw := binary.LittleEndian.Uint16(fp[0:]); fcw != 0x37f {
		t.Errorf("FCW = %#x", fcw)
	}
	if mxcsr := binary.LittleEndian.Uint32(fp[24:]); mxcsr != 0x1f80 {
		t.Errorf("MXCSR = %#x", mxcsr)
	}
	if mask := binary.LittleEndian.Uint32(fp[28:]); mask == 0 {
		t.Errorf("MXCSR_MASK is 0")
	}
	if bv := binary.LittleEndian.Uint64(fp[512:]); bv&3 != 3 {
		t.Errorf("XSTATE_BV = %#x, want x87|SSE set", bv)
	}
	fp[0] = 0
	if p.InitialFPState()[0] != 0x7f {
		t.Errorf("InitialFPState returns shared storage")
	}
}

func TestUnmapFaultsAgain(t *testing.T) {
	e := newEnv(t)
	binary.LittleEndian.PutUint64(e.pool[pageSize:], 42)
	r := e.regsAt(codeLoadData)
	if ev := e.switchTo(r); ev.Kind != platform.EventSyscall || r.Rdi != 42 {
		t.Fatalf("event %+v rdi %d, want syscall with 42", ev, r.Rdi)
	}
	// Redirect the page: the guest must see the new one, not a stale TLB
	// or shadow entry.
	binary.LittleEndian.PutUint64(e.pool[5*pageSize:], 43)
	e.mustMap(dataAddr, 5, platform.ReadWrite)
	r = e.regsAt(codeLoadData)
	if ev := e.switchTo(r); ev.Kind != platform.EventSyscall || r.Rdi != 43 {
		t.Fatalf("after remap: event %+v rdi %d, want 43", ev, r.Rdi)
	}
	if err := e.as.Unmap(dataAddr, pageSize); err != nil {
		t.Fatal(err)
	}
	r = e.regsAt(codeLoadData)
	if ev := e.switchTo(r); ev.Kind != platform.EventFault || ev.Addr != dataAddr || ev.Code != segvMapErr {
		t.Fatalf("after Unmap: event %+v", ev)
	}
	// Downgrade to read-only: a store faults with SEGV_ACCERR.
	e.mustMap(0x5000000, 3, platform.ReadWrite)
	r = e.regsAt(codeSyscallThenFault)
	e.switchTo(r)
	r.Rax = 7
	e.switchTo(r)
	if got := binary.LittleEndian.Uint64(e.pool[3*pageSize:]); got != 7 {
		t.Fatalf("store to rw page wrote %d", got)
	}
	e.mustMap(0x5000000, 3, platform.Read)
	r = e.regsAt(codeSyscallThenFault)
	e.switchTo(r)
	r.Rax = 8
	if ev := e.switchTo(r); ev.Kind != platform.EventFault || ev.Code != segvAccErr || ev.Addr != 0x5000000 {
		t.Fatalf("store after downgrade: %+v", ev)
	}
}

func TestReleaseAndReuse(t *testing.T) {
	e := newEnv(t)
	binary.LittleEndian.PutUint64(e.pool[pageSize:], 42)
	for i := 0; i < 20; i++ {
		as, err := e.p.NewAddressSpace()
		if err != nil {
			t.Fatal(err)
		}
		if err := as.MapFile(codeAddr, pageSize, 0, platform.Read|platform.Execute); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if err := as.MapFile(dataAddr, pageSize, pageSize, platform.Read); err != nil {
				t.Fatal(err)
			}
		}
		r := e.regsAt(codeLoadData)
		ev, err := e.ctx.Switch(as, r)
		if err != nil {
			t.Fatal(err)
		}
		// Odd rounds never mapped dataAddr: a reused table must not show
		// the previous address space's page.
		if i%2 == 0 && (ev.Kind != platform.EventSyscall || r.Rdi != 42) || i%2 == 1 && ev.Kind != platform.EventFault {
			t.Fatalf("round %d: event %+v rdi %d", i, ev, r.Rdi)
		}
		as.Release()
	}
	if _, err := e.ctx.Switch(e.as, e.regsAt(codeGetpidLoop)); err != nil {
		t.Fatal(err)
	}
}

func TestBadArguments(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ addr, length, off uint64 }{
		{0x1001, pageSize, 0}, {0x1000, 10, 0}, {0x1000, 0, 0}, {0x1000, pageSize, 5},
		{maxUserAddress, pageSize, 0}, {maxUserAddress - pageSize, 2 * pageSize, 0}, {^uint64(0) &^ 0xfff, 2 * pageSize, 0},
		{0x1000, pageSize, poolSize},
	} {
		if err := e.as.MapFile(c.addr, c.length, c.off, platform.Read); err != unix.EINVAL {
			t.Errorf("MapFile(%#x, %#x, %#x) = %v, want EINVAL", c.addr, c.length, c.off, err)
		}
	}
	if err := e.as.Unmap(maxUserAddress, pageSize); err != unix.EINVAL {
		t.Errorf("Unmap above MaxUserAddress = %v, want EINVAL", err)
	}
	r := e.regsAt(codeSpin)
	r.FPState = r.FPState[:10]
	if _, err := e.ctx.Switch(e.as, r); !errors.Is(err, unix.EINVAL) {
		t.Errorf("Switch with a short FPState = %v, want EINVAL", err)
	}
	if e.p.MaxUserAddress() != 0x7ffffffff000 {
		t.Errorf("MaxUserAddress = %#x", e.p.MaxUserAddress())
	}
}

func TestInterrupt(t *testing.T) {
	e := newEnv(t)
	r := e.regsAt(codeSpin)
	go func() {
		time.Sleep(50 * time.Millisecond)
		e.ctx.Interrupt()
	}()
	start := time.Now()
	ev := e.switchTo(r)
	if ev.Kind != platform.EventInterrupt {
		t.Fatalf("event %+v, want interrupt", ev)
	}
	if r.Rip != codeAddr {
		t.Errorf("rip = %#x, want the loop at %#x", r.Rip, codeAddr)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("interrupt took %v", d)
	}
	e.ctx.Interrupt()
	if ev := e.switchTo(r); ev.Kind != platform.EventInterrupt {
		t.Errorf("pre-armed interrupt: event %+v", ev)
	}
	r = e.regsAt(codeGetpidLoop)
	for i := 0; i < 3; i++ {
		if ev := e.switchTo(r); ev.Kind != platform.EventSyscall && ev.Kind != platform.EventInterrupt {
			t.Fatalf("event %+v after interrupts", ev)
		}
	}
}

// TestParallelVCPUs runs more guest threads than vCPUs, each spinning in
// the guest between getpid calls, on locked OS threads.
func TestParallelVCPUs(t *testing.T) {
	e := newEnv(t)
	copy(e.pool[:pageSize], codeGetpidLoop)
	const threads, calls = 4, 200
	var wg sync.WaitGroup
	errs := make(chan error, threads)
	for i := 0; i < threads; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			ctx, _ := e.p.NewContext()
			defer ctx.Release()
			r := &platform.Registers{FPState: e.p.InitialFPState()}
			r.Rip, r.Rsp, r.Eflags = codeAddr, dataAddr+pageSize, 0x202
			for n := 0; n < calls; {
				ev, err := ctx.Switch(e.as, r)
				if err != nil {
					errs <- err
					return
				}
				if ev.Kind == platform.EventSyscall {
					n++
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(e.p.vm.vcpus) < min(2, runtime.NumCPU()) {
		t.Errorf("%d vCPUs used", len(e.p.vm.vcpus))
	}
}

func TestRegistered(t *testing.T) {
	found := false
	for _, n := range platform.Names() {
		found = found || n == "kvm"
	}
	if !found {
		t.Errorf("kvm not registered: %v", platform.Names())
	}
}
