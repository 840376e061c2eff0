package loader

import (
	"bytes"
	"debug/elf"
	"encoding/binary"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"kvsentry/platform"
)

// checkArgs validates the layout parameters the sentry passes in.
func checkArgs(a *Args) error {
	if a.StackTop%pageSize != 0 || a.StackSize%pageSize != 0 || a.StackSize == 0 ||
		a.StackSize > a.StackTop || a.StackTop > taskSize || a.ExecBase%pageSize != 0 {
		return unix.EINVAL
	}
	return nil
}

// readHead reads up to BINPRM_BUF_SIZE bytes from the start of f
// (prepare_binprm's kernel_read).
func readHead(f File) ([]byte, error) {
	n := f.Size()
	if n > binprmBufSize {
		n = binprmBufSize
	}
	if n <= 0 {
		return nil, nil
	}
	buf := make([]byte, n)
	if err := readFull(f, buf, 0); err != nil {
		return nil, err
	}
	return buf, nil
}

// openInterp opens and validates the ELF interpreter named by PT_INTERP, as
// load_elf_binary does before the point of no return: a non-ELF or foreign
// interpreter is ELIBBAD, one that is not ET_EXEC/ET_DYN is EINVAL and one
// with bad segments ENOMEM (load_elf_interp). It also returns the resolved
// path, the name of the interpreter's mappings.
func openInterp(open Opener, path string) (File, string, *ELFInfo, error) {
	if path == "" {
		return nil, "", nil, unix.ENOENT
	}
	f, resolved, err := open.OpenExec(path)
	if err != nil {
		return nil, "", nil, err
	}
	info, err := checkInterp(f)
	return f, resolved, info, err
}

// checkInterp validates an opened interpreter; see openInterp.
func checkInterp(f File) (*ELFInfo, error) {
	head, err := readHead(f)
	if err != nil {
		return nil, err
	}
	if len(head) < 4 || !bytes.Equal(head[:4], []byte(elf.ELFMAG)) {
		return nil, unix.ELIBBAD
	}
	if len(head) >= 20 && elf.Machine(binary.LittleEndian.Uint16(head[18:])) != elf.EM_X86_64 {
		return nil, unix.ELIBBAD
	}
	if len(head) >= 18 {
		if t := elf.Type(binary.LittleEndian.Uint16(head[16:])); t != elf.ET_EXEC && t != elf.ET_DYN {
			return nil, unix.EINVAL
		}
	}
	info, err := ParseELF(f)
	switch err {
	case nil:
		return info, nil
	case unix.ENOEXEC:
		return nil, unix.ELIBBAD
	case unix.EINVAL:
		return nil, unix.ENOMEM // load_elf_interp's segment checks say ENOMEM
	}
	return nil, err
}

