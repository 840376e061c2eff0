package mm

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"kvsentry/platform"
)

const testMax = 1 << 47

func newTestMM(t *testing.T) (*MM, *fakeAS, *Pool) {
	t.Helper()
	pool := newTestPool(t, 16<<20)
	m := New(pool, testMax-PageSize)
	as := newFakeAS()
	m.SetAddressSpace(as)
	return m, as, pool
}

func mustMmap(t *testing.T, m *MM, o MmapOpts) uint64 {
	t.Helper()
	a, err := m.Mmap(o)
	if err != nil {
		t.Fatalf("Mmap(%+v): %v", o, err)
	}
	return a
}

func anonOpts(addr, length uint64, perms platform.AccessType) MmapOpts {
	return MmapOpts{Addr: addr, Length: length, Perms: perms, Private: true, Fixed: addr != 0}
}

func wantFault(t *testing.T, err error, signo, code int32) {
	t.Helper()
	var fe *FaultError
	if !errors.As(err, &fe) || fe.Signo != signo || fe.Code != code {
		t.Fatalf("fault = %v, want signal %d code %d", err, signo, code)
	}
}

func TestFaultPopulatesWindow(t *testing.T) {
	m, as, _ := newTestMM(t)
	base := uint64(0x400000)
	mustMmap(t, m, anonOpts(base, 40*PageSize, platform.ReadWrite))
	if err := m.HandleFault(base+5*PageSize+123, platform.Write); err != nil {
		t.Fatal(err)
	}
	if len(as.maps) != 1 || as.maps[0] != (mapCall{base, 16 * PageSize, as.maps[0].off, platform.ReadWrite}) {
		t.Fatalf("map calls %+v, want one 16-page window at %#x", as.maps, base)
	}
	if m.RSS() != 16*PageSize {
		t.Fatalf("RSS %d", m.RSS())
	}
	// A fault in the last window is clipped to the area (pages 32..39).
	if err := m.HandleFault(base+35*PageSize, platform.Read); err != nil {
		t.Fatal(err)
	}
	if c := as.maps[1]; c.addr != base+32*PageSize || c.length != 8*PageSize {
		t.Fatalf("clipped window %+v", c)
	}
	// Keep only page 20 of the middle window, then fault at 17: the run
	// stops before 20.
	if _, err := m.CopyOut(base+20*PageSize, []byte{1}); err != nil {
		t.Fatal(err)
	}
	m.Madvise(base+16*PageSize, 4*PageSize, 4)
	m.Madvise(base+21*PageSize, 11*PageSize, 4)
	n := len(as.maps)
	if err := m.HandleFault(base+17*PageSize, platform.Read); err != nil {
		t.Fatal(err)
	}
	// The run stops before page 20; page 20 itself, populated by CopyOut but
	// never mapped, is mapped in the same step (one batch).
	var mapped uint64
	for _, c := range as.maps[n:] {
		if c.addr < base+16*PageSize || c.addr+c.length > base+21*PageSize {
			t.Fatalf("mapping outside pages 16..20: %+v", c)
		}
		mapped += c.length
	}
	if as.maps[n].addr != base+16*PageSize || mapped != 5*PageSize {
		t.Fatalf("run around populated page: %+v", as.maps[n:])
	}
	checkInvariants(t, m)
}

func TestFaultErrors(t *testing.T) {
	m, _, _ := newTestMM(t)
	ro := mustMmap(t, m, anonOpts(0x500000, PageSize, platform.Read))
	none := mustMmap(t, m, anonOpts(0x600000, PageSize, platform.NoAccess))
	wantFault(t, m.HandleFault(0x700000, platform.Read), int32(unix.SIGSEGV), segvMapErr)
	wantFault(t, m.HandleFault(ro, platform.Write), int32(unix.SIGSEGV), segvAccErr)
	wantFault(t, m.HandleFault(none, platform.NoAccess), int32(unix.SIGSEGV), segvAccErr)
	// ptrace style: first fault maps it, a second unexplained one is ACCERR.
	if err := m.HandleFault(ro, platform.NoAccess); err != nil {
		t.Fatal(err)
	}
	wantFault(t, m.HandleFault(ro, platform.NoAccess), int32(unix.SIGSEGV), segvAccErr)
}

