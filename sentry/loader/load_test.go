package loader

import (
	"bytes"
	"testing"

	"golang.org/x/sys/unix"

	"kvsentry/platform"
)

func loadOne(t *testing.T, files map[string][]byte, a Args) (*Result, *fakeMem, error) {
	t.Helper()
	op := &fakeOpener{files: map[string]*memFile{}}
	for p, d := range files {
		op.files[p] = &memFile{data: d, dev: 8, ino: uint64(len(p))}
	}
	mem := newFakeMem()
	res, err := Load(mem, op, a)
	return res, mem, err
}

func mustLoad(t *testing.T, files map[string][]byte, a Args) (*Result, *fakeMem) {
	t.Helper()
	res, mem, err := loadOne(t, files, a)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return res, mem
}

func auxval(res *Result, key uint64) (uint64, bool) {
	for i := 0; i+1 < len(res.Auxv); i += 2 {
		if res.Auxv[i] == key {
			return res.Auxv[i+1], true
		}
	}
	return 0, false
}

func TestLoadStaticExec(t *testing.T) {
	img := buildELF(goodSpec())
	a := testArgs("/bin/prog", "prog")
	res, mem := mustLoad(t, map[string][]byte{"/bin/prog": img}, a)
	maps := mem.sorted()
	if len(maps) != 4 {
		t.Fatalf("maps = %+v", maps)
	}
	text, data, bss, stack := maps[0], maps[1], maps[2], maps[3]
	if text.Addr != 0x400000 || text.Length != 0x2000 || text.Offset != 0 ||
		text.Perms != platform.Read|platform.Execute || text.File == nil || !text.NoReplace ||
		text.Name != "/root/bin/prog" || text.Dev != 8 {
		t.Errorf("text = %+v", text)
	}
	if data.Addr != 0x403000 || data.Length != 0x1000 || data.Offset != 0x2000 ||
		data.Perms != platform.ReadWrite || data.File == nil || data.NoReplace {
		t.Errorf("data = %+v", data)
	}
	// bss: [0x403300, 0x406100); the file page is zeroed from 0x403300,
	// anonymous pages cover [0x404000, 0x407000).
	if bss.Addr != 0x404000 || bss.Length != 0x3000 || bss.File != nil || bss.Perms != platform.ReadWrite {
		t.Errorf("bss = %+v", bss)
	}
	if len(mem.forced) != 1 || mem.forced[0].addr != 0x403300 || len(mem.forced[0].data) != 0xd00 ||
		!bytes.Equal(mem.forced[0].data, make([]byte, 0xd00)) {
		t.Errorf("padzero calls = %v", mem.forced)
	}
	if b, _ := mem.read(0x403100, 0x200); !bytes.Equal(b, fill(0x200, 9)) {
		t.Error("data segment content not the file's")
	}
	if b, _ := mem.read(0x403300, 16); !bytes.Equal(b, make([]byte, 16)) {
		t.Error("bss not zero")
	}
	if stack.Addr != a.StackTop-a.StackSize || stack.Length != a.StackSize || stack.Name != "[stack]" ||
		stack.Perms != platform.ReadWrite || stack.File != nil {
		t.Errorf("stack = %+v", stack)
	}
	if res.Entry != 0x401000 || res.ProgEntry != 0x401000 || res.Base != 0 {
		t.Errorf("entry %#x progEntry %#x base %#x", res.Entry, res.ProgEntry, res.Base)
	}
	if res.BrkStart != 0x407000 || !mem.brkSet || mem.brk != 0x407000 {
		t.Errorf("brk = %#x (mm %#x)", res.BrkStart, mem.brk)
	}
	if mem.mmapBase != a.MmapBase {
		t.Errorf("mmap base = %#x", mem.mmapBase)
	}
	if res.Phdr != 0x400040 || res.Phnum != 3 || res.ExePath != "/root/bin/prog" {
		t.Errorf("phdr %#x phnum %d exe %q", res.Phdr, res.Phnum, res.ExePath)
	}
}

// pieSpec is an ET_DYN program linked at 0 with PT_PHDR and optional PT_INTERP.
func pieSpec(interp string) elfSpec {
	s := elfSpec{
		typ:   3,
		entry: 0x1100,
		segs: []seg{
			{typ: 6, flags: tPF_R, off: 64, vaddr: 64, filesz: 4 * 56, memsz: 4 * 56},
			{typ: 1, flags: tPF_R, off: 0, vaddr: 0, filesz: 0x400, memsz: 0x400},
			{typ: 1, flags: tPF_R | tPF_X, off: 0x1000, vaddr: 0x1000, filesz: 0x300, memsz: 0x300, data: fill(0x300, 1)},
			{typ: 1, flags: tPF_R | tPF_W, off: 0x1300, vaddr: 0x2300, filesz: 0x10, memsz: 0x2000, data: fill(0x10, 2)},
		},
	}
	if interp != "" {
		b := append([]byte(interp), 0)
		s.segs = append(s.segs, seg{typ: 3, flags: tPF_R, off: 0x300, filesz: uint64(len(b)), memsz: uint64(len(b)), data: b})
	}
	return s
}

