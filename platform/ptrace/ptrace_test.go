package ptrace

import (
	"encoding/binary"
	"errors"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"kvsentry/platform"
)

func TestMain(m *testing.M) {
	// As the sentry does: no Go signal handler on every ptrace stop, and
	// exited stubs are reaped by the kernel.
	signal.Ignore(syscall.SIGCHLD)
	os.Exit(m.Run())
}

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

// newEnv locks the test goroutine to its thread (never unlocked: the thread,
// pinned to a CPU, exits with the goroutine), creates a pool memfd, the
// platform, an address space with code/data/read-only pages and a context.
func newEnv(t testing.TB) *env {
	runtime.LockOSThread()
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
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		t.Skipf("ptrace not permitted here: %v", err)
	}
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(p.close) // before the pool fd is closed
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

func TestStubAddressSpaceIsEmpty(t *testing.T) {
	e := newEnv(t)
	b, err := os.ReadFile("/proc/" + itoa(e.as.Pid()) + "/maps")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(f[0], "7fffffffd000-7fffffffe000"),
			strings.HasPrefix(f[0], "7fffffffe000-7ffffffff000"),
			strings.HasSuffix(line, "[vsyscall]"),
			strings.HasPrefix(f[0], "00400000-"), strings.HasPrefix(f[0], "00600000-"),
			strings.HasPrefix(f[0], "00601000-"):
		default:
			t.Errorf("unexpected mapping in the stub: %s", line)
		}
	}
	if got := e.p.MaxUserAddress(); got != 0x7fffffffd000 {
		t.Errorf("MaxUserAddress = %#x", got)
	}
}

func TestSyscallThenFault(t *testing.T) {
	e := newEnv(t)
	r := e.regsAt(codeSyscallThenFault)
	ev := e.switchTo(r)
	if ev.Kind != platform.EventSyscall || r.Orig_rax != 39 {
		t.Fatalf("event %+v orig_rax %d, want syscall 39", ev, r.Orig_rax)
	}
	if r.Rip != codeAddr+7 {
		t.Errorf("rip after syscall = %#x, want %#x", r.Rip, codeAddr+7)
	}
	r.Rax = 0x1234
	ev = e.switchTo(r)
	if ev.Kind != platform.EventFault || ev.Addr != 0x5000000 || ev.Code != segvMapErr || ev.Signo != int32(unix.SIGSEGV) {
		t.Fatalf("event %+v, want fault at 0x5000000 SEGV_MAPERR", ev)
	}
	if r.Rbx != 0x1234 {
		t.Errorf("guest saw rax %#x, want 0x1234", r.Rbx)
	}
	if r.Rip != codeAddr+0x14 {
		t.Errorf("fault rip = %#x, want %#x", r.Rip, codeAddr+0x14)
	}
	// The fault is not delivered: mapping the page and switching again
	// retries the store, which now succeeds and runs into the zeroed page.
	e.mustMap(0x5000000, 3, platform.ReadWrite)
	ev = e.switchTo(r)
	if got := binary.LittleEndian.Uint64(e.pool[3*pageSize:]); got != 0x1234 {
		t.Errorf("store after mapping wrote %#x, want 0x1234 (event %+v)", got, ev)
	}
}

func TestHardwareEvents(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name  string
		code  []byte
		kind  platform.EventKind
		sig   unix.Signal
		code2 int32
		addr  uint64
	}{
		{"store to read-only page", codeStoreReadOnly, platform.EventFault, unix.SIGSEGV, segvAccErr, roAddr},
		{"ud2", codeUD2, platform.EventSignal, unix.SIGILL, 2 /* ILL_ILLOPN */, codeAddr},
		{"int3", codeInt3, platform.EventSignal, unix.SIGTRAP, 0x80 /* SI_KERNEL */, 0},
		{"divide by zero", codeDivZero, platform.EventSignal, unix.SIGFPE, 1 /* FPE_INTDIV */, codeAddr + 9},
	}
	for _, c := range cases {
		r := e.regsAt(c.code)
		ev := e.switchTo(r)
		if ev.Kind != c.kind || ev.Signo != int32(c.sig) || ev.Code != c.code2 || ev.Addr != c.addr {
			t.Errorf("%s: event %+v, want kind %v signo %d code %d addr %#x", c.name, ev, c.kind, c.sig, c.code2, c.addr)
		}
	}
	// Execute from a non-executable page: SEGV_ACCERR at rip.
	r := e.regsAt(nil)
	r.Rip = dataAddr
	if ev := e.switchTo(r); ev.Kind != platform.EventFault || ev.Addr != dataAddr || ev.Code != segvAccErr {
		t.Errorf("exec of rw- page: event %+v", ev)
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
	if !r.FPStale {
		t.Errorf("FP state read back eagerly: FPStale not set")
	}
	if err := e.ctx.SyncFP(r); err != nil || r.FPStale {
		t.Fatalf("SyncFP: %v (stale %v)", err, r.FPStale)
	}
	if got := binary.LittleEndian.Uint64(r.FPState[xmm0:]); got != 0x1122334455667788 {
		t.Errorf("xmm0 after the syscall = %#x", got)
	}
	r.Rsi = 0xcafe0000beef
	if ev := e.switchTo(r); ev.Kind != platform.EventSyscall {
		t.Fatalf("event %+v", ev)
	}
	if err := e.ctx.SyncFP(r); err != nil {
		t.Fatal(err)
	}
	if got := binary.LittleEndian.Uint64(r.FPState[xmm2:]); got != 0xcafe0000beef {
		t.Errorf("xmm2 set by the guest came back as %#x", got)
	}
}

