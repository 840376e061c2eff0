package loader

import (
	"bytes"
	"debug/elf"
	"encoding/binary"

	"golang.org/x/sys/unix"
)

const (
	pageSize = 4096
	// taskSize is TASK_SIZE_MAX on x86-64 with 4-level paging
	// (arch/x86/include/asm/page_64_types.h): the end of user addresses.
	taskSize = 0x7ffffffff000
	ehdrSize = 64 // sizeof(Elf64_Ehdr)
	phdrSize = 56 // sizeof(Elf64_Phdr)
	// maxPhdrBytes bounds e_phnum*e_phentsize as load_elf_phdrs does
	// (size > ELF_MIN_ALIGN is refused).
	maxPhdrBytes = 4096
	pathMax      = 4096 // PATH_MAX, the bound on PT_INTERP's p_filesz
)

// Prog is one ELF program header (Elf64_Phdr, include/uapi/linux/elf.h).
type Prog struct {
	Type, Flags                             uint32
	Off, Vaddr, Paddr, Filesz, Memsz, Align uint64
}

// ELFInfo is what ParseELF found in a validated x86-64 ELF executable. All
// addresses are the file's own (unbiased) virtual addresses.
type ELFInfo struct {
	// Type is e_type: elf.ET_EXEC or elf.ET_DYN.
	Type elf.Type
	// Entry is e_entry.
	Entry uint64
	// Phoff is e_phoff and Phnum e_phnum.
	Phoff uint64
	Phnum int
	// Progs are all the program headers, in file order.
	Progs []Prog
	// Loads are the PT_LOAD headers with a nonzero p_memsz, in file order.
	Loads []Prog
	// Interp is the PT_INTERP path ("" if none, or if it starts with NUL).
	Interp string
	// HasInterp reports whether a PT_INTERP header was present.
	HasInterp bool
	// ExecStack is true when PT_GNU_STACK asks for an executable stack.
	ExecStack bool
	// PhdrAddr is where the program headers are in memory: PT_PHDR's
	// p_vaddr, else inside the PT_LOAD that covers e_phoff; HasPhdrAddr
	// is false when neither exists.
	PhdrAddr    uint64
	HasPhdrAddr bool
	// Start and End are the page-aligned span [Start, End) of the PT_LOADs.
	Start, End uint64
}

func pageDown(v uint64) uint64 { return v &^ (pageSize - 1) }

// pageUp rounds up; callers guarantee v <= taskSize so it cannot overflow.
func pageUp(v uint64) uint64 { return (v + pageSize - 1) &^ (pageSize - 1) }

// readFull reads exactly len(p) bytes at off; a short read is EIO, as
// elf_read in fs/binfmt_elf.c reports it.
func readFull(f File, p []byte, off int64) error {
	n, err := f.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if errno, ok := err.(unix.Errno); ok {
		return errno
	}
	return unix.EIO
}

// inFile reports whether [off, off+n) lies within a file of size size.
func inFile(off, n uint64, size int64) bool {
	if size < 0 {
		return false
	}
	end := off + n
	return end >= off && end <= uint64(size)
}