func TestLoadPIEWithInterp(t *testing.T) {
	prog := buildELF(pieSpec("/lib/ld-musl-x86_64.so.1"))
	ld := pieSpec("")
	ld.entry = 0x1234
	a := testArgs("./prog", "prog", "x")
	res, mem := mustLoad(t, map[string][]byte{"./prog": prog, "/lib/ld-musl-x86_64.so.1": buildELF(ld)}, a)
	// The interpreter span is 0x5000 bytes, placed right below the mmap base.
	ldBase := a.MmapBase - 0x5000
	if res.Base != ldBase || res.Entry != ldBase+0x1234 {
		t.Errorf("base %#x entry %#x, want %#x %#x", res.Base, res.Entry, ldBase, ldBase+0x1234)
	}
	if res.ProgEntry != a.ExecBase+0x1100 || res.Phdr != a.ExecBase+64 || res.Phnum != 5 {
		t.Errorf("progEntry %#x phdr %#x phnum %d", res.ProgEntry, res.Phdr, res.Phnum)
	}
	if res.BrkStart != a.ExecBase+0x5000 {
		t.Errorf("brk %#x", res.BrkStart)
	}
	want := []struct {
		addr, length, off uint64
		perms             platform.AccessType
		file              bool
		name              string
	}{
		{a.ExecBase, 0x1000, 0, platform.Read, true, "/root./prog"},
		{a.ExecBase + 0x1000, 0x1000, 0x1000, platform.Read | platform.Execute, true, "/root./prog"},
		{a.ExecBase + 0x2000, 0x1000, 0x1000, platform.ReadWrite, true, "/root./prog"},
		{a.ExecBase + 0x3000, 0x2000, 0, platform.ReadWrite, false, ""},
		{ldBase, 0x1000, 0, platform.Read, true, "/root/lib/ld-musl-x86_64.so.1"},
		{ldBase + 0x1000, 0x1000, 0x1000, platform.Read | platform.Execute, true, "/root/lib/ld-musl-x86_64.so.1"},
		{ldBase + 0x2000, 0x1000, 0x1000, platform.ReadWrite, true, "/root/lib/ld-musl-x86_64.so.1"},
		{ldBase + 0x3000, 0x2000, 0, platform.ReadWrite, false, ""},
	}
	maps := mem.sorted()
	if len(maps) != len(want)+1 {
		t.Fatalf("maps = %+v", maps)
	}
	for i, w := range want {
		m := maps[i]
		if m.Addr != w.addr || m.Length != w.length || m.Offset != w.off || m.Perms != w.perms ||
			(m.File != nil) != w.file || m.Name != w.name {
			t.Errorf("map %d = %#x+%#x off %#x %v file=%v %q; want %+v", i, m.Addr, m.Length, m.Offset,
				m.Perms, m.File != nil, m.Name, w)
		}
	}
	if b, _ := mem.read(a.ExecBase+0x1000, 0x300); !bytes.Equal(b, fill(0x300, 1)) {
		t.Error("text content wrong")
	}
	if b, _ := mem.read(a.ExecBase+0x2300, 0x20); !bytes.Equal(b, append(fill(0x10, 2), make([]byte, 0x10)...)) {
		t.Errorf("data+bss = %x", b)
	}
	if v, _ := auxval(res, atBase); v != ldBase {
		t.Errorf("AT_BASE %#x", v)
	}
	if v, _ := auxval(res, atEntry); v != a.ExecBase+0x1100 {
		t.Errorf("AT_ENTRY %#x", v)
	}
}

func TestLoadStaticPIE(t *testing.T) {
	a := testArgs("/p", "p")
	res, mem := mustLoad(t, map[string][]byte{"/p": buildELF(pieSpec(""))}, a)
	if res.Entry != a.ExecBase+0x1100 || res.Base != 0 || res.Phdr != a.ExecBase+64 {
		t.Errorf("entry %#x base %#x phdr %#x", res.Entry, res.Base, res.Phdr)
	}
	if m := mem.sorted()[0]; m.Addr != a.ExecBase || !m.NoReplace {
		t.Errorf("first map %+v", m)
	}
}

func TestLoadBssOnlyAndReadOnlyBss(t *testing.T) {
	s := goodSpec()
	s.segs[0].memsz = 0x1900 // read-only segment with a tail: no padzero
	s.segs = append(s.segs, seg{typ: 1, flags: tPF_R | tPF_W, vaddr: 0x500010, memsz: 0x1000})
	res, mem := mustLoad(t, map[string][]byte{"/p": buildELF(s)}, testArgs("/p", "p"))
	for _, f := range mem.forced {
		if f.addr < 0x403000 && f.addr >= 0x400000 {
			t.Errorf("read-only segment zeroed at %#x", f.addr)
		}
	}
	var sawRO, sawBss bool
	for _, m := range mem.maps {
		if m.Addr == 0x402000 && m.File == nil {
			t.Errorf("read-only segment got an anonymous page though memsz ends in its file page: %+v", m)
		}
		if m.Addr == 0x400000 {
			sawRO = true
		}
		if m.Addr == 0x500000 && m.Length == 0x2000 && m.File == nil && m.Perms == platform.ReadWrite {
			sawBss = true
		}
	}
	if !sawRO || !sawBss {
		t.Errorf("maps %+v", mem.sorted())
	}
	if res.BrkStart != 0x502000 {
		t.Errorf("brk %#x", res.BrkStart)
	}
}

