package loader

import (
	"encoding/binary"
	"fmt"
	"sort"
	"testing"

	"golang.org/x/sys/unix"

	"kvsentry/platform"
)

// memFile is an in-memory File.
type memFile struct {
	data     []byte
	dev, ino uint64
}

func (m *memFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, unix.EINVAL
	}
	if off >= int64(len(m.data)) {
		return 0, unix.EIO
	}
	n := copy(p, m.data[off:])
	if n < len(p) {
		return n, unix.EIO
	}
	return n, nil
}

func (m *memFile) Size() int64 { return int64(len(m.data)) }

func (m *memFile) Mappable() (interface {
	ReadAt([]byte, int64) (int, error)
}, uint64, uint64, error) {
	return m, m.dev, m.ino, nil
}

// fakeOpener resolves paths in a map; resolved paths get a "/root" prefix
// so tests can tell them apart.
type fakeOpener struct {
	files  map[string]*memFile
	opened []string
}

func (o *fakeOpener) OpenExec(path string) (File, string, error) {
	o.opened = append(o.opened, path)
	f, ok := o.files[path]
	if !ok {
		return nil, "", unix.ENOENT
	}
	return f, "/root" + path, nil
}

// forced records one ForceCopyOut call.
type forced struct {
	addr uint64
	data []byte
}

// fakeMem records what the loader asks of an address space.
type fakeMem struct {
	maps     []MapRequest
	written  map[uint64]byte
	forced   []forced
	brk      uint64
	brkSet   bool
	mmapBase uint64
	copyOuts int
}

func newFakeMem() *fakeMem { return &fakeMem{written: map[uint64]byte{}} }

func overlaps(a, alen, b, blen uint64) bool { return a < b+blen && b < a+alen }

func (m *fakeMem) Map(r MapRequest) (uint64, error) {
	if r.Addr%pageSize != 0 || r.Length%pageSize != 0 || r.Offset%pageSize != 0 || r.Length == 0 {
		return 0, fmt.Errorf("unaligned map %+v", r)
	}
	if !r.Fixed || !r.Private {
		return 0, fmt.Errorf("loader map not fixed/private: %+v", r)
	}
	if r.Addr+r.Length > taskSize || r.Addr+r.Length < r.Addr {
		return 0, unix.ENOMEM
	}
	if r.NoReplace {
		for _, o := range m.maps {
			if overlaps(r.Addr, r.Length, o.Addr, o.Length) {
				return 0, unix.EEXIST
			}
		}
	}
	m.maps = append(m.maps, r)
	return r.Addr, nil
}

// find returns the topmost (latest) mapping containing addr.
func (m *fakeMem) find(addr uint64) *MapRequest {
	for i := len(m.maps) - 1; i >= 0; i-- {
		if r := &m.maps[i]; addr >= r.Addr && addr < r.Addr+r.Length {
			return r
		}
	}
	return nil
}

func (m *fakeMem) copyOut(addr uint64, src []byte, force bool) (int, error) {
	for i := range src {
		r := m.find(addr + uint64(i))
		if r == nil || (!force && r.Perms&platform.Write == 0) {
			return i, unix.EFAULT
		}
	}
	for i, b := range src {
		m.written[addr+uint64(i)] = b
	}
	return len(src), nil
}

func (m *fakeMem) CopyOut(addr uint64, src []byte) (int, error) {
	m.copyOuts++
	return m.copyOut(addr, src, false)
}

func (m *fakeMem) ForceCopyOut(addr uint64, src []byte) (int, error) {
	m.forced = append(m.forced, forced{addr, append([]byte(nil), src...)})
	return m.copyOut(addr, src, true)
}

func (m *fakeMem) SetBrk(start uint64)     { m.brk, m.brkSet = start, true }
func (m *fakeMem) SetMmapBase(base uint64) { m.mmapBase = base }

// FindUnmapped searches top-down from the mmap base like mm does.
func (m *fakeMem) FindUnmapped(length uint64) (uint64, error) {
	if m.mmapBase == 0 {
		return 0, fmt.Errorf("FindUnmapped before SetMmapBase")
	}
	length = pageUp(length)
	addr := m.mmapBase - length
	for {
		clash := false
		for _, o := range m.maps {
			if overlaps(addr, length, o.Addr, o.Length) {
				clash, addr = true, o.Addr-length
				break
			}
		}
		if !clash {
			return addr, nil
		}
		if addr > m.mmapBase {
			return 0, unix.ENOMEM
		}
	}
}

