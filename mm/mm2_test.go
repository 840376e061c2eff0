package mm

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"kvsentry/platform"
)

func TestMremap(t *testing.T) {
	m, as, _ := newTestMM(t)
	m.SetMmapBase(0x7f0000000000)
	a := mustMmap(t, m, anonOpts(0x400000, 2*PageSize, platform.ReadWrite))
	mustMmap(t, m, anonOpts(a+2*PageSize, PageSize, platform.Read)) // blocks growth
	pat := bytes.Repeat([]byte("mremap!"), 1000)
	m.CopyOut(a, pat)
	m.HandleFault(a, platform.Read)
	if _, err := m.Mremap(a, 2*PageSize, 4*PageSize, 0, 0); err != unix.ENOMEM {
		t.Fatalf("grow without MAYMOVE into a neighbour: %v", err)
	}
	na, err := m.Mremap(a, 2*PageSize, 4*PageSize, mremapMaymove, 0)
	if err != nil || na == a {
		t.Fatalf("move: %#x %v", na, err)
	}
	got := make([]byte, len(pat))
	if _, err := m.CopyIn(na, got); err != nil || !bytes.Equal(got, pat) {
		t.Fatalf("content not kept: %v", err)
	}
	if _, err := m.CopyIn(a, got[:1]); err != unix.EFAULT {
		t.Fatal("old range still mapped")
	}
	if _, ok := as.pages[a]; ok {
		t.Fatal("old range still mapped in the platform")
	}
	// Grow in place when the space after is free.
	ga, err := m.Mremap(na, 4*PageSize, 6*PageSize, 0, 0)
	if err != nil || ga != na {
		t.Fatalf("grow in place: %#x %v", ga, err)
	}
	m.CopyIn(na, got)
	if !bytes.Equal(got, pat) {
		t.Fatal("content changed by in-place growth")
	}
	// Shrink.
	if sa, err := m.Mremap(na, 6*PageSize, PageSize, 0, 0); err != nil || sa != na {
		t.Fatalf("shrink: %#x %v", sa, err)
	}
	if _, err := m.CopyIn(na+PageSize, got[:1]); err != unix.EFAULT {
		t.Fatal("shrunk tail still mapped")
	}
	// MREMAP_FIXED moves to an exact address, replacing what is there.
	dst := uint64(0x800000)
	mustMmap(t, m, anonOpts(dst, PageSize, platform.Read))
	if fa, err := m.Mremap(na, PageSize, PageSize, mremapMaymove|mremapFixed, dst); err != nil || fa != dst {
		t.Fatalf("fixed: %#x %v", fa, err)
	}
	m.CopyIn(dst, got[:7])
	if string(got[:7]) != "mremap!" {
		t.Fatalf("fixed move content %q", got[:7])
	}
	if _, err := m.Mremap(dst, PageSize, PageSize, mremapFixed, 0x900000); err != unix.EINVAL {
		t.Fatalf("FIXED without MAYMOVE: %v", err)
	}
	if _, err := m.Mremap(0x300000, PageSize, 2*PageSize, mremapMaymove, 0); err != unix.EFAULT {
		t.Fatalf("unmapped old address: %v", err)
	}
	checkInvariants(t, m)
}

func TestBrk(t *testing.T) {
	m, _, pool := newTestMM(t)
	start := uint64(0x600000)
	m.SetBrk(start)
	if got := m.Brk(0); got != start {
		t.Fatalf("query: %#x", got)
	}
	if got := m.Brk(start + 100); got != start+100 {
		t.Fatalf("grow: %#x", got)
	}
	if _, err := m.CopyOut(start+50, []byte("heap")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(m.Maps()), "[heap]") {
		t.Fatalf("no [heap] in maps:\n%s", m.Maps())
	}
	// Something is mapped 3 pages above the start: growth into it is refused.
	lib := mustMmap(t, m, anonOpts(start+3*PageSize, PageSize, platform.Read|platform.Execute))
	if got := m.Brk(lib + 1); got != start+100 {
		t.Fatalf("brk into a mapping returned %#x, want old break %#x", got, start+100)
	}
	// Linux keeps a page between the heap and the next mapping.
	if got := m.Brk(start + 2*PageSize + 1); got != start+100 {
		t.Fatalf("brk leaving no gap returned %#x, want old break", got)
	}
	if got := m.Brk(start + 2*PageSize); got != start+2*PageSize {
		t.Fatalf("grow to one page below the mapping: %#x", got)
	}
	if got := m.Brk(start - 1); got != start+2*PageSize {
		t.Fatalf("below start: %#x", got)
	}
	// Shrinking frees the pages above the new break.
	m.CopyOut(start+PageSize, []byte{1})
	free := pool.FreePages()
	if got := m.Brk(start + PageSize); got != start+PageSize {
		t.Fatalf("shrink: %#x", got)
	}
	if pool.FreePages() <= free {
		t.Fatal("shrink freed nothing")
	}
	if _, err := m.CopyIn(start+PageSize, make([]byte, 1)); err != unix.EFAULT {
		t.Fatal("memory above the break still mapped")
	}
	// Regrowth reads zero.
	m.Brk(start + 2*PageSize)
	b := []byte{9}
	m.CopyIn(start+PageSize, b)
	if b[0] != 0 {
		t.Fatal("regrown heap not zero")
	}
	checkInvariants(t, m)
}

func countLines(b []byte) int { return strings.Count(string(b), "\n") }