func TestForkCOW(t *testing.T) {
	withCOWFork(t)
	m, as, pool := newTestMM(t)
	free0 := pool.FreePages()
	a := mustMmap(t, m, anonOpts(0x400000, 4*PageSize, platform.ReadWrite))
	if _, err := m.CopyOut(a, []byte("parent")); err != nil {
		t.Fatal(err)
	}
	if err := m.HandleFault(a, platform.Write); err != nil && as.pages[a].perms != platform.ReadWrite {
		t.Fatal(err)
	}
	if as.pages[a].perms != platform.ReadWrite {
		t.Fatalf("page not mapped writable before fork: %+v", as.pages[a])
	}
	c, err := m.Fork()
	if err != nil {
		t.Fatal(err)
	}
	if c.AddressSpace() != nil {
		t.Fatal("child has an address space")
	}
	if as.pages[a].perms != platform.Read {
		t.Fatalf("parent mapping not downgraded: %+v", as.pages[a])
	}
	cas := newFakeAS()
	c.SetAddressSpace(cas)
	if _, err := c.CopyOut(a, []byte("child!")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	m.CopyIn(a, buf)
	if string(buf) != "parent" {
		t.Fatalf("parent sees %q after child write", buf)
	}
	// Parent write fault (ptrace: access unknown) on its read-only COW page.
	if err := m.HandleFault(a, platform.NoAccess); err != nil {
		t.Fatal(err)
	}
	if as.pages[a].perms != platform.ReadWrite {
		t.Fatalf("COW not broken in parent: %+v", as.pages[a])
	}
	if _, err := m.CopyOut(a, []byte("PARENT")); err != nil {
		t.Fatal(err)
	}
	c.CopyIn(a, buf)
	if string(buf) != "child!" {
		t.Fatalf("child sees %q after parent write", buf)
	}
	// Untouched page 1 is shared COW; reading it in the child maps it read-only.
	if err := c.HandleFault(a+PageSize, platform.Read); err != nil {
		t.Fatal(err)
	}
	if cas.pages[a+PageSize].perms != platform.Read || cas.pages[a+PageSize].off != as.pages[a+PageSize].off {
		t.Fatalf("child mapping of shared page: %+v (parent %+v)", cas.pages[a+PageSize], as.pages[a+PageSize])
	}
	checkInvariants(t, m)
	checkInvariants(t, c)
	c.Release()
	m.Release()
	if cas.release != 1 || as.release != 1 {
		t.Fatal("Release did not release the address spaces")
	}
	if pool.FreePages() != free0 {
		t.Fatalf("leaked pages: %d free, want %d", pool.FreePages(), free0)
	}
}

func TestSharedAnonAcrossFork(t *testing.T) {
	m, _, pool := newTestMM(t)
	free0 := pool.FreePages()
	a := mustMmap(t, m, MmapOpts{Length: 2 * PageSize, Perms: platform.ReadWrite})
	m.CopyOut(a, []byte("one"))
	c, _ := m.Fork()
	c.SetAddressSpace(newFakeAS())
	c.CopyOut(a+1, []byte("XY"))
	buf := make([]byte, 3)
	m.CopyIn(a, buf)
	if string(buf) != "oXY" {
		t.Fatalf("parent sees %q, want child's write", buf)
	}
	if !strings.Contains(string(m.Maps()), "rw-s 00000000 00:01") {
		t.Fatalf("maps: %s", m.Maps())
	}
	m.Release()
	c.CopyIn(a, buf)
	if string(buf) != "oXY" {
		t.Fatal("shared memory lost when one user exited")
	}
	c.Release()
	if pool.FreePages() != free0 {
		t.Fatalf("leaked pages: %d free, want %d", pool.FreePages(), free0)
	}
}

func TestMadviseDontneed(t *testing.T) {
	m, as, _ := newTestMM(t)
	a := mustMmap(t, m, anonOpts(0x400000, 2*PageSize, platform.ReadWrite))
	m.CopyOut(a, []byte("data"))
	m.HandleFault(a, platform.Read)
	if err := m.Madvise(a, 2*PageSize, 4 /* MADV_DONTNEED */); err != nil {
		t.Fatal(err)
	}
	if _, ok := as.pages[a]; ok {
		t.Fatal("page still mapped in the platform")
	}
	buf := make([]byte, 4)
	m.CopyIn(a, buf)
	if !bytes.Equal(buf, make([]byte, 4)) {
		t.Fatalf("read %q after MADV_DONTNEED, want zeroes", buf)
	}
	if err := m.Madvise(a, PageSize, 12345); err != unix.EINVAL {
		t.Fatalf("unknown advice: %v", err)
	}
	if err := m.Madvise(a, 4*PageSize, 4); err != unix.ENOMEM {
		t.Fatalf("advice over a hole: %v", err)
	}
}

func TestPrivateFileMapping(t *testing.T) {
	m, _, _ := newTestMM(t)
	data := bytes.Repeat([]byte("0123456789"), 700) // 7000 bytes: 2 pages
	f := &memFile{data: data}
	a := mustMmap(t, m, MmapOpts{Length: 3 * PageSize, Perms: platform.ReadWrite, Private: true, File: f, Name: "/f", Dev: unix.Mkdev(8, 1), Ino: 77})
	buf := make([]byte, 2*PageSize)
	if n, err := m.CopyIn(a, buf); err != nil || n != len(buf) {
		t.Fatalf("CopyIn: %d %v", n, err)
	}
	if !bytes.Equal(buf[:7000], data) || !bytes.Equal(buf[7000:], make([]byte, 2*PageSize-7000)) {
		t.Fatal("file contents or zero tail wrong")
	}
	wantFault(t, m.HandleFault(a+2*PageSize, platform.Read), int32(unix.SIGBUS), busAdrErr)
	if n, err := m.CopyIn(a+2*PageSize-10, make([]byte, 20)); err != unix.EFAULT || n != 10 {
		t.Fatalf("CopyIn across EOF page: %d %v", n, err)
	}
	// Private writes are private; MADV_DONTNEED re-reads the file.
	m.CopyOut(a, []byte("XXXX"))
	if f.data[0] != '0' {
		t.Fatal("private write reached the file")
	}
	m.Madvise(a, PageSize, 4)
	m.CopyIn(a, buf[:4])
	if string(buf[:4]) != "0123" {
		t.Fatalf("after DONTNEED read %q", buf[:4])
	}
	if !strings.Contains(string(m.Maps()), "rw-p 00000000 08:01 77") {
		t.Fatalf("maps: %s", m.Maps())
	}
}

func TestCopyInPartialEFAULT(t *testing.T) {
	m, _, _ := newTestMM(t)
	a := mustMmap(t, m, anonOpts(0x400000, PageSize, platform.ReadWrite))
	n, err := m.CopyIn(a+PageSize-96, make([]byte, 200))
	if err != unix.EFAULT || n != 96 {
		t.Fatalf("CopyIn = %d, %v; want 96, EFAULT", n, err)
	}
	if n, err := m.CopyIn(0x900000, make([]byte, 1)); err != unix.EFAULT || n != 0 {
		t.Fatalf("CopyIn unmapped = %d, %v", n, err)
	}
	ro := mustMmap(t, m, anonOpts(0x500000, PageSize, platform.Read))
	if _, err := m.CopyOut(ro, []byte{1}); err != unix.EFAULT {
		t.Fatalf("CopyOut to read-only: %v", err)
	}
	if _, err := m.ForceCopyOut(ro, []byte{7}); err != nil {
		t.Fatalf("ForceCopyOut: %v", err)
	}
	b := []byte{0}
	m.CopyIn(ro, b)
	if b[0] != 7 {
		t.Fatal("ForceCopyOut did not write")
	}
	m.CopyOut(a, []byte("hello\x00world"))
	if s, err := m.CopyInString(a, 100); err != nil || s != "hello" {
		t.Fatalf("CopyInString = %q, %v", s, err)
	}
	if _, err := m.CopyInString(a, 3); err != unix.ENAMETOOLONG {
		t.Fatalf("CopyInString short max: %v", err)
	}
	if s, err := m.CopyInString(a, 5); err != nil || s != "hello" {
		t.Fatalf("CopyInString exact max = %q, %v", s, err)
	}
	m.CopyOut(a+PageSize-3, []byte("abc"))
	if _, err := m.CopyInString(a+PageSize-3, 100); err != unix.EFAULT {
		t.Fatalf("CopyInString off the end: %v", err)
	}
}

func TestMmapErrors(t *testing.T) {
	m, _, _ := newTestMM(t)
	if _, err := m.Mmap(anonOpts(0, 1<<40, platform.ReadWrite)); err != unix.ENOMEM {
		t.Fatalf("1 TiB private writable: %v, want ENOMEM", err)
	}
	if _, err := m.Mmap(anonOpts(0, 32<<20, platform.ReadWrite)); err != unix.ENOMEM {
		t.Fatalf("private writable mapping larger than the 16 MiB pool: %v, want ENOMEM", err)
	}
	if _, err := m.Mmap(MmapOpts{Length: 32 << 20, Perms: platform.Read}); err != unix.ENOMEM {
		t.Fatalf("shared anonymous mapping larger than the pool: %v, want ENOMEM", err)
	}
	if _, err := m.Mmap(anonOpts(0, 8<<20, platform.ReadWrite)); err != nil {
		t.Fatalf("8 MiB mapping: %v", err)
	}
	if _, err := m.Mmap(anonOpts(0, 1<<40, platform.NoAccess)); err != nil {
		t.Fatalf("1 TiB PROT_NONE reservation (not accounted): %v", err)
	}
	if _, err := m.Mmap(anonOpts(0, 0, platform.Read)); err != unix.EINVAL {
		t.Fatalf("zero length: %v", err)
	}
	if _, err := m.Mmap(anonOpts(0x400001, PageSize, platform.Read)); err != unix.EINVAL {
		t.Fatalf("misaligned fixed: %v", err)
	}
	if _, err := m.Mmap(anonOpts(0x1000, PageSize, platform.Read)); err != unix.EPERM {
		t.Fatalf("fixed below mmap_min_addr: %v", err)
	}
	a := mustMmap(t, m, anonOpts(0x400000, 2*PageSize, platform.Read))
	o := anonOpts(a+PageSize, 2*PageSize, platform.Read)
	o.Fixed, o.NoReplace = false, true
	if _, err := m.Mmap(o); err != unix.EEXIST {
		t.Fatalf("MAP_FIXED_NOREPLACE over a mapping: %v", err)
	}
	o.Addr = a + 2*PageSize
	if got, err := m.Mmap(o); err != nil || got != a+2*PageSize {
		t.Fatalf("MAP_FIXED_NOREPLACE next to it: %#x %v", got, err)
	}
	// A hint on an occupied address is moved elsewhere.
	h := anonOpts(0, PageSize, platform.Read)
	h.Addr = a
	if got, err := m.Mmap(h); err != nil || got == a {
		t.Fatalf("hint over a mapping: %#x %v", got, err)
	}
	checkInvariants(t, m)
}

func TestMmapFixedReplaces(t *testing.T) {
	m, as, pool := newTestMM(t)
	a := mustMmap(t, m, anonOpts(0x400000, 4*PageSize, platform.ReadWrite))
	m.CopyOut(a, bytes.Repeat([]byte{9}, 4*PageSize))
	m.HandleFault(a, platform.Read)
	free := pool.FreePages()
	mustMmap(t, m, anonOpts(a+PageSize, PageSize, platform.ReadWrite))
	if pool.FreePages() != free+1 {
		t.Fatalf("replaced page not freed: %d -> %d", free, pool.FreePages())
	}
	if _, ok := as.pages[a+PageSize]; ok {
		t.Fatal("replaced page still mapped in the platform")
	}
	b := make([]byte, 3)
	m.CopyIn(a+PageSize-1, b)
	if !bytes.Equal(b, []byte{9, 0, 0}) {
		t.Fatalf("contents after MAP_FIXED replace: %v", b)
	}
}

func TestFindUnmappedTopDown(t *testing.T) {
	m, _, _ := newTestMM(t)
	base := uint64(0x7f0000000000)
	m.SetMmapBase(base)
	a := mustMmap(t, m, anonOpts(0, 2*PageSize, platform.Read))
	if a != base-2*PageSize {
		t.Fatalf("first mmap at %#x, want %#x", a, base-2*PageSize)
	}
	b := mustMmap(t, m, anonOpts(0, PageSize, platform.Read))
	if b != a-PageSize {
		t.Fatalf("second mmap at %#x, want %#x", b, a-PageSize)
	}
	m.Munmap(a, PageSize)
	if got, _ := m.FindUnmapped(PageSize); got != a {
		t.Fatalf("hole not reused: %#x want %#x", got, a)
	}
	if got, _ := m.FindUnmapped(2 * PageSize); got != b-2*PageSize {
		t.Fatalf("too-small hole used: %#x", got)
	}
}

func TestCopyPopulatesWithoutMappingThenFaultMapsWindow(t *testing.T) {
	withCOWFork(t)
	m, as, _ := newTestMM(t)
	a := mustMmap(t, m, anonOpts(0x400000, 16*PageSize, platform.ReadWrite))
	if _, err := m.CopyOut(a, make([]byte, 16*PageSize)); err != nil {
		t.Fatal(err)
	}
	if len(as.maps) != 0 {
		t.Fatalf("CopyOut called MapFile: %+v", as.maps)
	}
	if err := m.HandleFault(a+3*PageSize, platform.Write); err != nil {
		t.Fatal(err)
	}
	if len(as.maps) != 1 || as.maps[0].addr != a || as.maps[0].length != 16*PageSize {
		t.Fatalf("want one 16-page MapFile, got %+v", as.maps)
	}
	// After fork the child maps a window read-only in one call too.
	c, _ := m.Fork()
	cas := newFakeAS()
	c.SetAddressSpace(cas)
	if err := c.HandleFault(a, platform.NoAccess); err != nil {
		t.Fatal(err)
	}
	if len(cas.maps) != 1 || cas.maps[0].length != 16*PageSize || cas.maps[0].perms != platform.Read {
		t.Fatalf("child window: %+v", cas.maps)
	}
	// The next (write) fault breaks COW for that page only.
	if err := c.HandleFault(a, platform.NoAccess); err != nil {
		t.Fatal(err)
	}
	if p := cas.pages[a]; p.perms != platform.ReadWrite || p.off == as.pages[a].off {
		t.Fatalf("child COW break: %+v", p)
	}
	if cas.pages[a+PageSize].perms != platform.Read {
		t.Fatal("neighbour lost its COW protection")
	}
	c.Release()
}