// read returns memory content as the guest would see it: written bytes,
// else the file page under the latest mapping, else zero. ok is false if
// some byte is unmapped.
func (m *fakeMem) read(addr uint64, n int) ([]byte, bool) {
	out := make([]byte, n)
	for i := range out {
		a := addr + uint64(i)
		if b, ok := m.written[a]; ok {
			out[i] = b
			continue
		}
		r := m.find(a)
		if r == nil {
			return nil, false
		}
		if r.File != nil {
			var one [1]byte
			if _, err := r.File.ReadAt(one[:], int64(r.Offset+a-r.Addr)); err == nil {
				out[i] = one[0]
			}
		}
	}
	return out, true
}

func (m *fakeMem) u64(t *testing.T, addr uint64) uint64 {
	t.Helper()
	b, ok := m.read(addr, 8)
	if !ok {
		t.Fatalf("read u64 at %#x: unmapped", addr)
	}
	return binary.LittleEndian.Uint64(b)
}

func (m *fakeMem) cstring(t *testing.T, addr uint64) string {
	t.Helper()
	var s []byte
	for i := uint64(0); i < 1<<20; i++ {
		b, ok := m.written[addr+i]
		if !ok {
			t.Fatalf("string at %#x runs into unwritten memory", addr)
		}
		if b == 0 {
			return string(s)
		}
		s = append(s, b)
	}
	t.Fatalf("unterminated string at %#x", addr)
	return ""
}

// mapsAt returns the mappings sorted by address (for stable assertions).
func (m *fakeMem) sorted() []MapRequest {
	out := append([]MapRequest(nil), m.maps...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Addr < out[j].Addr })
	return out
}

// seg describes one program header of a test ELF; data is written at off.
type seg struct {
	typ, flags                    uint32
	off, vaddr, filesz, memsz, al uint64
	data                          []byte
}

// elfSpec describes a test ELF file.
type elfSpec struct {
	typ       uint16 // default ET_EXEC
	machine   uint16 // default EM_X86_64
	class     byte   // default ELFCLASS64
	data      byte   // default ELFDATA2LSB
	entry     uint64
	phoff     uint64 // default 64
	phnum     int    // default len(segs)
	phentsize uint16 // default 56
	segs      []seg
	size      int // minimum file size
}

const (
	tPF_X = 1
	tPF_W = 2
	tPF_R = 4
)

// buildELF writes spec as a file image.
func buildELF(s elfSpec) []byte {
	if s.typ == 0 {
		s.typ = 2
	}
	if s.machine == 0 {
		s.machine = 62
	}
	if s.class == 0 {
		s.class = 2
	}
	if s.data == 0 {
		s.data = 1
	}
	if s.phoff == 0 {
		s.phoff = 64
	}
	if s.phnum == 0 {
		s.phnum = len(s.segs)
	}
	if s.phentsize == 0 {
		s.phentsize = 56
	}
	size := int(s.phoff) + len(s.segs)*56
	for _, g := range s.segs {
		if e := int(g.off) + len(g.data); g.data != nil && e > size {
			size = e
		}
	}
	if s.size > size {
		size = s.size
	}
	b := make([]byte, size)
	le := binary.LittleEndian
	copy(b, "\x7fELF")
	b[4], b[5], b[6] = s.class, s.data, 1
	le.PutUint16(b[16:], s.typ)
	le.PutUint16(b[18:], s.machine)
	le.PutUint32(b[20:], 1)
	le.PutUint64(b[24:], s.entry)
	le.PutUint64(b[32:], s.phoff)
	le.PutUint16(b[52:], 64)
	le.PutUint16(b[54:], s.phentsize)
	le.PutUint16(b[56:], uint16(s.phnum))
	for i, g := range s.segs {
		p := b[int(s.phoff)+i*56:]
		le.PutUint32(p[0:], g.typ)
		le.PutUint32(p[4:], g.flags)
		le.PutUint64(p[8:], g.off)
		le.PutUint64(p[16:], g.vaddr)
		le.PutUint64(p[24:], g.vaddr)
		le.PutUint64(p[32:], g.filesz)
		le.PutUint64(p[40:], g.memsz)
		le.PutUint64(p[48:], g.al)
	}
	for _, g := range s.segs {
		if g.data != nil {
			copy(b[g.off:], g.data)
		}
	}
	return b
}

// fill returns n bytes of a recognisable pattern.
func fill(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

// testArgs are the Args most tests use.
func testArgs(path string, argv ...string) Args {
	return Args{
		Path:   path,
		Argv:   argv,
		Envv:   []string{"HOME=/root", "PATH=/bin"},
		Random: [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		UID:    1000, EUID: 1001, GID: 2000, EGID: 2001,
		HWCap: 0x178bfbff, HWCap2: 2,
		StackTop:  0x7ffffffde000,
		StackSize: 8 << 20,
		MmapBase:  0x7fffeffde000,
		ExecBase:  0x555555554000,
	}
}