func TestMunmapAndMprotectSplit(t *testing.T) {
	m, as, _ := newTestMM(t)
	a := mustMmap(t, m, anonOpts(0x400000, 3*PageSize, platform.ReadWrite))
	m.CopyOut(a, make([]byte, 3*PageSize))
	if countLines(m.Maps()) != 1 {
		t.Fatal("want one area")
	}
	if err := m.Mprotect(a+PageSize, PageSize, platform.Read); err != nil {
		t.Fatal(err)
	}
	if countLines(m.Maps()) != 3 {
		t.Fatalf("mprotect did not split:\n%s", m.Maps())
	}
	if _, ok := as.pages[a+PageSize]; ok {
		t.Fatal("write-revoked page still mapped writable")
	}
	wantFault(t, m.HandleFault(a+PageSize, platform.Write), int32(unix.SIGSEGV), segvAccErr)
	if err := m.HandleFault(a+PageSize, platform.Read); err != nil || as.pages[a+PageSize].perms != platform.Read {
		t.Fatalf("read fault after mprotect: %v %+v", err, as.pages[a+PageSize])
	}
	if err := m.Mprotect(a, 3*PageSize, platform.ReadWrite); err != nil {
		t.Fatal(err)
	}
	if countLines(m.Maps()) != 1 {
		t.Fatalf("mprotect back did not merge:\n%s", m.Maps())
	}
	if err := m.Mprotect(a, 5*PageSize, platform.Read); err != unix.ENOMEM {
		t.Fatalf("mprotect over a hole: %v", err)
	}
	if err := m.Mprotect(a+1, PageSize, platform.Read); err != unix.EINVAL {
		t.Fatalf("misaligned mprotect: %v", err)
	}
	if err := m.Munmap(a+PageSize, PageSize); err != nil {
		t.Fatal(err)
	}
	if countLines(m.Maps()) != 2 {
		t.Fatalf("munmap in the middle did not split:\n%s", m.Maps())
	}
	if _, err := m.CopyIn(a+PageSize, make([]byte, 1)); err != unix.EFAULT {
		t.Fatal("unmapped middle still readable")
	}
	if err := m.Munmap(a+1, PageSize); err != unix.EINVAL {
		t.Fatalf("misaligned munmap: %v", err)
	}
	if err := m.Munmap(a, 0); err != unix.EINVAL {
		t.Fatalf("zero-length munmap: %v", err)
	}
	wantFault(t, m.HandleFault(a+PageSize, platform.Read), int32(unix.SIGSEGV), segvMapErr)
	checkInvariants(t, m)
}

func TestMaps(t *testing.T) {
	m, _, _ := newTestMM(t)
	f := &memFile{data: make([]byte, 3*PageSize)}
	mustMmap(t, m, MmapOpts{Addr: 0x400000, Length: PageSize, Offset: PageSize, Perms: platform.Read | platform.Execute,
		Private: true, Fixed: true, File: f, Name: "/bin/busybox", Dev: unix.Mkdev(0xfe, 0), Ino: 1234})
	mustMmap(t, m, MmapOpts{Addr: 0x7ffff000, Length: PageSize, Perms: platform.ReadWrite, Private: true, Fixed: true, Name: "[stack]"})
	mustMmap(t, m, anonOpts(0x500000, 2*PageSize, platform.ReadWrite))
	want := "00400000-00401000 r-xp 00001000 fe:00 1234                               /bin/busybox\n" +
		"00500000-00502000 rw-p 00000000 00:00 0 \n" +
		"7ffff000-80000000 rw-p 00000000 00:00 0                                  [stack]\n"
	if got := string(m.Maps()); got != want {
		t.Fatalf("Maps:\n%q\nwant\n%q", got, want)
	}
}

// TestMapsLineMatchesLinux reformats the host's own /proc/self/maps lines.
func TestMapsLineMatchesLinux(t *testing.T) {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		var start, end, off, ino uint64
		var perms string
		var major, minor uint32
		if _, err := fmt.Sscanf(line, "%x-%x %s %x %x:%x %d", &start, &end, &perms, &off, &major, &minor, &ino); err != nil {
			t.Fatalf("parse %q: %v", line, err)
		}
		name := ""
		if i := strings.Index(line, " /"); i >= 0 {
			name = line[i+1:]
		} else if i := strings.Index(line, " ["); i >= 0 {
			name = line[i+1:]
		}
		var p platform.AccessType
		for i, c := range "rwx" {
			if perms[i] == byte(c) {
				p |= 1 << i
			}
		}
		got := formatMapsLine(start, end, p, perms[3] == 's', off, major, minor, ino, strings.TrimLeft(name, " "))
		if got != line {
			t.Fatalf("formatted\n%q\nLinux has\n%q", got, line)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no lines")
	}
}

func TestMapped(t *testing.T) {
	m, _, _ := newTestMM(t)
	mustMmap(t, m, anonOpts(0x400000, 2*PageSize, platform.Read))
	mustMmap(t, m, anonOpts(0x402000, PageSize, platform.ReadWrite))
	if !m.Mapped(0x400000, 3*PageSize) || !m.Mapped(0x400fff, 2) {
		t.Fatal("mapped range reported unmapped")
	}
	if m.Mapped(0x400000, 3*PageSize+1) || m.Mapped(0x3ff000, 2*PageSize) {
		t.Fatal("range with a hole reported mapped")
	}
}