// Load carries out the binary-loading half of execve(2) into mem, which
// must be an empty address space: it opens a.Path through open, follows up
// to five levels of "#!" scripts (exec_binprm, load_script), loads the ELF
// program and its PT_INTERP interpreter (load_elf_binary), maps the stack
// and writes the initial argc/argv/envp/auxv (create_elf_tables). On error
// mem may hold partial mappings and must be discarded.
func Load(mem Memory, open Opener, a Args) (*Result, error) {
	if err := checkArgs(&a); err != nil {
		return nil, err
	}
	argv := a.Argv
	if len(argv) == 0 {
		argv = []string{""} // do_execveat_common: an empty argv gets ""
	}
	f, exePath, err := open.OpenExec(a.Path)
	if err != nil {
		return nil, err
	}
	// copy_strings runs before any binfmt handler: E2BIG wins over ENOEXEC.
	if err := argLimit(a.StackSize, a.Path, argv, a.Envv); err != nil {
		return nil, err
	}
	filename := a.Path // bprm->interp: what a script's interpreter sees
	for depth := 0; ; depth++ {
		if depth > maxBinfmtDepth {
			return nil, unix.ELOOP
		}
		head, err := readHead(f)
		if err != nil {
			return nil, err
		}
		if len(head) >= 4 && bytes.Equal(head[:4], []byte(elf.ELFMAG)) {
			break
		}
		if len(head) < 2 || head[0] != '#' || head[1] != '!' {
			return nil, unix.ENOEXEC
		}
		name, arg, hasArg, err := parseShebang(head)
		if err != nil {
			return nil, err
		}
		argv = scriptArgv(argv, name, arg, hasArg, filename)
		filename = name
		if f, exePath, err = open.OpenExec(name); err != nil {
			return nil, err
		}
	}
	if err := argLimit(a.StackSize, a.Path, argv, a.Envv); err != nil {
		return nil, err // the rewritten argv of a script
	}
	info, err := ParseELF(f)
	if err != nil {
		return nil, err
	}
	var (
		interpFile File
		interpInfo *ELFInfo
		interpPath string
	)
	if info.HasInterp {
		if interpFile, interpPath, interpInfo, err = openInterp(open, info.Interp); err != nil {
			return nil, err
		}
	}

	// Point of no return (begin_new_exec): build the new address space.
	mem.SetMmapBase(a.MmapBase)
	stackPerms := platform.ReadWrite
	if info.ExecStack {
		stackPerms |= platform.Execute
	}
	stackLow := a.StackTop - a.StackSize
	if _, err := mem.Map(MapRequest{Addr: stackLow, Length: a.StackSize, Perms: stackPerms,
		Private: true, Fixed: true, Name: "[stack]"}); err != nil {
		return nil, err
	}

	base := info.Start // ET_EXEC: bias 0
	if info.Type == elf.ET_DYN {
		base = a.ExecBase // load_bias = ELF_PAGESTART(ELF_ET_DYN_BASE - first vaddr)
	}
	if err := checkSpan(info, base); err != nil {
		return nil, err
	}
	bias := base - info.Start
	elfBrk, err := mapELF(mem, f, info, bias, exePath)
	if err != nil {
		return nil, err
	}
	progEntry := bias + info.Entry
	entry := progEntry
	var interpBias uint64
	if interpInfo != nil {
		ibase := interpInfo.Start
		if interpInfo.Type == elf.ET_DYN {
			if ibase, err = mem.FindUnmapped(interpInfo.End - interpInfo.Start); err != nil {
				return nil, err
			}
		}
		if err := checkSpan(interpInfo, ibase); err != nil {
			return nil, err
		}
		interpBias = ibase - interpInfo.Start
		if _, err := mapELF(mem, interpFile, interpInfo, interpBias, interpPath); err != nil {
			return nil, err
		}
		entry = interpBias + interpInfo.Entry
	}
	if entry >= taskSize {
		return nil, unix.EINVAL // BAD_ADDR(elf_entry)
	}
	brk := pageUp(elfBrk)
	mem.SetBrk(brk)

	var phdr uint64
	if info.HasPhdrAddr {
		phdr = bias + info.PhdrAddr
	}
	img, err := buildStack(a.StackTop, stackLow, stackParams{
		execfn: a.Path, argv: argv, envv: a.Envv, random: a.Random,
		hwcap: a.HWCap, hwcap2: a.HWCap2, minSigStkSz: a.MinSigStkSz,
		phdr: phdr, phnum: uint64(info.Phnum), base: interpBias, entry: progEntry,
		uid: a.UID, euid: a.EUID, gid: a.GID, egid: a.EGID,
	})
	if err != nil {
		return nil, err
	}
	if _, err := mem.CopyOut(img.sp, img.bytes); err != nil {
		return nil, err
	}
	logrus.WithFields(logrus.Fields{
		"exe": exePath, "interp": interpPath, "entry": entry, "sp": img.sp, "brk": brk,
	}).Debug("loader: loaded")
	return &Result{
		Entry: entry, Stack: img.sp, ExePath: exePath, BrkStart: brk, Argv: argv,
		Phdr: phdr, Phnum: uint64(info.Phnum), Base: interpBias, ProgEntry: progEntry,
		Auxv: img.auxv, ArgStart: img.argStart, ArgEnd: img.argEnd,
		EnvStart: img.envStart, EnvEnd: img.envEnd,
	}, nil
}
