package loader

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// goodSpec is a valid static ET_EXEC: text at 0x400000, data+bss after it.
func goodSpec() elfSpec {
	return elfSpec{
		entry: 0x401000,
		segs: []seg{
			{typ: 1, flags: tPF_R | tPF_X, off: 0, vaddr: 0x400000, filesz: 0x1800, memsz: 0x1800, al: 0x1000, data: nil},
			{typ: 1, flags: tPF_R | tPF_W, off: 0x2100, vaddr: 0x403100, filesz: 0x200, memsz: 0x3000, al: 0x1000, data: fill(0x200, 9)},
			{typ: 0x6474e551, flags: tPF_R | tPF_W},
		},
		size: 0x2300,
	}
}

func TestParseELFGood(t *testing.T) {
	info, err := ParseELF(&memFile{data: buildELF(goodSpec())})
	if err != nil {
		t.Fatal(err)
	}
	if info.Type != 2 || info.Entry != 0x401000 || info.Phnum != 3 || len(info.Loads) != 2 {
		t.Fatalf("info = %+v", info)
	}
	if info.Start != 0x400000 || info.End != 0x407000 {
		t.Errorf("span = [%#x, %#x)", info.Start, info.End)
	}
	if !info.HasPhdrAddr || info.PhdrAddr != 0x400040 {
		t.Errorf("phdr = %#x %v, want 0x400040", info.PhdrAddr, info.HasPhdrAddr)
	}
	if info.ExecStack || info.HasInterp {
		t.Errorf("ExecStack=%v HasInterp=%v", info.ExecStack, info.HasInterp)
	}
}

func TestParseELFInterpAndPhdr(t *testing.T) {
	s := goodSpec()
	interp := []byte("/lib/ld-musl-x86_64.so.1\x00")
	s.segs = append(s.segs,
		seg{typ: 3, off: 0x200, filesz: uint64(len(interp)), memsz: uint64(len(interp)), data: interp},
		seg{typ: 6, off: 64, vaddr: 0x400040, filesz: 5 * 56, memsz: 5 * 56},
		seg{typ: 0x6474e551, flags: tPF_R | tPF_W | tPF_X})
	info, err := ParseELF(&memFile{data: buildELF(s)})
	if err != nil {
		t.Fatal(err)
	}
	if !info.HasInterp || info.Interp != "/lib/ld-musl-x86_64.so.1" {
		t.Errorf("interp = %q %v", info.Interp, info.HasInterp)
	}
	if !info.ExecStack {
		t.Error("PT_GNU_STACK with PF_X not seen")
	}
}