// ParseELF reads and validates the ELF header, the program headers and the
// PT_INTERP path of f, following the checks of load_elf_binary and
// load_elf_phdrs (fs/binfmt_elf.c). A file that is not a 64-bit
// little-endian x86-64 ET_EXEC/ET_DYN ELF, or whose headers are malformed, is
// ENOEXEC; a PT_LOAD Linux would refuse (p_filesz > p_memsz, an address
// range beyond TASK_SIZE, p_offset and p_vaddr not congruent modulo the page
// size) is EINVAL. It reads at most a few pages whatever the file says.
func ParseELF(f File) (*ELFInfo, error) {
	size := f.Size()
	if size < ehdrSize {
		return nil, unix.ENOEXEC
	}
	var eh [ehdrSize]byte
	if err := readFull(f, eh[:], 0); err != nil {
		return nil, err
	}
	if !bytes.Equal(eh[:4], []byte(elf.ELFMAG)) ||
		elf.Class(eh[elf.EI_CLASS]) != elf.ELFCLASS64 ||
		elf.Data(eh[elf.EI_DATA]) != elf.ELFDATA2LSB ||
		elf.Version(eh[elf.EI_VERSION]) != elf.EV_CURRENT {
		return nil, unix.ENOEXEC
	}
	le := binary.LittleEndian
	info := &ELFInfo{
		Type:  elf.Type(le.Uint16(eh[16:])),
		Entry: le.Uint64(eh[24:]),
		Phoff: le.Uint64(eh[32:]),
		Phnum: int(le.Uint16(eh[56:])),
	}
	machine := elf.Machine(le.Uint16(eh[18:]))
	phentsize := le.Uint16(eh[54:])
	if info.Type != elf.ET_EXEC && info.Type != elf.ET_DYN {
		return nil, unix.ENOEXEC
	}
	if machine != elf.EM_X86_64 || phentsize != phdrSize {
		return nil, unix.ENOEXEC
	}
	phBytes := uint64(info.Phnum) * phdrSize
	if phBytes == 0 || phBytes > maxPhdrBytes || !inFile(info.Phoff, phBytes, size) {
		return nil, unix.ENOEXEC
	}
	ph := make([]byte, phBytes)
	if err := readFull(f, ph, int64(info.Phoff)); err != nil {
		return nil, unix.ENOEXEC // load_elf_phdrs failing is ENOEXEC
	}
	info.Progs = make([]Prog, info.Phnum)
	for i := range info.Progs {
		b := ph[i*phdrSize:]
		info.Progs[i] = Prog{
			Type:   le.Uint32(b[0:]),
			Flags:  le.Uint32(b[4:]),
			Off:    le.Uint64(b[8:]),
			Vaddr:  le.Uint64(b[16:]),
			Paddr:  le.Uint64(b[24:]),
			Filesz: le.Uint64(b[32:]),
			Memsz:  le.Uint64(b[40:]),
			Align:  le.Uint64(b[48:]),
		}
	}
	var phdrProg *Prog
	for i := range info.Progs {
		p := &info.Progs[i]
		switch elf.ProgType(p.Type) {
		case elf.PT_INTERP:
			if info.HasInterp {
				continue // load_elf_binary uses the first one
			}
			if err := parseInterp(f, p, size, info); err != nil {
				return nil, err
			}
		case elf.PT_GNU_STACK:
			info.ExecStack = elf.ProgFlag(p.Flags)&elf.PF_X != 0
		case elf.PT_PHDR:
			if phdrProg == nil {
				phdrProg = p
			}
		case elf.PT_LOAD:
			if err := checkLoad(p, size); err != nil {
				return nil, err
			}
			if p.Memsz == 0 {
				continue
			}
			if len(info.Loads) == 0 || pageDown(p.Vaddr) < info.Start {
				info.Start = pageDown(p.Vaddr)
			}
			if end := pageUp(p.Vaddr + p.Memsz); end > info.End {
				info.End = end
			}
			info.Loads = append(info.Loads, *p)
		}
	}
	if len(info.Loads) == 0 {
		return nil, unix.ENOEXEC
	}
	if phdrProg != nil {
		info.PhdrAddr, info.HasPhdrAddr = phdrProg.Vaddr, true
	} else {
		// As load_elf_binary computes phdr_addr since Linux 5.18.
		for _, p := range info.Loads {
			if p.Off <= info.Phoff && info.Phoff-p.Off < p.Filesz {
				info.PhdrAddr, info.HasPhdrAddr = info.Phoff-p.Off+p.Vaddr, true
				break
			}
		}
	}
	return info, nil
}

// checkLoad validates one PT_LOAD header as load_elf_binary and elf_map do.
func checkLoad(p *Prog, size int64) error {
	if p.Filesz > p.Memsz || p.Vaddr >= taskSize || p.Memsz > taskSize ||
		taskSize-p.Memsz < p.Vaddr {
		return unix.EINVAL
	}
	if p.Filesz == 0 {
		return nil
	}
	if p.Off%pageSize != p.Vaddr%pageSize {
		return unix.EINVAL // do_mmap refuses the unaligned file offset
	}
	if !inFile(p.Off, p.Filesz, size) {
		return unix.ENOEXEC
	}
	return nil
}

// parseInterp reads the PT_INTERP path with the checks of load_elf_binary:
// 2 <= p_filesz <= PATH_MAX and a terminating NUL.
func parseInterp(f File, p *Prog, size int64, info *ELFInfo) error {
	if p.Filesz < 2 || p.Filesz > pathMax || !inFile(p.Off, p.Filesz, size) {
		return unix.ENOEXEC
	}
	buf := make([]byte, p.Filesz)
	if err := readFull(f, buf, int64(p.Off)); err != nil {
		return err
	}
	if buf[len(buf)-1] != 0 {
		return unix.ENOEXEC
	}
	info.Interp = string(buf[:bytes.IndexByte(buf, 0)])
	info.HasInterp = true
	return nil
}
