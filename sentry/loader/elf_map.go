package loader

import (
	"debug/elf"

	"golang.org/x/sys/unix"

	"kvsentry/platform"
)

// permsOf converts PF_R/PF_W/PF_X into platform access bits (make_prot in
// fs/binfmt_elf.c).
func permsOf(flags uint32) platform.AccessType {
	var a platform.AccessType
	f := elf.ProgFlag(flags)
	if f&elf.PF_R != 0 {
		a |= platform.Read
	}
	if f&elf.PF_W != 0 {
		a |= platform.Write
	}
	if f&elf.PF_X != 0 {
		a |= platform.Execute
	}
	return a
}

// checkSpan verifies that the PT_LOAD span of info, placed so that it
// starts at base, stays below TASK_SIZE (ENOMEM otherwise, as mmap says).
func checkSpan(info *ELFInfo, base uint64) error {
	if base%pageSize != 0 || base >= taskSize || info.End-info.Start > taskSize-base {
		return unix.ENOMEM
	}
	return nil
}

// mapELF maps the PT_LOAD segments of info with load bias bias, as
// load_elf_binary/load_elf_interp do through elf_load: the file part of a
// segment is mapped private from the file with the segment's protections;
// if p_memsz > p_filesz the rest of the last file page is zeroed (padzero,
// writable segments only) and anonymous pages, read/write like brk's (plus
// execute if the segment is executable), cover the remainder. The first
// file mapping is MAP_FIXED_NOREPLACE, later ones MAP_FIXED. It returns the
// end of the highest segment (unaligned), Linux's elf_brk.
func mapELF(mem Memory, f File, info *ELFInfo, bias uint64, name string) (uint64, error) {
	var (
		mapp     Mappable
		dev, ino uint64
		opened   bool
		first    = true
		brk      uint64
	)
	for _, p := range info.Loads {
		prot := permsOf(p.Flags)
		addr := bias + p.Vaddr
		var zeroStart, zeroEnd uint64
		if p.Filesz > 0 {
			if !opened {
				m, d, i, err := f.Mappable()
				if err != nil {
					return 0, err
				}
				mapp, dev, ino, opened = m, d, i, true
			}
			pageOff := p.Vaddr % pageSize
			_, err := mem.Map(MapRequest{
				Addr:      pageDown(addr),
				Length:    pageUp(p.Filesz + pageOff),
				Offset:    p.Off - pageOff,
				Perms:     prot,
				Private:   true,
				Fixed:     true,
				NoReplace: first,
				File:      mapp,
				Name:      name,
				Dev:       dev,
				Ino:       ino,
			})
			if err != nil {
				return 0, err
			}
			first = false
			zeroStart, zeroEnd = addr+p.Filesz, addr+p.Memsz
			if p.Memsz > p.Filesz && prot&platform.Write != 0 {
				if n := zeroStart % pageSize; n != 0 {
					if _, err := mem.ForceCopyOut(zeroStart, make([]byte, pageSize-n)); err != nil {
						return 0, unix.EFAULT
					}
				}
			}
		} else {
			zeroStart, zeroEnd = pageDown(addr), addr+p.Memsz
		}
		if p.Memsz > p.Filesz {
			zs, ze := pageUp(zeroStart), pageUp(zeroEnd)
			if ze > zs {
				anon := platform.ReadWrite
				if prot&platform.Execute != 0 {
					anon |= platform.Execute
				}
				if _, err := mem.Map(MapRequest{Addr: zs, Length: ze - zs, Perms: anon, Private: true, Fixed: true}); err != nil {
					return 0, err
				}
			}
		}
		if end := addr + p.Memsz; end > brk {
			brk = end
		}
	}
	return brk, nil
}