func TestParseELFMalformed(t *testing.T) {
	mod := func(f func(s *elfSpec)) []byte {
		s := goodSpec()
		f(&s)
		return buildELF(s)
	}
	good := buildELF(goodSpec())
	patch := func(off int, v uint64, n int) []byte {
		b := append([]byte(nil), good...)
		switch n {
		case 1:
			b[off] = byte(v)
		case 2:
			binary.LittleEndian.PutUint16(b[off:], uint16(v))
		case 8:
			binary.LittleEndian.PutUint64(b[off:], v)
		}
		return b
	}
	interp := func(data []byte, filesz uint64) []byte {
		return mod(func(s *elfSpec) {
			s.segs = append(s.segs, seg{typ: 3, off: 0x200, filesz: filesz, memsz: filesz, data: data})
		})
	}
	cases := []struct {
		name string
		data []byte
		want unix.Errno
	}{
		{"empty", nil, unix.ENOEXEC},
		{"truncated header", good[:40], unix.ENOEXEC},
		{"bad magic", patch(1, 'X', 1), unix.ENOEXEC},
		{"ELFCLASS32", patch(4, 1, 1), unix.ENOEXEC},
		{"big endian", patch(5, 2, 1), unix.ENOEXEC},
		{"bad version", patch(6, 0, 1), unix.ENOEXEC},
		{"ET_REL", patch(16, 1, 2), unix.ENOEXEC},
		{"ET_CORE", patch(16, 4, 2), unix.ENOEXEC},
		{"EM_386", patch(18, 3, 2), unix.ENOEXEC},
		{"EM_AARCH64", patch(18, 183, 2), unix.ENOEXEC},
		{"phentsize 32", patch(54, 32, 2), unix.ENOEXEC},
		{"phnum 0", patch(56, 0, 2), unix.ENOEXEC},
		{"phnum huge", patch(56, 0xffff, 2), unix.ENOEXEC},
		{"phnum over a page", patch(56, 74, 2), unix.ENOEXEC},
		{"phoff past EOF", patch(32, 1<<40, 8), unix.ENOEXEC},
		{"phoff overflow", patch(32, ^uint64(0)-10, 8), unix.ENOEXEC},
		{"truncated phdrs", good[:64+56+10], unix.ENOEXEC},
		{"no PT_LOAD", mod(func(s *elfSpec) { s.segs = s.segs[2:] }), unix.ENOEXEC},
		{"filesz > memsz", mod(func(s *elfSpec) { s.segs[1].memsz = 0x100 }), unix.EINVAL},
		{"vaddr+memsz overflow", mod(func(s *elfSpec) { s.segs[1].vaddr = ^uint64(0) - 0xeff; s.segs[1].off = 0x2100 }), unix.EINVAL},
		{"vaddr+memsz beyond TASK_SIZE", mod(func(s *elfSpec) { s.segs[1].vaddr = taskSize - 0x1f00 }), unix.EINVAL},
		{"memsz 1<<62", mod(func(s *elfSpec) { s.segs[1].memsz = 1 << 62 }), unix.EINVAL},
		{"vaddr/offset not congruent", mod(func(s *elfSpec) { s.segs[1].off = 0x2108 }), unix.EINVAL},
		{"segment past EOF", mod(func(s *elfSpec) { s.segs[1].filesz = 0x3000; s.segs[1].memsz = 0x3000 }), unix.ENOEXEC},
		{"segment offset overflow", mod(func(s *elfSpec) { s.segs[1].off = ^uint64(0) - 0xeff; s.segs[1].vaddr = 0x403100; s.segs[1].data = nil }), unix.ENOEXEC},
		{"interp not NUL-terminated", interp([]byte("/lib/ld.so"), 10), unix.ENOEXEC},
		{"interp too short", interp([]byte("\x00"), 1), unix.ENOEXEC},
		{"interp over PATH_MAX", interp(nil, 4097), unix.ENOEXEC},
		{"interp past EOF", mod(func(s *elfSpec) {
			s.segs = append(s.segs, seg{typ: 3, off: 0x2000, filesz: 4000, memsz: 4000})
		}), unix.ENOEXEC},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			info, err := ParseELF(&memFile{data: c.data})
			if err != c.want {
				t.Fatalf("ParseELF = %+v, %v; want %v", info, err, c.want)
			}
		})
	}
}

// TestParseELFPhdrFromLoad checks AT_PHDR when there is no PT_PHDR and the
// headers sit inside a later segment, and when nothing covers them.
func TestParseELFPhdrFromLoad(t *testing.T) {
	s := goodSpec()
	s.segs[0].off, s.segs[0].vaddr, s.segs[0].filesz, s.segs[0].memsz = 0x1000, 0x401000, 0x800, 0x800
	s.size = 0x2300
	s.segs = append([]seg{{typ: 1, flags: tPF_R, off: 0, vaddr: 0x10000, filesz: 0x100, memsz: 0x100}}, s.segs...)
	info, err := ParseELF(&memFile{data: buildELF(s)})
	if err != nil {
		t.Fatal(err)
	}
	if info.PhdrAddr != 0x10040 || !info.HasPhdrAddr {
		t.Errorf("phdr = %#x, want 0x10040", info.PhdrAddr)
	}
	s.segs = s.segs[1:]
	if info, err = ParseELF(&memFile{data: buildELF(s)}); err != nil {
		t.Fatal(err)
	}
	if info.HasPhdrAddr {
		t.Errorf("phdr %#x found though no segment covers e_phoff", info.PhdrAddr)
	}
}