func TestLoadExecStack(t *testing.T) {
	s := goodSpec()
	s.segs[2].flags |= tPF_X
	a := testArgs("/p", "p")
	_, mem := mustLoad(t, map[string][]byte{"/p": buildELF(s)}, a)
	st := mem.sorted()[len(mem.maps)-1]
	if st.Name != "[stack]" || st.Perms != platform.AnyAccess {
		t.Errorf("stack %+v", st)
	}
}

func TestLoadErrors(t *testing.T) {
	bigDyn := pieSpec("")
	bigDyn.segs[3].memsz = 0x700000000000 // fits TASK_SIZE alone, not above ExecBase
	badEntry := goodSpec()
	badEntry.entry = taskSize + 5
	withInterp := func(ld []byte) map[string][]byte {
		f := map[string][]byte{"/p": buildELF(pieSpec("/ld"))}
		if ld != nil {
			f["/ld"] = ld
		}
		return f
	}
	ldExec := pieSpec("")
	ldExec.typ = 1 // ET_REL
	ldArm := pieSpec("")
	ldArm.machine = 183
	ldBadSeg := pieSpec("")
	ldBadSeg.segs[3].filesz = 0x3000
	cases := []struct {
		name  string
		files map[string][]byte
		want  unix.Errno
	}{
		{"missing program", map[string][]byte{}, unix.ENOENT},
		{"span beyond address space", map[string][]byte{"/p": buildELF(bigDyn)}, unix.ENOMEM},
		{"entry beyond TASK_SIZE", map[string][]byte{"/p": buildELF(badEntry)}, unix.EINVAL},
		{"missing interpreter", withInterp(nil), unix.ENOENT},
		{"interpreter not ELF", withInterp([]byte("#!/bin/sh\n")), unix.ELIBBAD},
		{"interpreter wrong machine", withInterp(buildELF(ldArm)), unix.ELIBBAD},
		{"interpreter ET_REL", withInterp(buildELF(ldExec)), unix.EINVAL},
		{"interpreter bad segment", withInterp(buildELF(ldBadSeg)), unix.ENOMEM},
		{"ET_EXEC over the stack", map[string][]byte{"/p": buildELF(elfSpec{entry: 0x7ffffffdd000,
			segs: []seg{{typ: 1, flags: tPF_R | tPF_X, vaddr: 0x7ffffffdd000, filesz: 0x100, memsz: 0x100}}, size: 0x200})}, unix.EEXIST},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, _, err := loadOne(t, c.files, testArgs("/p", "p")); err != c.want {
				t.Fatalf("Load = %v, want %v", err, c.want)
			}
		})
	}
}

func TestLoadBadArgs(t *testing.T) {
	files := map[string][]byte{"/p": buildELF(goodSpec())}
	for _, mut := range []func(a *Args){
		func(a *Args) { a.StackTop++ },
		func(a *Args) { a.StackSize = 0 },
		func(a *Args) { a.StackSize = a.StackTop + pageSize },
		func(a *Args) { a.ExecBase = 0x1234 },
	} {
		a := testArgs("/p", "p")
		mut(&a)
		if _, _, err := loadOne(t, files, a); err != unix.EINVAL {
			t.Errorf("Load(%+v) = %v, want EINVAL", a, err)
		}
	}
}

func TestLoadE2BIG(t *testing.T) {
	files := map[string][]byte{"/p": buildELF(goodSpec())}
	a := testArgs("/p", "p")
	a.Envv = []string{string(make([]byte, maxArgStrlen))} // one over with its NUL
	if _, _, err := loadOne(t, files, a); err != unix.E2BIG {
		t.Errorf("string of MAX_ARG_STRLEN: %v, want E2BIG", err)
	}
	a.Envv = nil
	chunk := string(bytes.Repeat([]byte("x"), 100000))
	for i := 0; i < 21; i++ { // 2.1 MB > 8 MiB / 4
		a.Envv = append(a.Envv, chunk)
	}
	if _, _, err := loadOne(t, files, a); err != unix.E2BIG {
		t.Errorf("2.1 MB of env: %v, want E2BIG", err)
	}
	files["/text"] = []byte("just text\n")
	a.Path = "/text"
	if _, _, err := loadOne(t, files, a); err != unix.E2BIG {
		t.Errorf("2.1 MB of env for a text file: %v, want E2BIG before ENOEXEC", err)
	}
	a.Path = "/p"
	a.Envv = a.Envv[:19] // 1.9 MB fits
	if _, _, err := loadOne(t, files, a); err != nil {
		t.Errorf("1.9 MB of env: %v", err)
	}
}