func TestInitialFPState(t *testing.T) {
	e := newEnv(t)
	fp := e.p.InitialFPState()
	if len(fp) != e.p.FPStateSize() || len(fp) < 576 {
		t.Fatalf("len %d, FPStateSize %d", len(fp), e.p.FPStateSize())
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
	if e.p.InitialFPState()[0] != 0x7f {
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
	if err := e.as.Unmap(dataAddr, pageSize); err != nil {
		t.Fatal(err)
	}
	r = e.regsAt(codeLoadData)
	if ev := e.switchTo(r); ev.Kind != platform.EventFault || ev.Addr != dataAddr || ev.Code != segvMapErr {
		t.Fatalf("after Unmap: event %+v", ev)
	}
}

func TestMapFilesBatch(t *testing.T) {
	e := newEnv(t)
	var ms []Mapping
	for i := 0; i < 70; i++ { // two rounds of the batch loop
		ms = append(ms, Mapping{Addr: 0x10000000 + uint64(i)*pageSize, Length: pageSize,
			PoolOffset: uint64(4+i%8) * pageSize, Perms: platform.Read})
	}
	if err := e.as.MapFiles(ms); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile("/proc/" + itoa(e.as.Pid()) + "/maps")
	if !strings.Contains(string(b), "10000000-10008000 r--s 00004000") || !strings.Contains(string(b), "10040000-10046000 r--s 00004000") {
		t.Errorf("batch mappings missing:\n%s", b)
	}
	binary.LittleEndian.PutUint64(e.pool[(4+69%8)*pageSize:], 77)
	r := e.regsAt(codeLoadData)
	binary.LittleEndian.PutUint64(e.pool[2:], 0x10045000) // movabs $0x10045000,%rcx
	if ev := e.switchTo(r); ev.Kind != platform.EventSyscall || r.Rdi != 77 {
		t.Errorf("read through batch mapping: event %+v rdi %d", ev, r.Rdi)
	}
	// The loop stops at the first failing mmap and reports its errno: an
	// offset at the end of the largest file size is EOVERFLOW (mmap(2)).
	err := e.as.MapFiles([]Mapping{
		{Addr: 0x20000000, Length: pageSize, PoolOffset: 0, Perms: platform.Read},
		{Addr: 0x20001000, Length: pageSize, PoolOffset: 1<<63 - pageSize, Perms: platform.Read},
		{Addr: 0x20002000, Length: pageSize, PoolOffset: 0, Perms: platform.Read},
	})
	if err != unix.EOVERFLOW {
		t.Errorf("MapFiles with a bad offset = %v, want EOVERFLOW", err)
	}
	b, _ = os.ReadFile("/proc/" + itoa(e.as.Pid()) + "/maps")
	if !strings.Contains(string(b), "20000000-20001000") || strings.Contains(string(b), "20002000-") {
		t.Errorf("batch did not stop at the failing entry:\n%s", b)
	}
}

func TestBadArguments(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ addr, length, off uint64 }{
		{0x1001, pageSize, 0}, {0x1000, 10, 0}, {0x1000, 0, 0}, {0x1000, pageSize, 5},
		{stubBase, pageSize, 0}, {stubBase - pageSize, 2 * pageSize, 0}, {^uint64(0) &^ 0xfff, 2 * pageSize, 0},
	} {
		if err := e.as.MapFile(c.addr, c.length, c.off, platform.Read); err != unix.EINVAL {
			t.Errorf("MapFile(%#x, %#x, %#x) = %v, want EINVAL", c.addr, c.length, c.off, err)
		}
	}
	if err := e.as.Unmap(stubBase, pageSize); err != unix.EINVAL {
		t.Errorf("Unmap of the stub page = %v, want EINVAL", err)
	}
	r := e.regsAt(codeSpin)
	r.FPState = r.FPState[:10]
	if _, err := e.ctx.Switch(e.as, r); !errors.Is(err, unix.EINVAL) {
		t.Errorf("Switch with a short FPState = %v, want EINVAL", err)
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
	// Interrupt before Switch: the next Switch returns at once.
	e.ctx.Interrupt()
	if ev := e.switchTo(r); ev.Kind != platform.EventInterrupt {
		t.Errorf("pre-armed interrupt: event %+v", ev)
	}
	// The guest still runs normally afterwards.
	r = e.regsAt(codeGetpidLoop)
	for i := 0; i < 3; i++ {
		if ev := e.switchTo(r); ev.Kind != platform.EventSyscall && ev.Kind != platform.EventInterrupt {
			t.Fatalf("event %+v after interrupts", ev)
		}
	}
}

func TestReleaseLeavesNoProcess(t *testing.T) {
	e := newEnv(t)
	pid := e.as.Pid()
	if _, err := os.Stat("/proc/" + itoa(pid)); err != nil {
		t.Fatalf("stub not running: %v", err)
	}
	done := make(chan struct{})
	go func() { e.as.Release(); close(done) }() // from another thread
	<-done
	if _, err := os.Stat("/proc/" + itoa(pid)); !os.IsNotExist(err) {
		t.Errorf("/proc/%d still exists after Release (err %v)", pid, err)
	}
	if _, err := e.ctx.Switch(e.as, e.regsAt(codeSpin)); err == nil {
		t.Errorf("Switch into a released address space succeeded")
	}
}

func TestRegistered(t *testing.T) {
	found := false
	for _, n := range platform.Names() {
		found = found || n == "ptrace"
	}
	if !found {
		t.Errorf("ptrace not registered: %v", platform.Names())
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
